import { createAwsClients, createImageStore, loadConfig } from "@images/core";
import { createLogger } from "../logger.ts";

/** The part of an S3 event notification this function reads. */
interface S3Event {
  Records?: { s3?: { object?: { key?: string } } }[];
}

const config = loadConfig();
const store = createImageStore({ config, clients: createAwsClients(config) });
const logger = createLogger();

/**
 * Subscribed to ObjectCreated under the pending-upload prefix: finishes each uploaded file.
 * A transient failure is thrown so Lambda retries the event; finishing is idempotent.
 */
export async function handler(event: S3Event): Promise<void> {
  for (const record of event.Records ?? []) {
    const raw = record.s3?.object?.key;
    if (!raw) continue;
    // S3 event keys are URL-encoded, with '+' for spaces.
    const key = decodeURIComponent(raw.replace(/\+/g, " "));
    const outcome = await store.finishUpload(key);
    logger.info({ event: "upload_finished", key, outcome });
  }
}
