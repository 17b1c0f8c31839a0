import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ulid } from "ulid";
import { commitTransaction } from "../db/transaction.ts";
import { AppError, isAppError, isConditionFailure, toAppError } from "../errors.ts";
import { objectKeys, PENDING_UPLOAD_PREFIX, pendingUploadImageId } from "../storage/object-store.ts";
import { readCaptureTime } from "./capture-time.ts";
import { duplicateRefused, findDuplicate } from "./check-duplicates.ts";
import { monthOf } from "./listing.ts";
import { shardOf } from "./listing-shards.ts";
import { checkImage, encodeWithLadder, undecodableData } from "./processing.ts";
import { committedRecord } from "./read-image.ts";
import { listingFields, type ImageRecord } from "./records.ts";
import { renditionRecords, storeRenditions } from "./renditions.ts";
import { discardStaged, stageObjects, type StagedRun } from "./staged-objects.ts";
import { epochSeconds, type StoreContext } from "./store-context.ts";
import { FAILED_RECORD_SECONDS, readUpload, type UploadRecord } from "./upload-records.ts";

/** What finishing one S3 object ended in; duplicates and strays change nothing. */
export type FinishOutcome = "ready" | "failed" | "ignored";

/** Each finishing run works in a folder of its own under the temp folder, named so. */
const FOLDER_PREFIX = "images-finish-";
/**
 * A run's folder older than this was left by a run that crashed or timed out (the finishing
 * function stops after 2 minutes; the Lambda keeps /tmp for its next invocations).
 */
const STALE_FOLDER_MS = 15 * 60 * 1000;

/** The sha256 of a file on disk, read in a stream. */
async function sha256OfFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest("hex"), size };
}

async function markFailed(ctx: StoreContext, upload: UploadRecord, error: AppError): Promise<void> {
  await ctx.objects.deleteMany([upload.objectKey]);
  await ctx.db.entities.upload
    .patch({ imageId: upload.imageId })
    .set({
      state: "failed",
      failureKind: error.kind,
      failureReason: error.message,
      expiresAt: epochSeconds(ctx) + FAILED_RECORD_SECONDS,
    })
    .where((attr, op) => op.eq(attr.state, "pending"))
    .go()
    .catch((failure: unknown) => {
      if (!isConditionFailure(failure)) throw failure;
    });
}

/** A file the owner already has, when the upload asked to refuse or answer duplicates. */
const refusesDuplicates = (upload: UploadRecord) => upload.onDuplicate === "reject" || upload.onDuplicate === "return";

/**
 * Checks the object at `key` as a direct upload is checked and stores it re-encoded, upright,
 * with its thumbnail; null when the object is gone. The steps run one after the other, on files
 * in `folder`, so that no two of them hold memory at once: the object is streamed into a file,
 * hashed as sent (the duplicate check) and its capture time read, libvips checks that file's
 * header, then re-encodes it into another file (it maps the file it reads and decodes it in
 * strips; no byte of the picture reaches JavaScript), then the thumbnail is made (shrunk on
 * load), and last the re-encoded file is hashed and sent in parts.
 */
async function storeNormalised(ctx: StoreContext, key: string, folder: string, upload: UploadRecord) {
  const { config, objects } = ctx;
  const original = join(folder, "original");
  if (!(await objects.downloadToFile(key, original))) return null;
  const uploaded = await sha256OfFile(original);
  if (refusesDuplicates(upload)) {
    const existing = await findDuplicate(ctx, upload.userId, uploaded.sha256);
    if (existing) throw duplicateRefused(existing);
  }
  const image = await checkImage(original, { maxPixels: config.maxImagePixels });
  if (image.contentType !== upload.contentType) {
    throw new AppError("unsupported_type", `the file is ${image.contentType}, not the declared ${upload.contentType}`);
  }
  // Read before re-encoding strips the metadata; nothing else of it is kept.
  const takenAt = await readCaptureTime(original, ctx.now());
  const normalised = join(folder, `normalised.${image.extension}`);
  const [encoded, ladder] = await ctx.withDecodeSlot(() =>
    encodeWithLadder(image, () =>
      image
        .encode()
        .toFile(normalised)
        .catch((error: unknown) => Promise.reject(undecodableData(error))),
    ),
  );
  const { width, height, pageHeight } = encoded;
  const stored = await sha256OfFile(normalised);
  // Keys of this run's own: two files posted to one link a moment apart are finished by two
  // runs at once, and neither may overwrite what the other's commit will name.
  const version = ulid().slice(-10).toLowerCase();
  const storedKey = objectKeys.original(upload.imageId, image.extension, version);
  const renditions = renditionRecords(upload.imageId, ladder, version);
  const staged: StagedRun = {
    imageId: upload.imageId,
    run: version,
    keys: [storedKey, ...renditions.map((rendition) => rendition.key)],
  };
  await stageObjects(ctx, staged);
  const body = createReadStream(normalised);
  try {
    await objects.putStream(storedKey, body, image.contentType);
  } catch (error) {
    await discardStaged(ctx, staged, "finishing an upload failed while storing the image");
    throw toAppError(error, "storing the image");
  } finally {
    body.destroy();
  }
  try {
    await storeRenditions(objects, renditions, ladder);
  } catch (error) {
    await discardStaged(ctx, staged, "finishing an upload failed while storing the renditions");
    throw toAppError(error, "storing the renditions");
  }
  return {
    key: storedKey,
    staged,
    renditions,
    placeholder: ladder.placeholder,
    contentType: image.contentType,
    width,
    height: pageHeight ?? height,
    size: stored.size,
    sha256: stored.sha256,
    uploadedSha256: uploaded.sha256,
    takenAt,
  };
}

/** Removes finishing folders that outlived any run; never fails the run that sweeps. */
async function sweepStaleFolders(ctx: StoreContext, tempDir: string): Promise<void> {
  const names = await readdir(tempDir).catch(() => [] as string[]);
  const limit = Date.now() - STALE_FOLDER_MS;
  for (const name of names.filter((entry) => entry.startsWith(FOLDER_PREFIX))) {
    const folder = join(tempDir, name);
    const changed = await stat(folder).then(
      (info) => info.mtimeMs,
      () => Number.POSITIVE_INFINITY,
    );
    if (changed < limit) {
      await rm(folder, { recursive: true, force: true }).catch((error: unknown) =>
        ctx.log("upload_files_left", { folder, error: String(error) }),
      );
    }
  }
}

/**
 * Finishes the object S3 reported at `key`: at least once, maybe late, maybe twice. Only a
 * pending upload's own object is checked; anything else under the prefix is removed.
 */
export async function finishUpload(ctx: StoreContext, key: string): Promise<FinishOutcome> {
  const { config, db, objects, log } = ctx;
  const tempDir = ctx.tempDir ?? tmpdir();
  const imageId = pendingUploadImageId(key);
  if (!imageId) {
    log("upload_key_ignored", { key });
    return "ignored";
  }
  try {
    const upload = await readUpload(ctx, imageId);
    const size = await objects.size(key);
    if (size === null) return "ignored"; // Already finished or removed: a duplicate event.
    // The key the upload was given, in the layout of its day: a file at any other is a stray.
    if (!upload || upload.state !== "pending" || upload.objectKey !== key) {
      await objects.deleteMany([key]); // Late, expired, already refused or misplaced: nothing may stay.
      return "ignored";
    }
    const limit = Math.min(upload.declaredBytes, config.maxLargeUploadBytes);
    if (size > limit) {
      await markFailed(
        ctx,
        upload,
        new AppError("too_large", `the file is ${size} bytes, more than the ${limit} declared`),
      );
      return "failed";
    }
    await ctx.months.noteMonth(monthOf(upload.uploadTime), config.listingShards);
    // Lambda keeps /tmp between invocations: the folder goes whatever happens in it, and what a
    // crashed run left is swept by the next one.
    await sweepStaleFolders(ctx, tempDir);
    const folder = await mkdtemp(join(tempDir, FOLDER_PREFIX));
    let stored: Awaited<ReturnType<typeof storeNormalised>>;
    try {
      stored = await storeNormalised(ctx, key, folder, upload);
    } catch (error) {
      if (!isAppError(error) || error.kind === "unavailable") throw error;
      await markFailed(ctx, upload, error);
      return "failed";
    } finally {
      await rm(folder, { recursive: true, force: true }).catch((error: unknown) =>
        log("upload_files_left", { folder, error: String(error) }),
      );
    }
    if (stored === null) return "ignored"; // Removed since: another run of this event got there first.
    const record: ImageRecord = {
      imageId,
      userId: upload.userId,
      uploadTime: upload.uploadTime,
      month: monthOf(upload.uploadTime),
      shard: shardOf(imageId, config.listingShards),
      title: upload.title,
      description: upload.description,
      tags: upload.tags,
      contentType: stored.contentType,
      sizeBytes: stored.size,
      width: stored.width,
      height: stored.height,
      sha256: stored.sha256,
      objectKey: stored.key,
      thumbnailKey: stored.renditions[0]!.key,
      renditions: stored.renditions,
      placeholder: stored.placeholder,
      takenAt: stored.takenAt ?? undefined,
      uploadedSha256: stored.uploadedSha256,
      revision: 1,
    };
    try {
      await commitTransaction(
        db.transaction
          .write(({ image, imageTag, upload: pending, digest, stagedObjects }) => {
            const noted = digest
              .update({ userId: upload.userId, sha256: stored.uploadedSha256 })
              .add({ imageIds: [imageId] });
            return [
              pending
                .delete({ imageId })
                .where((attr, op) => op.eq(attr.state, "pending"))
                .commit(),
              image.create(record).commit(),
              ...record.tags.map((tag) => imageTag.create({ ...listingFields(record), tag }).commit()),
              // This run's objects are the image's from here on: nothing may purge them.
              stagedObjects.delete({ imageId, run: stored.staged.run }).commit(),
              // Refusing duplicates: only while no image of this file is there (two uploads of one file at once).
              (refusesDuplicates(upload) ? noted.where((attr, op) => op.notExists(attr.imageIds)) : noted).commit(),
            ];
          })
          .go(),
      );
    } catch (error) {
      // The image may exist all the same: another run finished first (a duplicate event, or a
      // second file posted to the same link), or our commit happened and only its answer was lost.
      // When that cannot be told (the confirming reads fail too), this run's files stay and the
      // event is tried again: if the commit happened they are the image's, and if not, the
      // staged record's TTL purges them.
      const committed = await committedRecord(ctx, imageId);
      if (committed?.objectKey !== stored.key) {
        // Not ours: this run's files go, and the record names the winner's.
        await discardStaged(ctx, stored.staged, "finishing an upload whose commit failed or lost");
        if (committed) return "ignored";
        if (!isConditionFailure(error)) throw error; // A failure: the event is tried again.
        const still = await readUpload(ctx, imageId);
        if (still?.state === "pending" && refusesDuplicates(still)) {
          // The same file was stored by another upload meanwhile: this one is refused as a duplicate.
          const existing = await findDuplicate(ctx, upload.userId, stored.uploadedSha256);
          if (existing) {
            await markFailed(ctx, still, duplicateRefused(existing));
            return "failed";
          }
        }
        // The upload was discarded while this run worked: its posted file goes too.
        await objects.deleteMany([key]);
        return "ignored";
      }
    }
    await objects.deleteMany([key]);
    return "ready";
  } catch (error) {
    throw toAppError(error, "finishing the upload");
  }
}

/**
 * Finishes every file waiting under the pending prefix, for places where no bucket event
 * does (LocalStack without a function subscribed): finishing is idempotent, so a sweep is safe.
 */
export async function finishWaitingUploads(ctx: StoreContext): Promise<Record<string, FinishOutcome | "error">> {
  const keys = await ctx.objects
    .listKeys(PENDING_UPLOAD_PREFIX)
    .catch((error) => Promise.reject(toAppError(error, "listing uploads")));
  const outcomes: Record<string, FinishOutcome | "error"> = {};
  for (const key of keys) {
    outcomes[key] = await finishUpload(ctx, key).catch((error: unknown) => {
      ctx.log("upload_finish_failed", { key, error: String(error) });
      return "error" as const;
    });
  }
  return outcomes;
}
