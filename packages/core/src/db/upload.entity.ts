import { createSchema } from "electrodb";
import { TABLE } from "./table.ts";

/**
 * An image whose bytes go straight to S3: pending until the finishing step has checked them,
 * then replaced by the image itself, or kept for a day as `failed` with the reason, so its
 * owner can see why. Its TTL removes those nobody finished.
 */
export const uploadSchema = createSchema({
  model: { entity: "upload", version: "1", service: "images" },
  attributes: {
    imageId: { type: "string", required: true, readOnly: true },
    userId: { type: "string", required: true, readOnly: true },
    uploadTime: { type: "string", required: true, readOnly: true },
    title: { type: "string", required: true, readOnly: true },
    description: { type: "string", readOnly: true },
    tags: { type: "list", items: { type: "string" }, required: true, readOnly: true },
    /** What the client declared; the finishing step checks the bytes against both. */
    contentType: { type: "string", required: true, readOnly: true },
    declaredBytes: { type: "number", required: true, readOnly: true },
    /** Where the client posts the file. */
    objectKey: { type: "string", required: true, readOnly: true },
    state: { type: ["pending", "failed"] as const, required: true },
    /** What finishing does with a file its owner already has (`on_duplicate`); store when absent. */
    onDuplicate: { type: ["store", "reject", "return"] as const, readOnly: true },
    failureKind: { type: "string" },
    failureReason: { type: "string" },
    /** When a pending upload stops waiting for its file (its link's end plus a grace); then it reads as failed. */
    staleAt: { type: "number" },
    expiresAt: { type: "number", required: true, field: TABLE.ttlAttribute },
  },
  indexes: {
    byImage: {
      collection: "imageRecord",
      pk: { field: TABLE.partitionKey, composite: ["imageId"], casing: "none" },
      sk: { field: TABLE.sortKey, composite: [], casing: "none" },
    },
  },
});
