import { createAwsClients, loadConfig } from "@images/core";
import { backfillRenditions } from "@images/core/image/backfill-renditions";
import { startLocalAws } from "@images/local";
import { imagesWithoutRenditions } from "../src/images-without-renditions.ts";

/**
 * `npm run renditions:backfill`: gives every image stored before the size ladder its renditions,
 * placeholder and new thumbnail (packages/core/src/image/backfill-renditions.ts), and prints what
 * it did; exits 1 when any image failed. It Scans the table: an offline maintenance tool, like
 * `npm run check:store`, never part of serving a request. Running it again does nothing more.
 * With DYNAMODB_ENDPOINT and S3_ENDPOINT (and TABLE_NAME, BUCKET_NAME) it works on that store;
 * otherwise on the dev data in DATA_DIR (default .data) while the dev server is stopped.
 * MAX_IMAGE_PIXELS and DECODE_CONCURRENCY apply as they do to uploads.
 */
const external = process.env.DYNAMODB_ENDPOINT && process.env.S3_ENDPOINT;
const local = external ? undefined : await startLocalAws({ dataDir: process.env.DATA_DIR || ".data" });
// Emulators take these credentials (s3rver insists on them); real ones are never used here.
const config = loadConfig({
  TABLE_NAME: "images",
  BUCKET_NAME: "images",
  AWS_ACCESS_KEY_ID: "S3RVER",
  AWS_SECRET_ACCESS_KEY: "S3RVER",
  ...process.env,
  ...local?.env,
  AWS_ENDPOINT_GUARD: "local",
});
try {
  const clients = createAwsClients(config);
  const report = await backfillRenditions({
    config,
    clients,
    imagePages: imagesWithoutRenditions(clients.dynamo, config.tableName),
    onImage: ({ imageId, outcome, detail }) => console.log(`${outcome.padEnd(7)} ${imageId}  ${detail}`),
  });
  console.log(`images done ${report.done}, skipped ${report.skipped}, failed ${report.failed}`);
  process.exitCode = report.failed > 0 ? 1 : 0;
} finally {
  await local?.stop();
}
