import { backfillRenditions } from "@images/core/image/backfill-renditions";
import { openOperatorStore } from "./operator-store.ts";
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
const { config, clients, close } = await openOperatorStore();
try {
  const report = await backfillRenditions({
    config,
    clients,
    imagePages: imagesWithoutRenditions(clients.dynamo, config.tableName),
    onImage: ({ imageId, outcome, detail }) => console.log(`${outcome.padEnd(7)} ${imageId}  ${detail}`),
  });
  console.log(`images done ${report.done}, skipped ${report.skipped}, failed ${report.failed}`);
  process.exitCode = report.failed > 0 ? 1 : 0;
} finally {
  await close();
}
