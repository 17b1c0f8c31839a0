import { createSchema } from "electrodb";
import { listingAttributes } from "./attributes.ts";
import { TABLE } from "./table.ts";

const { gsi1, gsi2, gsi3 } = TABLE.globalIndexes;

/** The listings hold an image unless it is trashed: their keys go when `trashedAt` is set (sparse indexes). */
const listed = (attributes: { trashedAt?: string }) => attributes.trashedAt === undefined;

/**
 * One image: its metadata, keyed by id, listed by upload month (spread over write shards) and by
 * owner; once trashed, in its owner's trash instead. A change that sets or removes `trashedAt`
 * passes the listing keys' composites (`.composite()`), so ElectroDB rebuilds or removes them.
 */
export const imageSchema = createSchema({
  model: { entity: "image", version: "1", service: "images" },
  attributes: {
    ...listingAttributes,
    /** The month bucket ("2026-11") that spreads the all-images listing over partitions. */
    month: { type: "string", required: true, readOnly: true },
    /** Its write shard inside the month (and each tag): the listings' partitions take 1,000 writes a second each. */
    shard: { type: "number", required: true, readOnly: true },
    /** Bumped by every change, so concurrent edits cannot interleave their tag items. */
    revision: { type: "number", required: true },
    /** When its owner moved it to the trash (ISO 8601); absent unless trashed. */
    trashedAt: { type: "string" },
    /** The owner, set with `trashedAt` only: the trash index's partition (absent, the item is not in it). */
    trashedBy: { type: "string" },
    /** TTL, epoch seconds: set on trash to TRASH_DAYS ahead, when the purge comes; absent unless trashed. */
    expiresAt: { type: "number", field: TABLE.ttlAttribute },
    /** The sha256 of the file as uploaded (before re-encoding): its digest item names this image. */
    uploadedSha256: { type: "string", readOnly: true },
  },
  indexes: {
    byId: {
      collection: "imageRecord",
      pk: { field: TABLE.partitionKey, composite: ["imageId"], casing: "none" },
      sk: { field: TABLE.sortKey, composite: [], casing: "none" },
    },
    byMonth: {
      index: "gsi1",
      condition: listed,
      pk: { field: gsi1.partitionKey, composite: ["month", "shard"], casing: "none" },
      sk: { field: gsi1.sortKey, composite: ["uploadTime", "imageId"], casing: "none" },
    },
    byUser: {
      index: "gsi2",
      condition: listed,
      pk: { field: gsi2.partitionKey, composite: ["userId"], casing: "none" },
      sk: { field: gsi2.sortKey, composite: ["uploadTime", "imageId"], casing: "none" },
    },
    /** The owner's trash, most recently trashed first. */
    byTrash: {
      index: "gsi3",
      condition: (attributes: { trashedAt?: string }) => attributes.trashedAt !== undefined,
      pk: { field: gsi3.partitionKey, composite: ["trashedBy"], casing: "none" },
      sk: { field: gsi3.sortKey, composite: ["trashedAt"], casing: "none" },
    },
  },
});
