import { serve } from "@hono/node-server";
import { createAwsClients, createImageStore, loadConfig, PENDING_UPLOAD_PREFIX, type ImageStore } from "@images/core";
import { startLocalAws } from "@images/local";
import type { Hono } from "hono";
import { createApp } from "./app.ts";
import { localMediaSettings, mountLocalMedia } from "./media/local-media.ts";
import { createDevelopmentSite } from "./development-site.ts";
import { createDevEvents, type DevEvents } from "./dev-events.ts";
import { createLogger } from "./logger.ts";

/**
 * `npm run dev`: DynamoDB and S3 emulators inside this process, and the API on
 * http://127.0.0.1:3000 (PORT to change it; DATA_DIR to keep the data between runs), with the
 * web gallery at `/` and development tokens at `POST /dev/token` (see development-site.ts), and
 * the image events of the embedded store at `GET /dev/events`, posted to WEBHOOK_URL when set
 * (dev-events.ts). TTL_SWEEP_MS: how often expired items (a trash past TRASH_DAYS) are removed.
 */
const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? "127.0.0.1";
const dataDir = process.env.DATA_DIR || undefined;

const logger = createLogger({ level: process.env.LOG_LEVEL ?? "info" });
let store: ImageStore | undefined;
// As in AWS, a file posted straight to S3 is finished when the bucket reports it.
const ttlSweepIntervalMs = process.env.TTL_SWEEP_MS ? Number(process.env.TTL_SWEEP_MS) : undefined;
const aws = await startLocalAws({
  dataDir,
  ttlSweepIntervalMs,
  onObjectCreated: async ({ key }) => {
    if (!store || !key.startsWith(PENDING_UPLOAD_PREFIX)) return;
    logger.info({ event: "upload_finished", key, outcome: await store.finishUpload(key) });
  },
});

/**
 * The API, the local twin of the CDN at /media (rendition URLs point at it, signed with the
 * development key pair and checked as CloudFront checks them), and the development site.
 * Made once the port is known, since the media URLs name it.
 */
function createSite(base: string): Hono {
  const config = loadConfig({ ...localMediaSettings(base), ...process.env, ...aws.env, AWS_ENDPOINT_GUARD: "local" });
  const clients = createAwsClients(config);
  store = createImageStore({ config, clients });
  const app = createApp({ config, store, logger });
  mountLocalMedia(app, clients.s3, config.bucketName);
  events = createDevEvents({ config, clients, feed: aws.changes, logger });
  app.route("/", events.routes);
  return createDevelopmentSite(app);
}

let events: DevEvents | undefined;

let site: Hono | undefined;
const server = serve({ fetch: (request, env) => site!.fetch(request, env), port, hostname: host }, (info) => {
  const base = `http://${host}:${info.port}`;
  site = createSite(base);
  console.log(`Images API    ${base}`);
  console.log(`Gallery       ${base}/`);
  console.log(`API docs      ${base}/docs`);
  console.log(`OpenAPI       ${base}/openapi.json`);
  console.log(`Data          ${dataDir ? dataDir : "in memory (set DATA_DIR to keep it)"}`);
  console.log(`DynamoDB      ${aws.dynamoEndpoint} (table ${aws.tableName})`);
  console.log(`S3            ${aws.s3Endpoint} (bucket ${aws.bucketName})`);
  console.log(`Get a token:  npm run --silent token -- <user_id>`);
});

// A port already taken is a person's everyday mistake: one line and exit 1, not a stack trace.
server.once("error", async (error: NodeJS.ErrnoException) => {
  if (error.code !== "EADDRINUSE" && error.code !== "EACCES") throw error;
  const why = error.code === "EADDRINUSE" ? "is in use" : "is not allowed to this user";
  console.error(
    `Port ${port} on ${host} ${why}: stop what runs there, or choose another with PORT (PORT=3001 npm run dev).`,
  );
  await aws.stop();
  process.exit(1);
});

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping`);
  server.close();
  events?.stop();
  await aws.stop();
  process.exit(0);
}
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
