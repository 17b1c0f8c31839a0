import { createSchema } from "electrodb";
import { listingAttributes } from "./attributes.ts";
import { TABLE } from "./table.ts";

const { gsi1, gsi2 } = TABLE.globalIndexes;

/**
 * One item per (image, tag): DynamoDB cannot index the elements of a list, so a tag filter
 * queries these. Each carries the listing's fields, so a tag listing needs no second read.
 */
export const imageTagSchema = createSchema({
  model: { entity: "imageTag", version: "1", service: "images" },
  attributes: {
    ...listingAttributes,
    tag: { type: "string", required: true, readOnly: true },
    /** The image's write shard: a tag's listing is spread over shards as a month's is. */
    shard: { type: "number", required: true, readOnly: true },
  },
  indexes: {
    byImage: {
      collection: "imageRecord",
      pk: { field: TABLE.partitionKey, composite: ["imageId"], casing: "none" },
      sk: { field: TABLE.sortKey, composite: ["tag"], casing: "none" },
    },
    byTag: {
      index: "gsi1",
      pk: { field: gsi1.partitionKey, composite: ["tag", "shard"], casing: "none" },
      sk: { field: gsi1.sortKey, composite: ["uploadTime", "imageId"], casing: "none" },
    },
    byUserTag: {
      index: "gsi2",
      pk: { field: gsi2.partitionKey, composite: ["userId", "tag"], casing: "none" },
      sk: { field: gsi2.sortKey, composite: ["uploadTime", "imageId"], casing: "none" },
    },
  },
});
