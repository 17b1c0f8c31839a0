/**
 * `npm run test:integration`: the integration tests (packages/core/test/integration and
 * packages/api/test) on the embedded emulators, or, when DYNAMODB_ENDPOINT and S3_ENDPOINT are
 * both set, on those endpoints (LocalStack from docker-compose.yml: http://127.0.0.1:4566).
 * It refuses, before any test starts, an endpoint that is not on this machine or in Compose.
 */
import { spawnSync } from "node:child_process";
import { isLocalHost } from "../packages/core/src/aws/endpoint-guard.ts";

const TEST_DIRS = ["packages/core/test/integration", "packages/api/test"];

function fail(message: string): never {
  console.error(`test:integration: ${message}`);
  process.exit(2);
}

const endpoints = { DYNAMODB_ENDPOINT: process.env.DYNAMODB_ENDPOINT, S3_ENDPOINT: process.env.S3_ENDPOINT };
const given = Object.entries(endpoints).filter(([, value]) => value);
if (given.length === 1) fail(`set both DYNAMODB_ENDPOINT and S3_ENDPOINT, or neither (only ${given[0]![0]} is set)`);

const env: Record<string, string | undefined> = { ...process.env, AWS_ENDPOINT_GUARD: "local" };
if (given.length === 2) {
  for (const [name, value] of given) {
    let host: string;
    try {
      host = new URL(value!).hostname;
    } catch {
      fail(`${name}=${value} is not a URL`);
    }
    if (!isLocalHost(host)) {
      fail(
        `${name}=${value} is not a local endpoint; these tests only run against emulators (localhost, 127.x, localstack)`,
      );
    }
  }
  // LocalStack takes any credentials; without these the SDK would look for real ones.
  env.AWS_ACCESS_KEY_ID ??= "test";
  env.AWS_SECRET_ACCESS_KEY ??= "test";
  env.AWS_REGION ??= "us-east-1";
  console.log(
    `integration tests against DynamoDB at ${endpoints.DYNAMODB_ENDPOINT} and S3 at ${endpoints.S3_ENDPOINT}`,
  );
} else {
  console.log(
    "integration tests against the embedded emulators (set DYNAMODB_ENDPOINT and S3_ENDPOINT for LocalStack)",
  );
}

const run = spawnSync(
  "npx",
  ["--no-install", "vitest", "run", "--project", "unit", "--coverage.enabled=false", ...TEST_DIRS],
  {
    stdio: "inherit",
    env,
  },
);
process.exit(run.status ?? 1);
