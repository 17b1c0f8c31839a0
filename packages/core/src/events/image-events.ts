import { CloudEvent } from "cloudevents";
import { Entity } from "electrodb";
import { imageSchema } from "../db/image.entity.ts";
import { uploadSchema } from "../db/upload.entity.ts";
import type { ImageInfo } from "../image/image.schema.ts";
import { toImageInfo, uploadToImageInfo, type ImageRecord, type UploadRecord } from "../image/records.ts";
import { entityOf, newItemOf, oldItemOf, type ChangeRecord, type StoredItem } from "./change-record.ts";

/** The image events, in the order an image can live through them. */
export const IMAGE_EVENT_TYPES = [
  "image.ready",
  "image.failed",
  "image.updated",
  "image.trashed",
  "image.restored",
  "image.deleted",
] as const;
export type ImageEventType = (typeof IMAGE_EVENT_TYPES)[number];

/** The image in the contract's terms; a trashed one says when it was trashed and when it goes. */
export type EventImage = ImageInfo;

/** A CloudEvent 1.0 about one image; `sequence` orders the events of one image. */
export type ImageEvent = CloudEvent<EventImage> & { type: ImageEventType; subject: string; sequence: string };

/** The attribute a trashed image item carries: when it was trashed (ISO 8601). */
export const TRASHED_AT_ATTRIBUTE = "trashedAt";

export interface DeriveOptions {
  /** The bucket named in each image's `s3_url`. */
  bucketName: string;
  /** The events' `source`. */
  source: string;
}

/** Parses raw items as the entities store them; no client needed, nothing is sent. */
const parsers = {
  image: new Entity(imageSchema, { table: "parse-only" }),
  upload: new Entity(uploadSchema, { table: "parse-only" }),
};

const parseImage = (item: StoredItem): ImageRecord =>
  parsers.image.parse({ Item: item }).data as unknown as ImageRecord;

const isTrashed = (item: StoredItem | undefined) => typeof item?.[TRASHED_AT_ATTRIBUTE] === "string";

/** Which event, if any, one change stands for; and the item image its data comes from. */
function classify(record: ChangeRecord): { type: ImageEventType; item: StoredItem } | undefined {
  const before = oldItemOf(record);
  const after = newItemOf(record);
  const entity = entityOf(after) ?? entityOf(before);
  if (entity === "image") {
    if (record.eventName === "INSERT" && after) return { type: "image.ready", item: after };
    if (record.eventName === "REMOVE" && before) return { type: "image.deleted", item: before };
    if (record.eventName === "MODIFY" && before && after) {
      if (!isTrashed(before) && isTrashed(after)) return { type: "image.trashed", item: after };
      if (isTrashed(before) && !isTrashed(after)) return { type: "image.restored", item: after };
      if (before.revision !== after.revision) return { type: "image.updated", item: after };
    }
    return undefined;
  }
  if (entity === "upload" && after?.state === "failed" && before?.state !== "failed") {
    return { type: "image.failed", item: after };
  }
  // Tag items, staged and deletion records, idempotency records, rate windows, the catalog: no event.
  return undefined;
}

/**
 * The image event one change record stands for, or undefined. Its id is the record's, so a
 * redelivered record gives the same event; its time is the change's, not the clock's.
 */
export function imageEventOf(record: ChangeRecord, options: DeriveOptions): ImageEvent | undefined {
  const found = classify(record);
  if (!found) return undefined;
  const data =
    entityOf(found.item) === "upload"
      ? uploadToImageInfo(parsers.upload.parse({ Item: found.item }).data as UploadRecord, options.bucketName)
      : toImageInfo(parseImage(found.item), options.bucketName);
  const seconds = record.dynamodb.ApproximateCreationDateTime;
  return new CloudEvent<EventImage>({
    specversion: "1.0",
    id: record.eventID,
    source: options.source,
    type: found.type,
    subject: data.image_id,
    time: new Date(seconds === undefined ? 0 : seconds * 1000).toISOString(),
    datacontenttype: "application/json",
    data,
    sequence: record.dynamodb.SequenceNumber,
  }) as ImageEvent;
}

/** The event as JSON text: what the bus carries and what a webhook's signature covers. */
export const eventBody = (event: ImageEvent): string => JSON.stringify(event);
