import { createSchema } from "electrodb";
import { TABLE } from "./table.ts";

/** How many uploads one user started in one minute; TTL removes old windows. */
export const rateWindowSchema = createSchema({
  model: { entity: "rateWindow", version: "1", service: "images" },
  attributes: {
    userId: { type: "string", required: true, readOnly: true },
    /** The minute, as epoch seconds divided by 60. */
    window: { type: "number", required: true, readOnly: true },
    count: { type: "number" },
    expiresAt: { type: "number", field: TABLE.ttlAttribute },
  },
  indexes: {
    byWindow: {
      pk: { field: TABLE.partitionKey, composite: ["userId", "window"], casing: "none" },
      sk: { field: TABLE.sortKey, composite: [], casing: "none" },
    },
  },
});
