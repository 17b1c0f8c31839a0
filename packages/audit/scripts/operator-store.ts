import { createAwsClients, loadConfig, type AwsClients, type Config } from "@images/core";
import { startLocalAws } from "@images/local";

/**
 * The store an operator's command works on: the endpoints in the environment (DYNAMODB_ENDPOINT
 * and S3_ENDPOINT, with TABLE_NAME and BUCKET_NAME), for example those a running `npm run dev`
 * prints; otherwise the dev data in DATA_DIR (default .data), opened while the dev server is
 * stopped. Every call must reach a local host (the endpoint guard).
 */
export async function openOperatorStore(): Promise<{ config: Config; clients: AwsClients; close(): Promise<void> }> {
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
  return { config, clients: createAwsClients(config), close: async () => local?.stop() };
}
