import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EntityItem } from "electrodb";
import { ulid } from "ulid";
import type { Config } from "../config.ts";
import type { Db } from "../db/service.ts";
import { commitTransaction } from "../db/transaction.ts";
import { AppError, isAppError, isConditionFailure, toAppError } from "../errors.ts";
import { objectKeys, PENDING_UPLOAD_PREFIX, type ObjectStore } from "../storage/object-store.ts";
import { LargeUploadRequest, UserId, type ImageInfo } from "./image.schema.ts";
import { monthOf } from "./listing.ts";
import { shardOf } from "./listing-shards.ts";
import type { MonthCatalog } from "./month-catalog.ts";
import { ACCEPTED_TYPES, checkImage, encodeWithLadder, isAcceptedType, undecodableData } from "./processing.ts";
import { listingFields, objectKeysOf, type ImageRecord } from "./records.ts";
import { renditionRecords, storeRenditions } from "./renditions.ts";
import { parseOrThrow } from "./validate.ts";

/** After the upload link dies, late S3 events still have this long to be finished. */
const PENDING_GRACE_SECONDS = 3600;
/** How long the owner can read why a failed upload was refused. */
const FAILED_RECORD_SECONDS = 24 * 3600;
/** A replayed start whose link dies sooner than this gets a fresh link. */
const LINK_REFRESH_MARGIN_SECONDS = 60;
const STALE_REASON = "no file arrived, or it could not be checked, before the upload expired; start a new upload";

export interface PresignedUpload {
  method: "POST";
  url: string;
  fields: Record<string, string>;
  expires_at: string;
  max_bytes: number;
}

/** What finishing one S3 object ended in; duplicates and strays change nothing. */
export type FinishOutcome = "ready" | "failed" | "ignored";

/** What discarding an upload found: removed, none of the caller's, or already turned into an image. */
export type DiscardOutcome = "discarded" | "none" | "finished";

export interface LargeUploadStarted {
  image: ImageInfo;
  /** Where to send the file. */
  upload: PresignedUpload;
}

/** An upload record as the entity stores it. */
type UploadRecord = EntityItem<Db["entities"]["upload"]>;

export interface LargeUploadDeps {
  db: Db;
  objects: ObjectStore;
  config: Config;
  now: () => Date;
  log: (event: string, fields: Record<string, unknown>) => void;
  /** Counts the upload against the user's rate limit, or refuses it. */
  takeUploadSlot: (userId: string) => Promise<void>;
  /** Runs a decode when this process has room for one (see decode-slots.ts). */
  withDecodeSlot: <T>(work: () => Promise<T>) => Promise<T>;
  months: MonthCatalog;
  /** Where finishing keeps an upload's files while it works on them; the OS temp folder by default. */
  tempDir?: string;
}

const PENDING_KEY = /^uploads\/(img_[0-9A-HJKMNP-TV-Z]{26})$/;

/** Each finishing run works in a folder of its own under the temp folder, named so. */
const FOLDER_PREFIX = "images-finish-";
/**
 * A run's folder older than this was left by a run that crashed or timed out (the finishing
 * function stops after 2 minutes; the Lambda keeps /tmp for its next invocations).
 */
const STALE_FOLDER_MS = 15 * 60 * 1000;

/** A pending or failed upload in the contract's terms. */
export function uploadToImageInfo(upload: UploadRecord, bucket: string): ImageInfo {
  const extension = isAcceptedType(upload.contentType) ? ACCEPTED_TYPES[upload.contentType].extension : "bin";
  return {
    image_id: upload.imageId,
    user_id: upload.userId,
    title: upload.title,
    description: upload.description ?? null,
    tags: upload.tags,
    upload_time: upload.uploadTime,
    status: upload.state,
    content_type: upload.contentType,
    size_bytes: upload.declaredBytes,
    width: null,
    height: null,
    sha256: null,
    s3_url: `s3://${bucket}/${objectKeys.original(upload.imageId, extension)}`,
    ...(upload.state === "failed" ? { failure_reason: upload.failureReason ?? "the file was refused" } : {}),
  };
}

/**
 * Files too large for the API go straight to S3: the service hands out a presigned POST for
 * one key and records a pending image; when the object arrives, `finish` checks it exactly as
 * a direct upload is checked and turns the image ready, or removes it and keeps the reason.
 */
export function createLargeUploads({
  db,
  objects,
  config,
  now,
  log,
  takeUploadSlot,
  withDecodeSlot,
  months,
  tempDir = tmpdir(),
}: LargeUploadDeps) {
  const { upload: uploads } = db.entities;
  const epochSeconds = () => Math.floor(now().getTime() / 1000);

  async function start(userId: string, request: LargeUploadRequest): Promise<LargeUploadStarted> {
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
    await takeUploadSlot(owner);
    const uploadTime = now();
    const imageId = `img_${ulid(uploadTime.getTime())}`;
    const key = objectKeys.pendingUpload(imageId);
    const post = await presign(key, input.contentType, input.sizeBytes);
    const staleAt = epochSeconds() + config.uploadUrlTtlSeconds + PENDING_GRACE_SECONDS;
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
      staleAt,
      expiresAt: staleAt + FAILED_RECORD_SECONDS,
    };
    try {
      await uploads.create(record).go();
    } catch (error) {
      throw toAppError(error, "recording the upload");
    }
    return { image: uploadToImageInfo(record, config.bucketName), upload: post };
  }

  async function presign(key: string, contentType: string, maxBytes: number): Promise<PresignedUpload> {
    const post = await objects.presignPost(key, {
      contentType,
      maxBytes,
      expiresInSeconds: config.uploadUrlTtlSeconds,
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
   * The upload record if it is still alive; expired ones are ignored before TTL removes them.
   * A pending upload that outlived its link and the grace for late events reads as failed: no
   * file will be finished for it any more (records from before `staleAt` go stale at `expiresAt`).
   */
  async function read(imageId: string): Promise<UploadRecord | null> {
    const { data } = await uploads.get({ imageId }).go({ consistent: true });
    if (!data || data.expiresAt < epochSeconds()) return null;
    const record = data as UploadRecord;
    if (record.state === "pending" && (record.staleAt ?? record.expiresAt) < epochSeconds()) {
      return { ...record, state: "failed", failureKind: "expired", failureReason: STALE_REASON };
    }
    return record;
  }

  /**
   * A replay of a start (same Idempotency-Key): the first answer, told as it stands now. An
   * upload still waiting for its file gets a fresh link when the first one is dead or about to
   * die, and its record lives on with it; one that ended answers its image alone, as a direct
   * upload does (ready, or failed with the reason).
   */
  async function replayStart(
    first: LargeUploadStarted,
    imageInfo: (imageId: string) => Promise<ImageInfo | null>,
  ): Promise<LargeUploadStarted | ImageInfo> {
    const imageId = first.image.image_id;
    const linkAlive = Date.parse(first.upload.expires_at) - now().getTime() > LINK_REFRESH_MARGIN_SECONDS * 1000;
    const { data } = await uploads
      .get({ imageId })
      .go({ consistent: true })
      .catch((error) => Promise.reject(toAppError(error, "reading the upload")));
    const stored = data as UploadRecord | null;
    if (stored && stored.state === "pending" && stored.expiresAt >= epochSeconds()) {
      if (linkAlive && (stored.staleAt ?? stored.expiresAt) >= epochSeconds()) return first;
      const post = await presign(stored.objectKey, stored.contentType, stored.declaredBytes);
      const staleAt = epochSeconds() + config.uploadUrlTtlSeconds + PENDING_GRACE_SECONDS;
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
    const ended =
      (await imageInfo(imageId)) ??
      (await read(imageId).then((upload) => upload && uploadToImageInfo(upload, config.bucketName)));
    if (!ended) throw new AppError("not_found", "the upload this Idempotency-Key started no longer exists");
    return ended;
  }

  async function markFailed(upload: UploadRecord, error: AppError): Promise<void> {
    await objects.deleteMany([upload.objectKey]);
    await uploads
      .patch({ imageId: upload.imageId })
      .set({
        state: "failed",
        failureKind: error.kind,
        failureReason: error.message,
        expiresAt: epochSeconds() + FAILED_RECORD_SECONDS,
      })
      .where((attr, op) => op.eq(attr.state, "pending"))
      .go()
      .catch((failure: unknown) => {
        if (!isConditionFailure(failure)) throw failure;
      });
  }

  /**
   * Checks the object at `key` as a direct upload is checked and stores it re-encoded, upright,
   * with its thumbnail; null when the object is gone. The steps run one after the other, on files
   * in `folder`, so that no two of them hold memory at once: the object is streamed into a file,
   * libvips checks that file's header, then re-encodes it into another file (it maps the file it
   * reads and decodes it in strips; no byte of the picture reaches JavaScript), then the
   * thumbnail is made (shrunk on load), and last the re-encoded file is hashed and sent in parts.
   */
  async function storeNormalised(key: string, folder: string, upload: UploadRecord) {
    const original = join(folder, "original");
    if (!(await objects.downloadToFile(key, original))) return null;
    const image = await checkImage(original, { maxPixels: config.maxImagePixels });
    if (image.contentType !== upload.contentType) {
      throw new AppError(
        "unsupported_type",
        `the file is ${image.contentType}, not the declared ${upload.contentType}`,
      );
    }
    const normalised = join(folder, `normalised.${image.extension}`);
    const [encoded, ladder] = await withDecodeSlot(() =>
      encodeWithLadder(image, () =>
        image
          .encode()
          .toFile(normalised)
          .catch((error: unknown) => Promise.reject(undecodableData(error))),
      ),
    );
    const { width, height, pageHeight } = encoded;
    const hash = createHash("sha256");
    let size = 0;
    for await (const chunk of createReadStream(normalised) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
    }
    // Keys of this run's own: two files posted to one link a moment apart are finished by two
    // runs at once, and neither may overwrite what the other's commit will name.
    const version = ulid().slice(-10).toLowerCase();
    const storedKey = objectKeys.original(upload.imageId, image.extension, version);
    const renditions = renditionRecords(upload.imageId, ladder, version);
    const keys = [storedKey, ...renditions.map((rendition) => rendition.key)];
    const cleanUp = () => objects.deleteMany(keys).catch(() => undefined);
    const body = createReadStream(normalised);
    try {
      await objects.putStream(storedKey, body, image.contentType);
    } catch (error) {
      await cleanUp();
      throw toAppError(error, "storing the image");
    } finally {
      body.destroy();
    }
    try {
      await storeRenditions(objects, renditions, ladder);
    } catch (error) {
      await cleanUp();
      throw toAppError(error, "storing the renditions");
    }
    return {
      key: storedKey,
      keys,
      renditions,
      placeholder: ladder.placeholder,
      contentType: image.contentType,
      width,
      height: pageHeight ?? height,
      size,
      sha256: hash.digest("hex"),
    };
  }

  /** Removes finishing folders that outlived any run; never fails the run that sweeps. */
  async function sweepStaleFolders(): Promise<void> {
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
          log("upload_files_left", { folder, error: String(error) }),
        );
      }
    }
  }

  /**
   * Finishes the object S3 reported at `key`: at least once, maybe late, maybe twice. Only a
   * pending upload's own object is checked; anything else under the prefix is removed.
   */
  async function finish(key: string): Promise<FinishOutcome> {
    const imageId = PENDING_KEY.exec(key)?.[1];
    if (!imageId) {
      log("upload_key_ignored", { key });
      return "ignored";
    }
    try {
      const upload = await read(imageId);
      const size = await objects.size(key);
      if (size === null) return "ignored"; // Already finished or removed: a duplicate event.
      if (!upload || upload.state !== "pending") {
        await objects.deleteMany([key]); // Late, expired or already refused: nothing may stay.
        return "ignored";
      }
      const limit = Math.min(upload.declaredBytes, config.maxLargeUploadBytes);
      if (size > limit) {
        await markFailed(
          upload,
          new AppError("too_large", `the file is ${size} bytes, more than the ${limit} declared`),
        );
        return "failed";
      }
      await months.noteMonth(monthOf(upload.uploadTime), config.listingShards);
      // Lambda keeps /tmp between invocations: the folder goes whatever happens in it, and what a
      // crashed run left is swept by the next one.
      await sweepStaleFolders();
      const folder = await mkdtemp(join(tempDir, FOLDER_PREFIX));
      let stored: Awaited<ReturnType<typeof storeNormalised>>;
      try {
        stored = await storeNormalised(key, folder, upload);
      } catch (error) {
        if (!isAppError(error) || error.kind === "unavailable") throw error;
        await markFailed(upload, error);
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
        revision: 1,
      };
      try {
        await commitTransaction(
          db.transaction
            .write(({ image, imageTag, upload: pending }) => [
              pending
                .delete({ imageId })
                .where((attr, op) => op.eq(attr.state, "pending"))
                .commit(),
              image.create(record).commit(),
              ...record.tags.map((tag) => imageTag.create({ ...listingFields(record), tag }).commit()),
            ])
            .go(),
        );
      } catch (error) {
        // The image may exist all the same: another run finished first (a duplicate event, or a
        // second file posted to the same link), or our commit happened and only its answer was lost.
        const committed = (await db.entities.image.get({ imageId }).go({ consistent: true })).data;
        if (committed?.objectKey !== stored.key) {
          // Not ours: this run's files go, and the record names the winner's.
          await objects.deleteMany(stored.keys);
          if (committed) return "ignored";
          if (!isConditionFailure(error)) throw error; // A failure: the event is tried again.
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
  async function finishWaiting(): Promise<Record<string, FinishOutcome | "error">> {
    const keys = await objects
      .listKeys(PENDING_UPLOAD_PREFIX)
      .catch((error) => Promise.reject(toAppError(error, "listing uploads")));
    const outcomes: Record<string, FinishOutcome | "error"> = {};
    for (const key of keys) {
      outcomes[key] = await finish(key).catch((error: unknown) => {
        log("upload_finish_failed", { key, error: String(error) });
        return "error" as const;
      });
    }
    return outcomes;
  }

  /**
   * Removes a pending or failed upload of the caller's. The record goes first, on the condition
   * that it is still there: that is the commit point a finishing run races against (its own
   * commit needs the record pending), so exactly one of them wins. "finished" means the finishing
   * step won: the image exists now, and deleting it is the image's own delete.
   */
  async function discard(imageId: string, callerId: string): Promise<DiscardOutcome> {
    const upload = await read(imageId).catch((error) => Promise.reject(toAppError(error, "deleting the upload")));
    if (!upload || upload.userId !== callerId) return "none";
    try {
      await uploads
        .delete({ imageId })
        .where((attr, op) => op.eq(attr.userId, callerId))
        .go();
    } catch (error) {
      if (isConditionFailure(error)) return "finished";
      throw toAppError(error, "deleting the upload");
    }
    // The record is gone, so no run can commit this file any more; a failure here leaves only
    // bytes under the pending prefix, which the bucket's lifecycle rule clears.
    await objects
      .deleteMany([upload.objectKey])
      .catch((error: unknown) =>
        log("orphaned_objects", { keys: [upload.objectKey], reason: "discarding an upload", error: String(error) }),
      );
    return "discarded";
  }

  return { start, replayStart, finish, finishWaiting, read, discard };
}
