/**
 * Creates the table and the bucket on any endpoint (dynalite/s3rver here, LocalStack later).
 * Both functions are idempotent.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTimeToLiveCommand,
  type DynamoDBClient,
  type TableDescription,
} from "@aws-sdk/client-dynamodb";
import {
  CreateBucketCommand,
  HeadBucketCommand,
  type BucketLocationConstraint,
  type S3Client,
} from "@aws-sdk/client-s3";
import { describeTableForCreate, TABLE } from "@images/core/db/table";

const ACTIVE_TIMEOUT_MS = 60_000;
const POLL_INTERVAL_MS = 50;

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/** Creates the table from describeTableForCreate, waits until it and its indexes are ACTIVE, enables TTL. */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new CreateTableCommand(describeTableForCreate(tableName)));
  } catch (error) {
    if (errorName(error) !== "ResourceInUseException") throw error; // it exists already
  }
  await waitUntilActive(client, tableName);
  await enableTimeToLive(client, tableName);
}

function isActive(table: TableDescription | undefined): boolean {
  return (
    table?.TableStatus === "ACTIVE" &&
    (table.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === "ACTIVE")
  );
}

async function waitUntilActive(client: DynamoDBClient, tableName: string): Promise<void> {
  const deadline = Date.now() + ACTIVE_TIMEOUT_MS;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (isActive(Table)) return;
    if (Date.now() > deadline) {
      throw new Error(`Table ${tableName} is not ACTIVE after ${ACTIVE_TIMEOUT_MS} ms (${Table?.TableStatus})`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

async function enableTimeToLive(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    const { TimeToLiveDescription: ttl } = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    // Enabling it twice is a ValidationException on AWS and LocalStack.
    if (ttl?.TimeToLiveStatus === "ENABLED" || ttl?.TimeToLiveStatus === "ENABLING") return;
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
      }),
    );
  } catch (error) {
    // dynalite implements DescribeTimeToLive but not UpdateTimeToLive (nor expiry itself).
    if (errorName(error) !== "UnknownOperationException") throw error;
  }
}

/** Creates the bucket unless it exists. */
export async function ensureBucket(client: S3Client, bucketName: string): Promise<void> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucketName }));
    return;
  } catch (error) {
    // A bucket of another account answers 403, which must not pass for "exists".
    if (errorName(error) !== "NotFound") throw error;
  }
  const region = await client.config.region();
  try {
    await client.send(
      new CreateBucketCommand({
        Bucket: bucketName,
        // us-east-1 is the one region that must not be named.
        ...(region === "us-east-1"
          ? {}
          : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
      }),
    );
  } catch (error) {
    if (errorName(error) !== "BucketAlreadyOwnedByYou") throw error; // created concurrently
  }
}
