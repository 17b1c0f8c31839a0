import { createSchema } from "electrodb";
import { TABLE } from "./table.ts";

/**
 * One item for the whole table: the oldest month bucket that holds an image, so a listing of
 * all images knows where to stop walking back through the months, and the write shards each
 * month's images were stored over, so a listing reads every shard that may hold an item after
 * LISTING_SHARDS changed.
 */
export const catalogSchema = createSchema({
  model: { entity: "catalog", version: "1", service: "images" },
  attributes: {
    earliestMonth: { type: "string" },
    /**
     * "2026-11=4": images of that month were written over 4 shards (an image's tag items too).
     * Only ever added to, before the image is written; a month's count is the largest given.
     */
    monthShards: { type: "set", items: "string" },
  },
  indexes: {
    singleton: {
      pk: { field: TABLE.partitionKey, composite: [], casing: "none" },
      sk: { field: TABLE.sortKey, composite: [], casing: "none" },
    },
  },
});
