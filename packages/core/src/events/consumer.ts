import type { AwsClients } from "../aws/clients.ts";
import type { Config } from "../config.ts";
import { createDb } from "../db/service.ts";
import { createObjectStore } from "../storage/object-store.ts";
import type { ImageEvent } from "./image-events.ts";
import { purgeExpired } from "./purge.ts";
import { createStreamConsumer, type StreamConsumer } from "./stream-consumer.ts";

/** The `source` of every image event. */
export const EVENT_SOURCE = "/images";

/**
 * The table's change stream consumer, wired to the service's table and bucket: what the deployed
 * stream function (packages/api/src/handlers/table-stream.ts) and the dev server both run.
 */
export function createImageEventConsumer(deps: {
  config: Config;
  clients: AwsClients;
  publish: (events: ImageEvent[]) => Promise<void>;
  log?: (entry: Record<string, unknown>) => void;
}): StreamConsumer {
  const db = createDb(deps.clients.dynamo, deps.config.tableName);
  const objects = createObjectStore(deps.clients.s3, deps.config.bucketName);
  return createStreamConsumer({
    bucketName: deps.config.bucketName,
    source: EVENT_SOURCE,
    publish: deps.publish,
    purge: (record) => purgeExpired(record, { db, objects }),
    log: deps.log,
  });
}
