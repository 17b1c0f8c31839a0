import { createSchema } from "electrodb";
import { TABLE } from "./table.ts";

/**
 * One item for the whole table: the oldest month bucket that holds an image, so a listing of
 * all images knows where to stop walking back through the months.
 */
export const catalogSchema = createSchema({
  model: { entity: "catalog", version: "1", service: "images" },
  attributes: {
    earliestMonth: { type: "string" },
  },
  indexes: {
    singleton: {
      pk: { field: TABLE.partitionKey, composite: [], casing: "none" },
      sk: { field: TABLE.sortKey, composite: [], casing: "none" },
    },
  },
});
