/**
 * Creates the table and the bucket named by TABLE_NAME and BUCKET_NAME on the emulator endpoints
 * in DYNAMODB_ENDPOINT and S3_ENDPOINT (LocalStack in docker-compose.yml), with the same
 * ensureTable/ensureBucket the embedded emulators use. Idempotent; refuses any non-local endpoint.
 */
import { createAwsClients, loadConfig } from "@images/core";
import { ensureBucket, ensureTable } from "../src/bootstrap.ts";

const ATTEMPTS = 30;
const PAUSE_MS = 2_000;

const config = loadConfig({ ...process.env, AWS_ENDPOINT_GUARD: "local" });
const clients = createAwsClients(config);

// LocalStack may still be starting its services when this runs.
for (let attempt = 1; ; attempt++) {
  try {
    await ensureTable(clients.dynamo, config.tableName);
    await ensureBucket(clients.s3, config.bucketName);
    break;
  } catch (error) {
    if (attempt === ATTEMPTS) throw error;
    console.log(`not ready yet (${error instanceof Error ? error.message : String(error)}); retrying`);
    await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
  }
}
console.log(
  `table ${config.tableName} at ${config.dynamoEndpoint} and bucket ${config.bucketName} at ${config.s3Endpoint}: ready`,
);
