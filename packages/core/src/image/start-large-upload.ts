import { ulid } from "ulid";
import { AppError, isConditionFailure, toAppError } from "../errors.ts";
import { objectKeys } from "../storage/object-store.ts";
import { answerDuplicate, findDuplicate, type OnDuplicate } from "./check-duplicates.ts";
import { requestHash } from "./create-image.ts";
import { LargeUploadRequest, UserId, type ImageInfo } from "./image.schema.ts";
import { isAcceptedType } from "./processing.ts";
import { readRecord } from "./read-image.ts";
import { toImageInfo, uploadToImageInfo } from "./records.ts";
import { epochSeconds, type StoreContext } from "./store-context.ts";
import { FAILED_RECORD_SECONDS, PENDING_GRACE_SECONDS, readUpload, type UploadRecord } from "./upload-records.ts";
import { parseOrThrow } from "./validate.ts";

/** A replayed start whose link dies sooner than this gets a fresh link. */
const LINK_REFRESH_MARGIN_SECONDS = 60;

export interface PresignedUpload {
  method: "POST";
  url: string;
  fields: Record<string, string>;
  expires_at: string;
  max_bytes: number;
}

export interface LargeUploadStarted {
  image: ImageInfo;
  /** Where to send the file. */
  upload: PresignedUpload;
}

export interface StartOptions {
  /** The client's Idempotency-Key: a retry with it answers what the upload became. */
  idempotencyKey?: string;
  /** A file the owner already has: stored again (the default), refused, or answered with the image there. */
  onDuplicate?: OnDuplicate;
}

/**
 * What a start answered: the upload to make, or an image (a replay of an upload that ended, or
 * the owner's image of the same file, `existing`).
 */
export interface StartOutcome {
  value: LargeUploadStarted | ImageInfo;
  existing: boolean;
}

async function presign(
  ctx: StoreContext,
  key: string,
  contentType: string,
  maxBytes: number,
): Promise<PresignedUpload> {
  const post = await ctx.objects.presignPost(key, {
    contentType,
    maxBytes,
    expiresInSeconds: ctx.config.uploadUrlTtlSeconds,
  });
  return {
    method: "POST",
    url: post.url,
    fields: post.fields,
    expires_at: post.expiresAt.toISOString(),
    max_bytes: maxBytes,
  };
}

/**
 * Files too large for the API go straight to S3: the service hands out a presigned POST for one
 * key and records a pending image; when the object arrives, finish-upload.ts checks it exactly as
 * a direct upload is checked. With a sha256 and `on_duplicate` reject or return, a file the owner
 * already has is answered here, before any byte is sent; finishing checks again with the file's
 * own digest. With an idempotency key, at most once per (user, key), and a replay answers what
 * the upload became (see `replayStart`): the start again, or the image.
 */
export async function startLargeUpload(
  ctx: StoreContext,
  userId: string,
  request: LargeUploadRequest,
  options: StartOptions = {},
): Promise<StartOutcome> {
  const onDuplicate = options.onDuplicate ?? "store";
  if (!options.idempotencyKey) return start(ctx, userId, request, onDuplicate);
  const scope = {
    userId,
    key: options.idempotencyKey,
    requestHash: requestHash("large", JSON.stringify(request), onDuplicate),
  };
  const { value, replayed } = await ctx.once(scope, () => start(ctx, userId, request, onDuplicate));
  if (!replayed || !("upload" in value.value)) return value;
  // A retry may come after the first link died: it must not get a dead link back.
  return { value: await replayStart(ctx, value.value), existing: false };
}

async function start(
  ctx: StoreContext,
  userId: string,
  request: LargeUploadRequest,
  onDuplicate: OnDuplicate,
): Promise<StartOutcome> {
  const { config } = ctx;
  const owner = parseOrThrow(UserId, userId, "user_id");
  const input = parseOrThrow(LargeUploadRequest, request);
  if (!isAcceptedType(input.contentType)) {
    throw new AppError(
      "unsupported_type",
      `content_type ${input.contentType} is not accepted; send JPEG, PNG, WebP, GIF or AVIF`,
    );
  }
  if (input.sizeBytes > config.maxLargeUploadBytes) {
    throw new AppError("too_large", `size_bytes is over the limit of ${config.maxLargeUploadBytes} bytes`);
  }
  if (onDuplicate !== "store" && input.sha256) {
    const existing = await findDuplicate(ctx, owner, input.sha256);
    const answer = existing && (await answerDuplicate(ctx, existing, onDuplicate, owner));
    if (answer) return { value: answer, existing: true };
  }
  await ctx.takeUploadSlot(owner);
  const uploadTime = ctx.now();
  const imageId = `img_${ulid(uploadTime.getTime())}`;
  const key = objectKeys.pendingUpload(imageId);
  const post = await presign(ctx, key, input.contentType, input.sizeBytes);
  const staleAt = epochSeconds(ctx) + config.uploadUrlTtlSeconds + PENDING_GRACE_SECONDS;
  const record: UploadRecord = {
    imageId,
    userId: owner,
    uploadTime: uploadTime.toISOString(),
    title: input.title,
    description: input.description ?? undefined,
    tags: input.tags,
    contentType: input.contentType,
    declaredBytes: input.sizeBytes,
    objectKey: key,
    state: "pending",
    onDuplicate,
    staleAt,
    expiresAt: staleAt + FAILED_RECORD_SECONDS,
  };
  try {
    await ctx.db.entities.upload.create(record).go();
  } catch (error) {
    throw toAppError(error, "recording the upload");
  }
  return { value: { image: uploadToImageInfo(record, config.bucketName), upload: post }, existing: false };
}

/**
 * A replay of a start (same Idempotency-Key): the first answer, told as it stands now. An
 * upload still waiting for its file gets a fresh link when the first one is dead or about to
 * die, and its record lives on with it; one that ended answers its image alone, as a direct
 * upload does (ready, or failed with the reason).
 */
async function replayStart(ctx: StoreContext, first: LargeUploadStarted): Promise<LargeUploadStarted | ImageInfo> {
  const { config } = ctx;
  const uploads = ctx.db.entities.upload;
  const imageId = first.image.image_id;
  const linkAlive = Date.parse(first.upload.expires_at) - ctx.now().getTime() > LINK_REFRESH_MARGIN_SECONDS * 1000;
  const { data } = await uploads
    .get({ imageId })
    .go({ consistent: true })
    .catch((error) => Promise.reject(toAppError(error, "reading the upload")));
  const stored = data as UploadRecord | null;
  const now = epochSeconds(ctx);
  if (stored && stored.state === "pending" && stored.expiresAt >= now) {
    if (linkAlive && (stored.staleAt ?? stored.expiresAt) >= now) return first;
    const post = await presign(ctx, stored.objectKey, stored.contentType, stored.declaredBytes);
    const staleAt = now + config.uploadUrlTtlSeconds + PENDING_GRACE_SECONDS;
    try {
      await uploads
        .patch({ imageId })
        .set({ staleAt, expiresAt: staleAt + FAILED_RECORD_SECONDS })
        .where((attr, op) => op.eq(attr.state, "pending"))
        .go();
      const renewed = { ...stored, staleAt, expiresAt: staleAt + FAILED_RECORD_SECONDS };
      return { image: uploadToImageInfo(renewed, config.bucketName), upload: post };
    } catch (error) {
      // Finished or refused in between: answer what it became.
      if (!isConditionFailure(error)) throw toAppError(error, "renewing the upload link");
    }
  }
  const image = await readRecord(ctx, imageId);
  const ended =
    (image && toImageInfo(image, config.bucketName)) ??
    (await readUpload(ctx, imageId).then((upload) => upload && uploadToImageInfo(upload, config.bucketName)));
  if (!ended) throw new AppError("not_found", "the upload this Idempotency-Key started no longer exists");
  return ended;
}
