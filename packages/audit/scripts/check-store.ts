import { openOperatorStore } from "./operator-store.ts";
import { checkStore } from "../src/check-store.ts";

/**
 * `npm run check:store`: audits a store and prints what it finds; exits 1 on any violation.
 * With DYNAMODB_ENDPOINT and S3_ENDPOINT (and TABLE_NAME, BUCKET_NAME) it checks that store, for
 * example the one a running `npm run dev` prints; otherwise it opens the dev data in DATA_DIR
 * (default .data) while the dev server is stopped. `--digests` also reads every image's object
 * and compares its sha256 with the record's.
 */
const { config, clients, close } = await openOperatorStore();
try {
  const report = await checkStore({
    dynamo: clients.dynamo,
    s3: clients.s3,
    tableName: config.tableName,
    bucketName: config.bucketName,
    verifyDigests: process.argv.includes("--digests"),
  });
  console.log(
    `images ${report.images}` +
      (report.imagesWithoutRenditions > 0
        ? ` (${report.imagesWithoutRenditions} stored before renditions: npm run renditions:backfill)`
        : "") +
      (report.imagesWithoutShards > 0
        ? ` (${report.imagesWithoutShards} stored before the write shards: npm run listings:backfill)`
        : "") +
      `, tag items ${report.tagItems}, pending uploads ${report.pendingUploads}, ` +
      `deletions in progress ${report.deletionsInProgress}, ` +
      `staged upload runs ${report.stagedRuns}, objects ${report.objects}: ` +
      `${report.violations.length} violation(s)`,
  );
  for (const violation of report.violations) console.log(`  ${violation.rule}: ${violation.detail}`);
  process.exitCode = report.violations.length > 0 ? 1 : 0;
} finally {
  await close();
}
