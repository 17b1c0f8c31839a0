import { createHash } from "node:crypto";
import { HeadBucketCommand } from "@aws-sdk/client-s3";
import { ulid } from "ulid";
import { createIdempotency } from "../idempotency/idempotency.ts";
import { createUploadRateLimit } from "../limits/upload-rate-limit.ts";
import type { AwsClients } from "../aws/clients.ts";
import type { Config } from "../config.ts";
import { createDb } from "../db/service.ts";
import { commitTransaction } from "../db/transaction.ts";
import { AppError, isConditionFailure, toAppError } from "../errors.ts";
import { createObjectStore, objectKeys } from "../storage/object-store.ts";
import {
  ImageId,
  ImagePatch,
  NewImageMetadata,
  UserId,
  type ImageInfo,
  type ImageWithLinks,
  type LargeUploadRequest,
  type ImagePage,
  type ListFilter,
} from "./image.schema.ts";
import { createLargeUploads, uploadToImageInfo, type LargeUploadStarted } from "./large-uploads.ts";
import { createListing, monthOf } from "./listing.ts";
import { shardOf } from "./listing-shards.ts";
import { createMonthCatalog } from "./month-catalog.ts";
import { createDecodeSlots } from "./decode-slots.ts";
import { createDelivery } from "./delivery.ts";
import { checkImage, normaliseImage } from "./processing.ts";
import { listingFields, objectKeysOf, toImageInfo, type ImageRecord } from "./records.ts";
import { renditionRecords, storeRenditions } from "./renditions.ts";
import { settleAll } from "./settle.ts";
import { parseOrThrow } from "./validate.ts";

export interface ImageStoreDeps {
  config: Config;
  clients: AwsClients;
  now?: () => Date;
  /** Where failures that leave something behind are reported (the store keeps going). */
  log?: (event: string, fields: Record<string, unknown>) => void;
  /** Where finishing a large upload keeps its files while it works; the OS temp folder by default. */
  tempDir?: string;
}

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
}

const DELETION_RECORD_DAYS = 7;
/** A change that lost a race with another change to the same image is tried again this often. */
const CONCURRENT_CHANGE_ATTEMPTS = 3;

const notFound = () => new AppError("not_found", "no such image");

const defaultLog = (event: string, fields: Record<string, unknown>) =>
  console.error(JSON.stringify({ level: "error", event, ...fields }));

/**
 * The image store: every way the service reads and changes images. Bytes go to S3, metadata
 * to DynamoDB; each change is all or nothing to a reader.
 */
export function createImageStore({
  config,
  clients,
  now = () => new Date(),
  log = defaultLog,
  tempDir,
}: ImageStoreDeps) {
  const db = createDb(clients.dynamo, config.tableName);
  const { image, imageDeletion, catalog } = db.entities;
  const objects = createObjectStore(clients.s3, config.bucketName);

  const months = createMonthCatalog(db);
  const deliveryOf = createDelivery(config, objects);

  const listRecords = createListing({
    db,
    dynamo: clients.dynamo,
    cursorSecret: config.cursorSecret,
    now,
    shards: config.listingShards,
    catalog: () => months.read().catch((error) => Promise.reject(toAppError(error, "listing images"))),
  });

  /** A page of images, each with a short-lived link to its thumbnail for a grid to show. */
  async function list(filter: ListFilter): Promise<ImagePage> {
    const page = await listRecords(filter);
    const items = await Promise.all(
      page.items.map(async (record) => ({ ...toImageInfo(record, config.bucketName), ...(await deliveryOf(record)) })),
    );
    return { items, nextCursor: page.nextCursor };
  }

  /** Best effort: objects whose item was never written must not stay behind. */
  async function discardObjects(keys: string[], reason: string): Promise<void> {
    try {
      await objects.deleteMany(keys);
    } catch (error) {
      log("orphaned_objects", { keys, reason, error: String(error) });
    }
  }

  async function readRecord(imageId: string): Promise<ImageRecord | null> {
    if (!ImageId.safeParse(imageId).success) return null;
    try {
      // The hottest read: originalErr spares ElectroDB building an Error (a stack trace) on every
      // call in case one fails; toAppError reads the SDK's error as well as ElectroDB's wrapper.
      const { data } = await image.get({ imageId }).go({ consistent: true, originalErr: true });
      return (data as ImageRecord | null) ?? null;
    } catch (error) {
      throw toAppError(error, "reading the image");
    }
  }

  /** The image if the caller owns it; anyone else is told it does not exist. */
  async function readOwned(imageId: string, callerId: string): Promise<ImageRecord> {
    const record = await readRecord(imageId);
    if (record && record.userId === callerId) return record;
    if (!record && (await readOwnUpload(imageId, callerId))) {
      throw new AppError("conflict", "the image is not ready yet; edit it once its upload has been checked");
    }
    throw notFound();
  }

  /** Runs `attempt` again when it lost a race with another change to the same image. */
  async function withRetryOnRace<T>(what: string, attempt: (attemptNumber: number) => Promise<T>): Promise<T> {
    for (let i = 1; ; i++) {
      try {
        return await attempt(i);
      } catch (error) {
        if (isConditionFailure(error) && i < CONCURRENT_CHANGE_ATTEMPTS) continue;
        if (isConditionFailure(error)) {
          throw new AppError("conflict", `${what}: the image is being changed by another request, try again`);
        }
        throw toAppError(error, what);
      }
    }
  }

  const once = createIdempotency(db, now);
  const takeUploadSlot = createUploadRateLimit(db, config.uploadRateLimitPerMinute, now);
  const withDecodeSlot = createDecodeSlots(config.decodeConcurrency);
  const largeUploads = createLargeUploads({
    db,
    objects,
    config,
    now,
    log,
    takeUploadSlot,
    withDecodeSlot,
    months,
    tempDir,
  });

  const requestHash = (...parts: (string | Uint8Array)[]) => {
    const hash = createHash("sha256");
    for (const part of parts) hash.update(part).update("\0");
    return hash.digest("hex");
  };

  /** Stores a new image; with an idempotency key, at most once per (user, key). */
  async function create(input: CreateImageInput, options: CreateOptions = {}): Promise<ImageInfo> {
    if (!options.idempotencyKey) return createImage(input);
    const hash = requestHash(
      "direct",
      JSON.stringify([input.title, input.description ?? null, input.tags ?? []]),
      input.bytes,
    );
    const scope = { userId: input.userId, key: options.idempotencyKey, requestHash: hash };
    return (await once(scope, () => createImage(input))).value;
  }

  /** Starts an upload straight to S3; with an idempotency key, at most once per (user, key). */
  /**
   * Starts an upload straight to S3; with an idempotency key, at most once per (user, key), and a
   * replay answers what the upload became (see `replayStart`): the start again, or the image.
   */
  function startLargeUpload(userId: string, request: LargeUploadRequest): Promise<LargeUploadStarted>;
  function startLargeUpload(
    userId: string,
    request: LargeUploadRequest,
    options: CreateOptions,
  ): Promise<LargeUploadStarted | ImageInfo>;
  async function startLargeUpload(
    userId: string,
    request: LargeUploadRequest,
    options: CreateOptions = {},
  ): Promise<LargeUploadStarted | ImageInfo> {
    if (!options.idempotencyKey) return largeUploads.start(userId, request);
    const scope = { userId, key: options.idempotencyKey, requestHash: requestHash("large", JSON.stringify(request)) };
    const { value, replayed } = await once(scope, () => largeUploads.start(userId, request));
    if (!replayed) return value;
    // A retry may come after the first link died: it must not get a dead link back.
    return largeUploads.replayStart(value, async (imageId) => {
      const record = await readRecord(imageId);
      return record && toImageInfo(record, config.bucketName);
    });
  }

  /** Answers when both the table and the bucket do. */
  async function health(): Promise<void> {
    try {
      await Promise.all([catalog.get({}).go(), clients.s3.send(new HeadBucketCommand({ Bucket: config.bucketName }))]);
    } catch (error) {
      throw new AppError("unavailable", "storage is not answering", { retryAfterSeconds: 5, cause: error });
    }
  }

  async function createImage(input: CreateImageInput): Promise<ImageInfo> {
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
    // The header alone (type, pixels) is cheap; decoding is not. An upload is counted against the
    // caller's limit once it passed the cheap checks and before any pixel is decoded, so that a
    // refused decode counts too and the limit bounds how much decoding one user can ask for.
    const checked = await checkImage(input.bytes, { maxPixels: config.maxImagePixels });
    await takeUploadSlot(userId);
    const processed = await withDecodeSlot(() => normaliseImage(checked));

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
      revision: 1,
    };
    const keys = objectKeysOf(record);

    try {
      await months.noteMonth(record.month, config.listingShards);
      await settleAll([
        objects.put(record.objectKey, processed.body, processed.contentType),
        storeRenditions(objects, renditions, processed.ladder),
      ]);
    } catch (error) {
      await discardObjects(keys, "upload failed while storing bytes");
      throw toAppError(error, "storing the image");
    }

    try {
      await commitTransaction(
        db.transaction
          .write(({ image: images, imageTag: tags }) => [
            images.create(record).commit(),
            ...record.tags.map((tag) => tags.create({ ...listingFields(record), tag }).commit()),
          ])
          .go(),
      );
    } catch (error) {
      // A timeout can hide a commit that happened: then the bytes belong to the image.
      if (await readRecord(imageId).catch(() => null)) return toImageInfo(record, config.bucketName);
      await discardObjects(keys, "upload failed while saving metadata");
      throw toAppError(error, "saving the image");
    }
    return toImageInfo(record, config.bucketName);
  }

  /** A pending or failed upload, for its owner only; null for anyone else. */
  async function readOwnUpload(imageId: string, viewerId: string | undefined): Promise<ImageInfo | null> {
    if (!viewerId || !ImageId.safeParse(imageId).success) return null;
    const upload = await largeUploads
      .read(imageId)
      .catch((error) => Promise.reject(toAppError(error, "reading the image")));
    return upload && upload.userId === viewerId ? uploadToImageInfo(upload, config.bucketName) : null;
  }

  /** A ready image for anyone; a pending or failed one only for its owner (`viewerId`). */
  async function get(imageId: string, viewerId?: string): Promise<ImageInfo> {
    const found = await readImageOrUpload(imageId, viewerId);
    return "imageId" in found ? toImageInfo(found, config.bucketName) : found;
  }

  /**
   * The image, or else the caller's own upload. Finishing replaces the upload with the image in
   * one transaction; when it lands between the two reads, neither is seen, so the image is read
   * once more before the answer is "no such image".
   */
  async function readImageOrUpload(imageId: string, viewerId?: string): Promise<ImageRecord | ImageInfo> {
    const record = await readRecord(imageId);
    if (record) return record;
    const upload = await readOwnUpload(imageId, viewerId);
    if (upload) return upload;
    const committed = viewerId ? await readRecord(imageId) : null;
    if (committed) return committed;
    throw notFound();
  }

  /** The image with short-lived links to its bytes and thumbnail, served with their real types. */
  async function getWithLinks(imageId: string, viewerId?: string): Promise<ImageWithLinks> {
    const record = await readImageOrUpload(imageId, viewerId);
    if (!("imageId" in record)) {
      const upload = record;
      return {
        ...upload,
        download_url: null,
        download_expires_at: null,
        thumbnail_url: null,
        placeholder: null,
        renditions: [],
      };
    }
    const extension = record.objectKey.slice(record.objectKey.lastIndexOf(".") + 1);
    const [original, delivered] = await Promise.all([
      objects.presignGet(record.objectKey, {
        expiresInSeconds: config.downloadUrlTtlSeconds,
        contentType: record.contentType,
        fileName: `${record.imageId}.${extension}`,
      }),
      deliveryOf(record),
    ]);
    return {
      ...toImageInfo(record, config.bucketName),
      download_url: original.url,
      download_expires_at: original.expiresAt.toISOString(),
      ...delivered,
    };
  }

  async function update(imageId: string, callerId: string, patch: ImagePatch): Promise<ImageInfo> {
    const changes = parseOrThrow(ImagePatch, patch);
    return withRetryOnRace("updating the image", async () => {
      const current = await readOwned(imageId, callerId);
      const next: ImageRecord = {
        ...current,
        title: changes.title ?? current.title,
        description: changes.description === undefined ? current.description : (changes.description ?? undefined),
        tags: changes.tags ?? current.tags,
        revision: current.revision + 1,
      };
      const removedTags = current.tags.filter((tag) => !next.tags.includes(tag));
      await commitTransaction(
        db.transaction
          .write(({ image: images, imageTag: tags }) => {
            const set = images.patch({ imageId }).set({
              title: next.title,
              tags: next.tags,
              revision: next.revision,
              ...(next.description ? { description: next.description } : {}),
            });
            const change = next.description ? set : set.remove(["description"]);
            return [
              change.where((attr, op) => op.eq(attr.revision, current.revision)).commit(),
              ...removedTags.map((tag) => tags.delete({ imageId, tag }).commit()),
              // Every tag item carries the listing's fields, so each is rewritten, not only new ones.
              ...next.tags.map((tag) => tags.put({ ...listingFields(next), tag }).commit()),
            ];
          })
          .go(),
      );
      return toImageInfo(next, config.bucketName);
    });
  }

  /** Removes the bytes named by a deletion record, then the record. */
  async function finishDeletion(imageId: string, keys: string[]): Promise<void> {
    try {
      await objects.deleteMany(keys);
      await imageDeletion.delete({ imageId }).go();
    } catch (error) {
      throw toAppError(error, "deleting the image's files");
    }
  }

  async function remove(imageId: string, callerId: string): Promise<void> {
    const record = await readRecord(imageId);
    if (!record) {
      if (!ImageId.safeParse(imageId).success) throw notFound();
      const discarded = await largeUploads.discard(imageId, callerId);
      if (discarded === "discarded") return;
      // Finishing committed the image while this delete looked: deleting it is an image delete.
      if (discarded === "finished") return remove(imageId, callerId);
      // A delete that failed halfway left a deletion record: a retry by the owner finishes it.
      const pending = await imageDeletion
        .get({ imageId })
        .go({ consistent: true })
        .catch((error) => Promise.reject(toAppError(error, "deleting the image")));
      if (!pending.data || pending.data.userId !== callerId) throw notFound();
      return finishDeletion(imageId, pending.data.objectKeys);
    }
    if (record.userId !== callerId) throw notFound();
    const keys = await withRetryOnRace("deleting the image", async (attemptNumber) => {
      const current = attemptNumber === 1 ? record : await readOwned(imageId, callerId);
      const keys = objectKeysOf(current);
      await commitTransaction(
        db.transaction
          .write(({ image: images, imageTag: tags, imageDeletion: deletions }) => [
            images
              .delete({ imageId })
              .where((attr, op) => op.eq(attr.revision, current.revision))
              .commit(),
            ...current.tags.map((tag) => tags.delete({ imageId, tag }).commit()),
            deletions
              .put({
                imageId,
                userId: current.userId,
                objectKeys: keys,
                expiresAt: Math.floor(now().getTime() / 1000) + DELETION_RECORD_DAYS * 86_400,
              })
              .commit(),
          ])
          .go(),
      );
      return keys;
    });
    await finishDeletion(imageId, keys);
  }

  return {
    create,
    startLargeUpload,
    finishUpload: largeUploads.finish,
    finishWaitingUploads: largeUploads.finishWaiting,
    get,
    getWithLinks,
    list,
    update,
    remove,
    health,
  };
}

export type ImageStore = ReturnType<typeof createImageStore>;
export type { ImagePage };
