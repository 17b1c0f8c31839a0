import type { ImageInfo } from "./image.schema.ts";

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
}

/** One stored rendition (renditions.ts makes and stores them). */
export interface RenditionRecord {
  width: number;
  height: number;
  key: string;
  sizeBytes: number;
}

/** A stored image in the contract's terms; only ready images have listing records. */
export function toImageInfo(record: ListingRecord, bucket: string): ImageInfo {
  return {
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
  };
}

/** The image item: the listing fields plus what only the image itself keeps. */
export interface ImageRecord extends ListingRecord {
  month: string;
  /** Its write shard in the month's and each tag's listing partitions (listing-shards.ts). */
  shard: number;
  revision: number;
}

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
});

/** Every object an image's record names. */
export const objectKeysOf = (record: ListingRecord): string[] => [
  ...new Set([
    record.objectKey,
    ...(record.thumbnailKey ? [record.thumbnailKey] : []),
    ...(record.renditions ?? []).map((rendition) => rendition.key),
  ]),
];
