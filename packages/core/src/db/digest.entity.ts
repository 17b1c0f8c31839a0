import { createSchema } from "electrodb";
import { TABLE } from "./table.ts";

/**
 * Which of an owner's images were uploaded as the file with this sha256 (of the bytes as sent,
 * before any re-encoding): `POST /images/check` reads these by BatchGet, and an upload with
 * `on_duplicate` looks one up. Written and removed in the transaction that writes, trashes,
 * restores or deletes the image, so a trashed or deleted image is never "known".
 */
export const digestSchema = createSchema({
  model: { entity: "digest", version: "1", service: "images" },
  attributes: {
    userId: { type: "string", required: true, readOnly: true },
    sha256: { type: "string", required: true, readOnly: true },
    /** Empty sets are not stored: an item whose images are all gone has none. */
    imageIds: { type: "set", items: "string" },
  },
  indexes: {
    byDigest: {
      pk: { field: TABLE.partitionKey, composite: ["userId", "sha256"], casing: "none" },
      sk: { field: TABLE.sortKey, composite: [], casing: "none" },
    },
  },
});
