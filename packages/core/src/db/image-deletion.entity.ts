import { createSchema } from "electrodb";
import { TABLE } from "./table.ts";

/**
 * Written in the same transaction that removes an image's items, and removed once its objects
 * are gone from S3: if S3 fails in between, a retried delete knows what is left to remove, and
 * the store checker can tell an object being deleted from an orphan.
 */
export const imageDeletionSchema = createSchema({
  model: { entity: "imageDeletion", version: "1", service: "images" },
  attributes: {
    imageId: { type: "string", required: true, readOnly: true },
    userId: { type: "string", required: true, readOnly: true },
    objectKeys: { type: "list", items: { type: "string" }, required: true },
    /** TTL: a record nobody finished is removed after a week. */
    expiresAt: { type: "number", field: TABLE.ttlAttribute },
  },
  indexes: {
    byImage: {
      collection: "imageRecord",
      pk: { field: TABLE.partitionKey, composite: ["imageId"], casing: "none" },
      sk: { field: TABLE.sortKey, composite: [], casing: "none" },
    },
  },
});
