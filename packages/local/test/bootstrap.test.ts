import { DescribeTableCommand, DescribeTimeToLiveCommand } from "@aws-sdk/client-dynamodb";
import { HeadBucketCommand } from "@aws-sdk/client-s3";
import { describeTableForCreate } from "@images/core/db/table";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBucket, ensureTable, startLocalAws, type LocalAws } from "../src/index.ts";
import { dynamoClients, s3Client } from "./clients.ts";

const byName =
  <T>(name: (item: T) => string | undefined) =>
  (a: T, b: T) =>
    (name(a) ?? "").localeCompare(name(b) ?? "");

describe("bootstrap", () => {
  let local: LocalAws;
  beforeAll(async () => {
    local = await startLocalAws({ tableName: "bootstrap-table", bucketName: "bootstrap-bucket", region: "eu-west-1" });
  });
  afterAll(() => local?.stop());

  it("exposes loopback endpoints, the options and matching env", () => {
    expect(local.dynamoEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(local.s3Endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(local.env).toEqual({
      AWS_REGION: "eu-west-1",
      AWS_ACCESS_KEY_ID: local.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: local.credentials.secretAccessKey,
      DYNAMODB_ENDPOINT: local.dynamoEndpoint,
      S3_ENDPOINT: local.s3Endpoint,
      TABLE_NAME: "bootstrap-table",
      BUCKET_NAME: "bootstrap-bucket",
    });
  });

  it("creates the table from describeTableForCreate, ACTIVE with its keys and GSIs", async () => {
    const { client } = dynamoClients(local);
    const { Table } = await client.send(new DescribeTableCommand({ TableName: local.tableName }));
    const expected = describeTableForCreate(local.tableName);

    expect(Table?.TableStatus).toBe("ACTIVE");
    expect(Table?.KeySchema).toEqual(expected.KeySchema);
    const attributeName = byName((a: { AttributeName?: string }) => a.AttributeName);
    expect([...(Table?.AttributeDefinitions ?? [])].sort(attributeName)).toEqual(
      [...expected.AttributeDefinitions].sort(attributeName),
    );
    const indexName = byName((index: { IndexName?: string }) => index.IndexName);
    const indexes = (Table?.GlobalSecondaryIndexes ?? [])
      .map(({ IndexName, KeySchema, Projection, IndexStatus }) => ({ IndexName, KeySchema, Projection, IndexStatus }))
      .sort(indexName);
    expect(indexes).toEqual(
      [...expected.GlobalSecondaryIndexes].map((index) => ({ ...index, IndexStatus: "ACTIVE" })).sort(indexName),
    );
    client.destroy();
  });

  it("is idempotent: ensureTable and ensureBucket accept what exists", async () => {
    const { client } = dynamoClients(local);
    const s3 = s3Client(local);
    await ensureTable(client, local.tableName);
    await ensureBucket(s3, local.bucketName);
    await expect(s3.send(new HeadBucketCommand({ Bucket: local.bucketName }))).resolves.toBeDefined();
    // dynalite cannot enable TTL (no UpdateTimeToLive); ensureTable skipped it without failing.
    const { TimeToLiveDescription } = await client.send(new DescribeTimeToLiveCommand({ TableName: local.tableName }));
    expect(TimeToLiveDescription?.TimeToLiveStatus).toBe("DISABLED");
    client.destroy();
    s3.destroy();
  });

  it("creates a missing bucket and a missing table on demand", async () => {
    const { client } = dynamoClients(local);
    const s3 = s3Client(local);
    await ensureBucket(s3, "another-bucket");
    await expect(s3.send(new HeadBucketCommand({ Bucket: "another-bucket" }))).resolves.toBeDefined();
    await ensureTable(client, "another-table");
    const { Table } = await client.send(new DescribeTableCommand({ TableName: "another-table" }));
    expect(Table?.TableStatus).toBe("ACTIVE");
    client.destroy();
    s3.destroy();
  });

  it("forwards other requests to dynalite unchanged", async () => {
    // dynalite's health check answer, trailing space and all.
    const response = await fetch(local.dynamoEndpoint);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-amz-crc32")).toBe("3128867991");
    expect(await response.text()).toBe("healthy: dynamodb.us-east-1.amazonaws.com ");
  });
});
