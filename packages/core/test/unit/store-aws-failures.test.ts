import { DeleteObjectsCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { createAwsClients } from "../../src/aws/clients.ts";
import { loadConfig } from "../../src/config.ts";
import { AppError } from "../../src/errors.ts";
import { createImageStore } from "../../src/image/image-store.ts";
import { tinyPng } from "../support/fixtures.ts";

/** The store with both SDK clients mocked: what it does when AWS answers badly. */
const config = loadConfig({
  TABLE_NAME: "images",
  BUCKET_NAME: "bucket",
  DYNAMODB_ENDPOINT: "http://127.0.0.1:1",
  S3_ENDPOINT: "http://127.0.0.1:1",
  AWS_ACCESS_KEY_ID: "x",
  AWS_SECRET_ACCESS_KEY: "y",
});
const clients = createAwsClients(config);
const dynamo = mockClient(clients.dynamo as unknown as DynamoDBDocumentClient);
const s3 = mockClient(clients.s3 as unknown as S3Client);
const logged: string[] = [];
const store = createImageStore({ config, clients, log: (event) => logged.push(event) });

const awsError = (name: string, status: number, extra: object = {}) =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status }, ...extra });
const throttled = () => awsError("ThrottlingException", 400);
const conditionFailed = () =>
  awsError("TransactionCanceledException", 400, {
    CancellationReasons: [{ Code: "ConditionalCheckFailed" }, { Code: "None" }],
  });

const storedImage = {
  imageId: "img_01JDX3M5Q8X6W7Y0Z9A1B2C3D4",
  userId: "alice",
  uploadTime: "2026-11-24T19:30:00.000Z",
  month: "2026-11",
  shard: 0,
  title: "Sunset",
  tags: ["beach"],
  contentType: "image/png",
  sizeBytes: 10,
  width: 8,
  height: 6,
  sha256: "0".repeat(64),
  objectKey: "images/img_01JDX3M5Q8X6W7Y0Z9A1B2C3D4.png",
  thumbnailKey: "thumbnails/img_01JDX3M5Q8X6W7Y0Z9A1B2C3D4.webp",
  revision: 4,
  __edb_e__: "image",
  __edb_v__: "1",
};

async function kindOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => "ok",
    (error: unknown) => (error instanceof AppError ? error.kind : `raw:${(error as Error).name}`),
  );
}

beforeEach(() => {
  dynamo.reset();
  s3.reset();
  logged.length = 0;
  dynamo.on(UpdateCommand).resolves({});
  dynamo.on(DeleteCommand).resolves({});
  dynamo.on(GetCommand).resolves({ Item: storedImage });
  s3.on(PutObjectCommand).resolves({});
  s3.on(DeleteObjectsCommand).resolves({});
});

/** The staged records the store put, and the deletes of them it sent outside a transaction. */
const stagedPuts = () =>
  dynamo
    .commandCalls(PutCommand)
    .map((call) => call.args[0].input.Item as Record<string, unknown>)
    .filter((item) => item.__edb_e__ === "stagedObjects");
const stagedDeletes = () =>
  dynamo.commandCalls(DeleteCommand).filter((call) => String(call.args[0].input.Key?.sk).includes("stagedObjects"));

describe("create", () => {
  beforeEach(() => {
    dynamo.on(GetCommand).resolves({});
  });

  it("keeps the bytes when the metadata write timed out after it committed", async () => {
    dynamo.on(TransactWriteCommand).rejects(awsError("TimeoutError", 500));
    dynamo.on(GetCommand).resolves({ Item: { ...storedImage } });
    const image = await store.create({ userId: "alice", title: "t", bytes: await tinyPng() });
    expect(image.user_id).toBe("alice");
    expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
  });

  it("deletes the bytes it stored when DynamoDB throttles the metadata write, and answers unavailable", async () => {
    dynamo.on(TransactWriteCommand).rejects(throttled());
    const error = await store.create({ userId: "alice", title: "t", bytes: await tinyPng() }).catch((e: AppError) => e);
    expect(error).toMatchObject({ kind: "unavailable" });
    expect((error as AppError).details.retryAfterSeconds).toBeGreaterThan(0);
    const deleted = s3.commandCalls(DeleteObjectsCommand)[0]!.args[0].input.Delete!.Objects!.map((o) => o.Key);
    const put = s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input.Key);
    expect(deleted!.sort()).toEqual(put.sort());
    expect(put).toHaveLength(2);
    // Named by the staged record before the first byte went, which goes once they are deleted.
    const [staged] = stagedPuts();
    expect([...(staged!.objectKeys as string[])].sort()).toEqual(put.sort());
    expect(dynamo.commandCalls(PutCommand)[0]!.calledBefore(s3.commandCalls(PutObjectCommand)[0]!)).toBe(true);
    expect(stagedDeletes()).toHaveLength(1);
  });

  it("reports objects it could not clean up and leaves their staged record for the TTL's purge", async () => {
    dynamo.on(TransactWriteCommand).rejects(throttled());
    s3.on(DeleteObjectsCommand).rejects(awsError("InternalError", 500));
    expect(await kindOf(store.create({ userId: "alice", title: "t", bytes: await tinyPng() }))).toBe("unavailable");
    expect(logged).toEqual(["objects_left_for_purge"]);
    expect(stagedPuts()).toHaveLength(1);
    expect(stagedDeletes()).toHaveLength(0);
  });

  it("writes no metadata when S3 refuses the bytes", async () => {
    s3.on(PutObjectCommand).rejects(awsError("SlowDown", 503));
    expect(await kindOf(store.create({ userId: "alice", title: "t", bytes: await tinyPng() }))).toBe("unavailable");
    expect(dynamo.commandCalls(TransactWriteCommand)).toHaveLength(0);
    expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(1);
  });

  it("lets an unexpected DynamoDB error through as it is, still cleaning up", async () => {
    dynamo.on(TransactWriteCommand).rejects(awsError("ValidationException", 400));
    expect(await kindOf(store.create({ userId: "alice", title: "t", bytes: await tinyPng() }))).toBe(
      "raw:ElectroError",
    );
    expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(1);
  });
});

describe("reads", () => {
  it("maps throttling on a read to unavailable", async () => {
    dynamo.on(GetCommand).rejects(awsError("ProvisionedThroughputExceededException", 400));
    expect(await kindOf(store.get(storedImage.imageId))).toBe("unavailable");
  });

  it("maps a refused connection on a listing to unavailable", async () => {
    dynamo.on(QueryCommand).rejects(Object.assign(new Error("connect"), { code: "ECONNREFUSED" }));
    expect(await kindOf(store.list({ userId: "alice" }))).toBe("unavailable");
  });
});

describe("update and delete under contention", () => {
  it("tries again when another change won the race, then succeeds", async () => {
    dynamo.on(TransactWriteCommand).rejectsOnce(conditionFailed()).resolves({});
    const image = await store.update(storedImage.imageId, "alice", { title: "New" });
    expect(image.title).toBe("New");
    expect(dynamo.commandCalls(TransactWriteCommand)).toHaveLength(2);
    const actions = dynamo.commandCalls(TransactWriteCommand)[1]!.args[0].input.TransactItems!;
    expect(actions[0]!.Update!.ConditionExpression).toContain("#revision = :revision");
    expect(
      actions[0]!.Update!.ExpressionAttributeValues![":revision0"] ??
        actions[0]!.Update!.ExpressionAttributeValues![":revision_w0"],
    ).toBe(4);
  });

  it("answers conflict when the race is lost every time", async () => {
    dynamo.on(TransactWriteCommand).rejects(conditionFailed());
    expect(await kindOf(store.update(storedImage.imageId, "alice", { title: "New" }))).toBe("conflict");
    expect(dynamo.commandCalls(TransactWriteCommand)).toHaveLength(3);
  });

  it("maps a throttled transaction on delete to unavailable and touches no bytes", async () => {
    dynamo
      .on(TransactWriteCommand)
      .rejects(awsError("TransactionCanceledException", 400, { CancellationReasons: [{ Code: "ThrottlingError" }] }));
    expect(await kindOf(store.remove(storedImage.imageId, "alice"))).toBe("unavailable");
    expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
  });

  it("deletes the items, a deletion record and then the bytes, in that order", async () => {
    dynamo.on(TransactWriteCommand).resolves({});
    await store.remove(storedImage.imageId, "alice");
    const actions = dynamo.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(actions.map((a) => Object.keys(a)[0])).toEqual(["Delete", "Delete", "Put"]);
    expect(actions[2]!.Put!.Item!.objectKeys).toEqual([storedImage.objectKey, storedImage.thumbnailKey]);
    expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(1);
  });

  it("hides another user's image as not found, without writing", async () => {
    expect(await kindOf(store.remove(storedImage.imageId, "mallory"))).toBe("not_found");
    expect(await kindOf(store.update(storedImage.imageId, "mallory", { title: "x" }))).toBe("not_found");
    expect(dynamo.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });
});
