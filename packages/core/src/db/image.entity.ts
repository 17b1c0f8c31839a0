import { createSchema } from "electrodb";
import { listingAttributes } from "./attributes.ts";
import { TABLE } from "./table.ts";

const { gsi1, gsi2 } = TABLE.globalIndexes;

/** One image: its metadata, keyed by id, listed by upload month (spread over write shards) and by owner. */
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
  },
  indexes: {
    byId: {
      collection: "imageRecord",
      pk: { field: TABLE.partitionKey, composite: ["imageId"], casing: "none" },
      sk: { field: TABLE.sortKey, composite: [], casing: "none" },
    },
    byMonth: {
      index: "gsi1",
      pk: { field: gsi1.partitionKey, composite: ["month", "shard"], casing: "none" },
      sk: { field: gsi1.sortKey, composite: ["uploadTime", "imageId"], casing: "none" },
    },
    byUser: {
      index: "gsi2",
      pk: { field: gsi2.partitionKey, composite: ["userId"], casing: "none" },
      sk: { field: gsi2.sortKey, composite: ["uploadTime", "imageId"], casing: "none" },
    },
  },
});
