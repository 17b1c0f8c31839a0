import { createHash } from "node:crypto";
import { ulid } from "ulid";
import { commitTransaction } from "../db/transaction.ts";
import { AppError, isConditionFailure, toAppError } from "../errors.ts";
import { objectKeys } from "../storage/object-store.ts";
import { readCaptureTime } from "./capture-time.ts";
import { answerDuplicate, findDuplicate, type OnDuplicate } from "./check-duplicates.ts";
import { NewImageMetadata, UserId, type ImageInfo } from "./image.schema.ts";
import { monthOf } from "./listing.ts";
import { shardOf } from "./listing-shards.ts";
import { checkImage, normaliseImage } from "./processing.ts";
import { committedRecord } from "./read-image.ts";
import { listingFields, objectKeysOf, toImageInfo, type ImageRecord } from "./records.ts";
import { renditionRecords, storeRenditions } from "./renditions.ts";
import { settleAll } from "./settle.ts";
import { discardStaged, stageObjects, type StagedRun } from "./staged-objects.ts";
import type { StoreContext } from "./store-context.ts";
import { parseOrThrow } from "./validate.ts";

export interface CreateImageInput {
  userId: string;
  title: string;
  description?: string | null;
  tags?: string[];
  bytes: Uint8Array;
  /** For imports and test data only; uploads take the server's clock. */
  uploadTime?: Date;
}

export interface CreateOptions {
  /** The client's Idempotency-Key: a retry with it returns the first answer and stores nothing twice. */
  idempotencyKey?: string;
  /** A file the owner already has: stored again (the default), refused, or answered with the image there. */
  onDuplicate?: OnDuplicate;
}

/** What an upload ended in: the image, and whether it was already there (on_duplicate=return). */
export interface CreateOutcome {
  image: ImageInfo;
  existing: boolean;
}

/** A digest of everything a request asked for, so an Idempotency-Key cannot be reused for another. */
export const requestHash = (...parts: (string | Uint8Array)[]) => {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part).update("\0");
  return hash.digest("hex");
};

/** Stores a new image; with an idempotency key, at most once per (user, key). */
export async function createImage(
  ctx: StoreContext,
  input: CreateImageInput,
  options: CreateOptions = {},
): Promise<CreateOutcome> {
  const onDuplicate = options.onDuplicate ?? "store";
  if (!options.idempotencyKey) return storeImage(ctx, input, onDuplicate);
  const hash = requestHash(
    "direct",
    JSON.stringify([input.title, input.description ?? null, input.tags ?? [], onDuplicate]),
    input.bytes,
  );
  const scope = { userId: input.userId, key: options.idempotencyKey, requestHash: hash };
  return (await ctx.once(scope, () => storeImage(ctx, input, onDuplicate))).value;
}

async function storeImage(
  ctx: StoreContext,
  input: CreateImageInput,
  onDuplicate: OnDuplicate,
): Promise<CreateOutcome> {
  const { config, db, objects, months, now } = ctx;
  const userId = parseOrThrow(UserId, input.userId, "user_id");
  const metadata = parseOrThrow(NewImageMetadata, {
    title: input.title,
    description: input.description,
    tags: input.tags,
  });
  if (input.bytes.byteLength === 0) {
    throw new AppError("invalid", "file: is empty", { issues: [{ path: "file", message: "is empty" }] });
  }
  if (input.bytes.byteLength > config.maxDirectUploadBytes) {
    throw new AppError(
      "too_large",
      `the file is ${input.bytes.byteLength} bytes, over the ${+(config.maxDirectUploadBytes / 2 ** 20).toFixed(2)} MiB a direct upload takes: send it in the JSON mode (application/json with its content_type and size_bytes, then the presigned POST it answers)`,
    );
  }
  // The file as sent: what a client hashes before it asks POST /images/check.
  const uploadedSha256 = createHash("sha256").update(input.bytes).digest("hex");
  if (onDuplicate !== "store") {
    const existing = await findDuplicate(ctx, userId, uploadedSha256);
    const answer = existing && (await answerDuplicate(ctx, existing, onDuplicate, userId));
    if (answer) return { image: answer, existing: true };
  }
  // The header alone (type, pixels) is cheap; decoding is not. An upload is counted against the
  // caller's limit once it passed the cheap checks and before any pixel is decoded, so that a
  // refused decode counts too and the limit bounds how much decoding one user can ask for.
  const checked = await checkImage(input.bytes, { maxPixels: config.maxImagePixels });
  await ctx.takeUploadSlot(userId);
  // Read before normalising strips the metadata; nothing else of it is kept.
  const takenAt = await readCaptureTime(input.bytes, now());
  const processed = await ctx.withDecodeSlot(() => normaliseImage(checked));

  const uploadTime = input.uploadTime ?? now();
  const imageId = `img_${ulid(uploadTime.getTime())}`;
  const renditions = renditionRecords(imageId, processed.ladder);
  const record: ImageRecord = {
    imageId,
    userId,
    uploadTime: uploadTime.toISOString(),
    month: monthOf(uploadTime.toISOString()),
    shard: shardOf(imageId, config.listingShards),
    title: metadata.title,
    description: metadata.description ?? undefined,
    tags: metadata.tags,
    contentType: processed.contentType,
    sizeBytes: processed.body.byteLength,
    width: processed.width,
    height: processed.height,
    sha256: processed.sha256,
    objectKey: objectKeys.original(imageId, processed.extension),
    // The grid's picture is the smallest rendition.
    thumbnailKey: renditions[0]!.key,
    renditions,
    placeholder: processed.ladder.placeholder,
    takenAt: takenAt ?? undefined,
    uploadedSha256,
    revision: 1,
  };
  const staged: StagedRun = { imageId, run: "direct", keys: objectKeysOf(record) };

  try {
    await settleAll([months.noteMonth(record.month, config.listingShards), stageObjects(ctx, staged)]);
    await settleAll([
      objects.put(record.objectKey, processed.body, processed.contentType),
      storeRenditions(objects, renditions, processed.ladder),
    ]);
  } catch (error) {
    await discardStaged(ctx, staged, "upload failed while storing bytes");
    throw toAppError(error, "storing the image");
  }

  try {
    await commitTransaction(
      db.transaction
        .write(({ image: images, imageTag: tags, digest: digests, stagedObjects }) => {
          const noted = digests.update({ userId, sha256: uploadedSha256 }).add({ imageIds: [imageId] });
          return [
            images.create(record).commit(),
            ...record.tags.map((tag) => tags.create({ ...listingFields(record), tag }).commit()),
            // The objects are the image's from here on: nothing may purge them.
            stagedObjects.delete({ imageId, run: staged.run }).commit(),
            // Refusing or answering duplicates: only while no image of this file is there, or two
            // uploads of one file at once could both pass the look-up above.
            (onDuplicate === "store" ? noted : noted.where((attr, op) => op.notExists(attr.imageIds))).commit(),
          ];
        })
        .go(),
    );
  } catch (error) {
    // A timeout can hide a commit that happened: then the bytes belong to the image. When that
    // cannot be told (the confirming reads fail too), the bytes stay: if the commit happened it
    // removed the staged record and they are the image's; if not, the record's TTL purges them.
    const committed = await committedRecord(ctx, imageId).catch(() => undefined);
    if (committed === undefined) throw toAppError(error, "saving the image");
    if (committed) return { image: toImageInfo(committed, config.bucketName), existing: false };
    await discardStaged(ctx, staged, "upload failed while saving metadata");
    if (isConditionFailure(error)) {
      // Another upload of the same file committed first.
      const existing = await findDuplicate(ctx, userId, uploadedSha256);
      const answer = existing && (await answerDuplicate(ctx, existing, onDuplicate, userId));
      if (answer) return { image: answer, existing: true };
      throw new AppError("conflict", "saving the image: the same file was being stored by another request, try again");
    }
    throw toAppError(error, "saving the image");
  }
  return { image: toImageInfo(record, config.bucketName), existing: false };
}
