import { createSchema } from "electrodb";
import { TABLE } from "./table.ts";

/**
 * The objects one upload run is about to write, recorded before the first byte goes to S3 and
 * removed by the transaction that commits the image naming them. Whatever stops a run in between
 * (a failed commit whose clean-up fails too, a commit whose outcome cannot be told, a timeout, a
 * crash) leaves this record behind; when its TTL removes it, the stream consumer deletes the
 * objects it names that no image names (events/purge.ts). Until then the store checker counts
 * them as in flight, not as orphans.
 */
export const stagedObjectsSchema = createSchema({
  model: { entity: "stagedObjects", version: "1", service: "images" },
  attributes: {
    imageId: { type: "string", required: true, readOnly: true },
    /** The run's own: "direct" for a direct upload (its id is new each try), the key version for finishing and backfills. */
    run: { type: "string", required: true, readOnly: true },
    objectKeys: { type: "list", items: { type: "string" }, required: true, readOnly: true },
    /** TTL, epoch seconds: long after any run has ended (a Lambda function stops within 15 minutes). */
    expiresAt: { type: "number", required: true, field: TABLE.ttlAttribute },
  },
  indexes: {
    byRun: {
      collection: "imageRecord",
      pk: { field: TABLE.partitionKey, composite: ["imageId"], casing: "none" },
      sk: { field: TABLE.sortKey, composite: ["run"], casing: "none" },
    },
  },
});
