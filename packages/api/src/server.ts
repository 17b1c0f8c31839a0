import { serve } from "@hono/node-server";
import { createAwsClients, createImageStore, loadConfig } from "@images/core";
import { createApp } from "./app.ts";
import { createLogger } from "./logger.ts";
import { localMediaSettings, mountLocalMedia } from "./media/local-media.ts";

/**
 * The API as a plain Node server on endpoints given by the environment (TABLE_NAME, BUCKET_NAME,
 * DYNAMODB_ENDPOINT, S3_ENDPOINT, ...): docker-compose.yml runs it against LocalStack. Unlike
 * `npm run dev` it starts no emulator. HOST and PORT say where it listens (0.0.0.0:3000).
 *
 * LocalStack's bucket has no finishing function subscribed to it, so with
 * FINISH_UPLOADS_EVERY_SECONDS set this server finishes files posted straight to S3 itself:
 * it lists the pending prefix on that interval and finishes what it finds (finishing is idempotent).
 *
 * Renditions: unless MEDIA_BASE_URL names a CDN, this server is its own, as `npm run dev` is: the
 * local twin at /media, with rendition URLs on PUBLIC_URL (the address browsers reach it at).
 */
const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? "0.0.0.0";
const finishEverySeconds = Number(process.env.FINISH_UPLOADS_EVERY_SECONDS ?? 0);

const logger = createLogger({ level: process.env.LOG_LEVEL ?? "info" });
const publicUrl = process.env.PUBLIC_URL ?? `http://127.0.0.1:${port}`;
const ownMedia = !process.env.MEDIA_BASE_URL;
const config = loadConfig(ownMedia ? { ...localMediaSettings(publicUrl), ...process.env } : process.env);
const clients = createAwsClients(config);
const store = createImageStore({ config, clients });
const app = createApp({ config, store, logger });
if (ownMedia) mountLocalMedia(app, clients.s3, config.bucketName);

/** Finishes what waits under the pending prefix; a failure is logged and tried next round. */
async function finishPendingUploads(): Promise<void> {
  const outcomes = await store.finishWaitingUploads();
  for (const [key, outcome] of Object.entries(outcomes)) logger.info({ event: "upload_finished", key, outcome });
}

let finishing: NodeJS.Timeout | undefined;
if (finishEverySeconds > 0) {
  let running = false;
  finishing = setInterval(() => {
    if (running) return; // the previous round is still at work
    running = true;
    finishPendingUploads()
      .catch((error: unknown) => logger.warn({ event: "upload_listing_failed", error: String(error) }))
      .finally(() => (running = false));
  }, finishEverySeconds * 1000);
}

const server = serve({ fetch: app.fetch, port, hostname: host }, (info) => {
  logger.info({
    event: "listening",
    url: `http://${host}:${info.port}`,
    table: config.tableName,
    bucket: config.bucketName,
  });
});

function stop(signal: string) {
  logger.info({ event: "stopping", signal });
  clearInterval(finishing);
  server.close(() => process.exit(0));
}
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));
