import {
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalAws, type ChangeFeedRecord, type LocalAws } from "../src/index.ts";
import { dynamoClients, uniqueId } from "./clients.ts";

/**
 * The embedded store's change feed, checked against what DynamoDB Streams does: one record per
 * changed item, with the item before and after, in commit order, and nothing for a write that
 * did not happen. And its TTL: expired items go, reported as removed by the service.
 */
let local: LocalAws;
let doc: DynamoDBDocumentClient;
let TableName: string;
const seen: ChangeFeedRecord[] = [];

beforeAll(async () => {
  local = await startLocalAws({ ttlSweepIntervalMs: 50 });
  TableName = local.tableName;
  doc = dynamoClients(local).doc;
  local.changes.subscribe((record) => seen.push(record));
});
afterAll(async () => {
  doc?.destroy();
  await local?.stop();
});

/** The records of one partition key, as plain values. */
function recordsOf(pk: string) {
  return seen
    .filter((record) => unmarshall(record.dynamodb.Keys as never).pk === pk)
    .map((record) => ({
      eventName: record.eventName,
      sk: unmarshall(record.dynamodb.Keys as never).sk,
      old: record.dynamodb.OldImage ? unmarshall(record.dynamodb.OldImage as never) : undefined,
      new: record.dynamodb.NewImage ? unmarshall(record.dynamodb.NewImage as never) : undefined,
      identity: record.userIdentity,
      sequence: BigInt(record.dynamodb.SequenceNumber),
    }));
}

describe("change feed", () => {
  it("gives each single-item write its record with the old and new image, in order", async () => {
    const pk = uniqueId();
    await doc.send(new PutCommand({ TableName, Item: { pk, sk: "a", n: 1 } }));
    await doc.send(
      new UpdateCommand({
        TableName,
        Key: { pk, sk: "a" },
        UpdateExpression: "SET n = :n",
        ExpressionAttributeValues: { ":n": 2 },
      }),
    );
    // Writes that leave the item as it was, or fail their condition, make no record.
    await doc.send(new PutCommand({ TableName, Item: { pk, sk: "a", n: 2 } }));
    await expect(
      doc.send(
        new PutCommand({ TableName, Item: { pk, sk: "a", n: 9 }, ConditionExpression: "attribute_not_exists(pk)" }),
      ),
    ).rejects.toThrow(/conditional/i);
    await doc.send(new DeleteCommand({ TableName, Key: { pk, sk: "a" } }));
    await doc.send(new DeleteCommand({ TableName, Key: { pk, sk: "never-there" } }));

    const records = recordsOf(pk);
    expect(records.map(({ eventName, old, new: after }) => ({ eventName, old, new: after }))).toEqual([
      { eventName: "INSERT", old: undefined, new: { pk, sk: "a", n: 1 } },
      { eventName: "MODIFY", old: { pk, sk: "a", n: 1 }, new: { pk, sk: "a", n: 2 } },
      { eventName: "REMOVE", old: { pk, sk: "a", n: 2 }, new: undefined },
    ]);
    const sequences = records.map((record) => record.sequence);
    expect([...sequences].sort((a, b) => (a < b ? -1 : 1))).toEqual(sequences);
    expect(new Set(seen.map((record) => record.eventID)).size).toBe(seen.length);
    expect(seen[0]).toMatchObject({ eventSource: "aws:dynamodb", dynamodb: { StreamViewType: "NEW_AND_OLD_IMAGES" } });
  });

  it("gives a committed transaction one record per item written, and a cancelled one none", async () => {
    const pk = uniqueId();
    await doc.send(new PutCommand({ TableName, Item: { pk, sk: "kept", v: 1 } }));
    await doc.send(new PutCommand({ TableName, Item: { pk, sk: "guard" } }));
    await doc.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName, Item: { pk, sk: "x", v: 1 } } },
          {
            Update: {
              TableName,
              Key: { pk, sk: "kept" },
              UpdateExpression: "SET v = :v",
              ExpressionAttributeValues: { ":v": 2 },
            },
          },
          // A condition check writes nothing, so it has no record.
          { ConditionCheck: { TableName, Key: { pk, sk: "guard" }, ConditionExpression: "attribute_exists(pk)" } },
        ],
      }),
    );
    const before = recordsOf(pk).length;
    await expect(
      doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName, Item: { pk, sk: "y", v: 1 } } },
            { Delete: { TableName, Key: { pk, sk: "x" } } },
            {
              ConditionCheck: {
                TableName,
                Key: { pk, sk: "kept" },
                ConditionExpression: "v = :old",
                ExpressionAttributeValues: { ":old": 1 },
              },
            },
          ],
        }),
      ),
    ).rejects.toThrow(/cancel/i);
    const records = recordsOf(pk);
    expect(records.length).toBe(before);
    expect(records.map((record) => [record.eventName, record.sk])).toEqual([
      ["INSERT", "kept"],
      ["INSERT", "guard"],
      ["INSERT", "x"],
      ["MODIFY", "kept"],
    ]);
    expect((await doc.send(new GetCommand({ TableName, Key: { pk, sk: "x" } }))).Item).toEqual({ pk, sk: "x", v: 1 });
  });

  it("gives each item of a batch write its record", async () => {
    const pk = uniqueId();
    await doc.send(new PutCommand({ TableName, Item: { pk, sk: "old" } }));
    await doc.send(
      new BatchWriteCommand({
        RequestItems: {
          [TableName]: [{ PutRequest: { Item: { pk, sk: "new" } } }, { DeleteRequest: { Key: { pk, sk: "old" } } }],
        },
      }),
    );
    expect(recordsOf(pk).map((record) => [record.eventName, record.sk])).toEqual([
      ["INSERT", "old"],
      ["INSERT", "new"],
      ["REMOVE", "old"],
    ]);
  });

  it("replays what was recorded to a listener added later", async () => {
    const late: ChangeFeedRecord[] = [];
    const stop = local.changes.subscribe((record) => late.push(record));
    stop();
    expect(late.map((record) => record.eventID)).toEqual(local.changes.records().map((record) => record.eventID));
    expect(late.length).toBeGreaterThan(0);
  });
});

describe("TTL sweeper", () => {
  it("pages through a table larger than its Scan page and removes every expired item", async () => {
    const pk = uniqueId();
    // Due only at a time the interval sweeper (at the clock's time) has not reached.
    const due = Math.floor(Date.now() / 1000) + 1000;
    const count = 450;
    for (let i = 0; i < count; i += 25) {
      const RequestItems = {
        [TableName]: Array.from({ length: Math.min(25, count - i) }, (_, j) => ({
          PutRequest: {
            Item: { pk, sk: `item-${String(i + j).padStart(3, "0")}`, expires_at: due, note: "x".repeat(200) },
          },
        })),
      };
      await doc.send(new BatchWriteCommand({ RequestItems }));
    }
    expect(await local.sweepExpired(due + 1)).toBeGreaterThanOrEqual(count);
    const removed = recordsOf(pk).filter((record) => record.eventName === "REMOVE");
    expect(removed).toHaveLength(count);
    expect(new Set(removed.map((record) => record.sk)).size).toBe(count);
    expect(removed.every((record) => record.identity?.type === "Service" && record.old?.note === "x".repeat(200))).toBe(
      true,
    );
  });

  it("removes what has expired as DynamoDB's TTL does, and leaves the rest", async () => {
    const pk = uniqueId();
    const now = Math.floor(Date.now() / 1000);
    await doc.send(new PutCommand({ TableName, Item: { pk, sk: "expired", expires_at: now - 10 } }));
    await doc.send(new PutCommand({ TableName, Item: { pk, sk: "later", expires_at: now + 3600 } }));
    await doc.send(new PutCommand({ TableName, Item: { pk, sk: "no-ttl" } }));
    // Not a Number: a TTL ignores it. More than five years past: so does DynamoDB's.
    await doc.send(new PutCommand({ TableName, Item: { pk, sk: "text", expires_at: String(now - 10) } }));
    await doc.send(new PutCommand({ TableName, Item: { pk, sk: "ancient", expires_at: now - 6 * 365 * 86_400 } }));

    // The interval sweeper (50 ms here) gets there by itself.
    await expect.poll(() => recordsOf(pk).filter((r) => r.eventName === "REMOVE").length, { timeout: 5000 }).toBe(1);
    const removal = recordsOf(pk).find((record) => record.eventName === "REMOVE")!;
    expect(removal).toMatchObject({
      sk: "expired",
      old: { pk, sk: "expired", expires_at: now - 10 },
      identity: { type: "Service", principalId: "dynamodb.amazonaws.com" },
    });
    expect(await local.sweepExpired()).toBe(0);
    for (const sk of ["later", "no-ttl", "text", "ancient"]) {
      expect((await doc.send(new GetCommand({ TableName, Key: { pk, sk } }))).Item, sk).toBeDefined();
    }
    // Given a later time, the one due then goes too; a request's removal carries no identity.
    expect(await local.sweepExpired(now + 7200)).toBe(1);
    await doc.send(new DeleteCommand({ TableName, Key: { pk, sk: "no-ttl" } }));
    const removals = recordsOf(pk).filter((record) => record.eventName === "REMOVE");
    expect(removals.map((record) => [record.sk, record.identity?.type])).toEqual([
      ["expired", "Service"],
      ["later", "Service"],
      ["no-ttl", undefined],
    ]);
  });
});
