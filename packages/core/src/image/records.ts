import type { EntityItem } from "electrodb";
import type { Db } from "../db/service.ts";
import { objectKeys } from "../storage/object-store.ts";
import type { ImageInfo } from "./image.schema.ts";
import { ACCEPTED_TYPES, isAcceptedType } from "./processing.ts";

/** The fields every listing item carries, as the entities store them. */
export interface ListingRecord {
  imageId: string;
  userId: string;
  uploadTime: string;
  title: string;
  description?: string;
  tags: string[];
  contentType: string;
  sizeBytes: number;
  width: number;
  height: number;
  sha256: string;
  objectKey: string;
  thumbnailKey?: string;
  /** The size ladder, smallest first; absent on images stored before it. */
  renditions?: RenditionRecord[];
  placeholder?: string;
  /** ISO 8601, from EXIF (capture-time.ts). */
  takenAt?: string;
}

/** One stored rendition (renditions.ts makes and stores them). */
export interface RenditionRecord {
  width: number;
  height: number;
  key: string;
  sizeBytes: number;
}

/**
 * A stored image in the contract's terms: ready, or trashed with when it was and when it will be
 * purged (only the image item can be trashed; listing records are ready images).
 */
export function toImageInfo(record: ListingRecord & Partial<TrashFields>, bucket: string): ImageInfo {
  const info: ImageInfo = {
    image_id: record.imageId,
    user_id: record.userId,
    title: record.title,
    description: record.description ?? null,
    tags: record.tags,
    upload_time: record.uploadTime,
    status: "ready",
    content_type: record.contentType,
    size_bytes: record.sizeBytes,
    width: record.width,
    height: record.height,
    sha256: record.sha256,
    s3_url: `s3://${bucket}/${record.objectKey}`,
    taken_at: record.takenAt ?? null,
  };
  if (record.trashedAt === undefined) return info;
  return {
    ...info,
    status: "trashed",
    trashed_at: record.trashedAt,
    ...(record.expiresAt !== undefined ? { purge_at: new Date(record.expiresAt * 1000).toISOString() } : {}),
  };
}

/** What a trashed image item carries beside its fields (trash-image.ts). */
export interface TrashFields {
  /** When it was trashed (ISO 8601). */
  trashedAt: string;
  /** The table's TTL attribute, epoch seconds: when the purge comes. */
  expiresAt: number;
}

/** The image item: the listing fields plus what only the image itself keeps. */
export interface ImageRecord extends ListingRecord, Partial<TrashFields> {
  month: string;
  /** Its write shard in the month's and each tag's listing partitions (listing-shards.ts). */
  shard: number;
  revision: number;
  /** The sha256 of the file as uploaded; absent on images stored before duplicates were tracked. */
  uploadedSha256?: string;
}

/** The composites of the image's listing index keys: what a change of `trashedAt` rebuilds them from. */
export const listingKeyFields = (record: ImageRecord) => ({
  userId: record.userId,
  month: record.month,
  shard: record.shard,
  uploadTime: record.uploadTime,
});

/** What a tag item copies from its image: the listing's fields and the image's shard. */
export const listingFields = (record: ImageRecord): ListingRecord & { shard: number } => ({
  shard: record.shard,
  imageId: record.imageId,
  userId: record.userId,
  uploadTime: record.uploadTime,
  title: record.title,
  description: record.description,
  tags: record.tags,
  contentType: record.contentType,
  sizeBytes: record.sizeBytes,
  width: record.width,
  height: record.height,
  sha256: record.sha256,
  objectKey: record.objectKey,
  thumbnailKey: record.thumbnailKey,
  renditions: record.renditions,
  placeholder: record.placeholder,
  takenAt: record.takenAt,
});

/** Every object an image's record names. */
export const objectKeysOf = (record: ListingRecord): string[] => [
  ...new Set([
    record.objectKey,
    ...(record.thumbnailKey ? [record.thumbnailKey] : []),
    ...(record.renditions ?? []).map((rendition) => rendition.key),
  ]),
];

/** An upload record as the entity stores it. */
export type UploadRecord = EntityItem<Db["entities"]["upload"]>;

/** A pending or failed upload in the contract's terms (processing.ts loads sharp only when it decodes). */
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
    taken_at: null,
    ...(upload.state === "failed" ? { failure_reason: upload.failureReason ?? "the file was refused" } : {}),
  };
}
