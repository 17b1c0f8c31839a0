import { createSchema } from "electrodb";
import { TABLE } from "./table.ts";

/** What a request with an Idempotency-Key answered, kept for a day so a retry gets it again. */
export const idempotencySchema = createSchema({
  model: { entity: "idempotency", version: "1", service: "images" },
  attributes: {
    userId: { type: "string", required: true, readOnly: true },
    key: { type: "string", required: true, readOnly: true },
    /** Digest of the request, so reusing a key for another request is detected. */
    requestHash: { type: "string", required: true },
    state: { type: ["in_progress", "done"] as const, required: true },
    claimedAt: { type: "number", required: true },
    response: { type: "any" },
    expiresAt: { type: "number", required: true, field: TABLE.ttlAttribute },
  },
  indexes: {
    byKey: {
      pk: { field: TABLE.partitionKey, composite: ["userId", "key"], casing: "none" },
      sk: { field: TABLE.sortKey, composite: [], casing: "none" },
    },
  },
});
