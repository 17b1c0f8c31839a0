import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  type DynamoDBDocumentClient,
  type TransactWriteCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalAws, type LocalAws } from "../src/index.ts";
import { dynamoClients, uniqueId } from "./clients.ts";

type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];
type Item = Record<string, unknown>;

let local: LocalAws;
let doc: DynamoDBDocumentClient;
let TableName: string;

beforeAll(async () => {
  local = await startLocalAws();
  TableName = local.tableName;
  doc = dynamoClients(local).doc;
});
afterAll(async () => {
  doc?.destroy();
  await local?.stop();
});

const transact = (...TransactItems: TransactItem[]) => doc.send(new TransactWriteCommand({ TransactItems }));
const put = (Item: Item, ConditionExpression?: string): TransactItem => ({
  Put: { TableName, Item, ConditionExpression },
});
const get = async (pk: string, sk: string) => (await doc.send(new GetCommand({ TableName, Key: { pk, sk } }))).Item;
const seed = (Item: Item) => doc.send(new PutCommand({ TableName, Item }));

/** Runs the transaction and returns the TransactionCanceledException it must fail with. */
async function cancelled(...items: TransactItem[]): Promise<TransactionCanceledException> {
  const error = await transact(...items).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(TransactionCanceledException);
  return error as TransactionCanceledException;
}

describe("TransactWriteItems through the proxy", () => {
  it("commits three puts", async () => {
    const pk = uniqueId();
    await transact(put({ pk, sk: "a", n: 1 }), put({ pk, sk: "b", n: 2 }), put({ pk, sk: "c", n: 3 }));
    expect(await get(pk, "a")).toEqual({ pk, sk: "a", n: 1 });
    expect(await get(pk, "b")).toEqual({ pk, sk: "b", n: 2 });
    expect(await get(pk, "c")).toEqual({ pk, sk: "c", n: 3 });
  });

  it("applies nothing when the third action's condition fails, restoring overwritten and deleted items", async () => {
    const pk = uniqueId();
    await seed({ pk, sk: "overwritten", v: "old" });
    await seed({ pk, sk: "deleted", v: "old" });

    const error = await cancelled(
      put({ pk, sk: "overwritten", v: "new" }),
      { Delete: { TableName, Key: { pk, sk: "deleted" } } },
      put({ pk, sk: "conditional", v: "new" }, "attribute_exists(pk)"),
      put({ pk, sk: "after", v: "new" }),
    );

    expect(error.CancellationReasons).toEqual([
      { Code: "None" },
      { Code: "None" },
      { Code: "ConditionalCheckFailed", Message: "The conditional request failed" },
      { Code: "None" },
    ]);
    expect(error.message).toBe(
      "Transaction cancelled, please refer cancellation reasons for specific reasons [None, None, ConditionalCheckFailed, None]",
    );
    expect(await get(pk, "overwritten")).toEqual({ pk, sk: "overwritten", v: "old" });
    expect(await get(pk, "deleted")).toEqual({ pk, sk: "deleted", v: "old" });
    expect(await get(pk, "conditional")).toBeUndefined();
    expect(await get(pk, "after")).toBeUndefined();
  });

  it("applies Update and Delete actions, and rolls both back on failure", async () => {
    const pk = uniqueId();
    await seed({ pk, sk: "counter", count: 1 });
    await seed({ pk, sk: "gone", v: 1 });
    const update: TransactItem = {
      Update: {
        TableName,
        Key: { pk, sk: "counter" },
        UpdateExpression: "SET #count = #count + :one",
        ConditionExpression: "attribute_exists(pk)",
        ExpressionAttributeNames: { "#count": "count" },
        ExpressionAttributeValues: { ":one": 1 },
      },
    };

    await cancelled(
      update,
      { Delete: { TableName, Key: { pk, sk: "gone" } } },
      put({ pk, sk: "x" }, "attribute_exists(pk)"),
    );
    expect(await get(pk, "counter")).toEqual({ pk, sk: "counter", count: 1 });
    expect(await get(pk, "gone")).toEqual({ pk, sk: "gone", v: 1 });

    await transact(update, { Delete: { TableName, Key: { pk, sk: "gone" } } });
    expect(await get(pk, "counter")).toEqual({ pk, sk: "counter", count: 2 });
    expect(await get(pk, "gone")).toBeUndefined();
  });

  it("removes an item an Update created when the transaction fails", async () => {
    const pk = uniqueId();
    const error = await cancelled(
      {
        Update: {
          TableName,
          Key: { pk, sk: "new" },
          UpdateExpression: "SET v = :v",
          ExpressionAttributeValues: { ":v": "x" },
        },
      },
      { Delete: { TableName, Key: { pk, sk: "missing" }, ConditionExpression: "attribute_exists(pk)" } },
    );
    expect(error.CancellationReasons?.map((reason) => reason.Code)).toEqual(["None", "ConditionalCheckFailed"]);
    expect(await get(pk, "new")).toBeUndefined();
  });

  it("passes ConditionChecks without changing or creating the checked items", async () => {
    const pk = uniqueId();
    await seed({ pk, sk: "checked", status: "ready" });
    await transact(
      {
        ConditionCheck: {
          TableName,
          Key: { pk, sk: "checked" },
          ConditionExpression: "#status = :ready",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ":ready": "ready" },
        },
      },
      { ConditionCheck: { TableName, Key: { pk, sk: "absent" }, ConditionExpression: "attribute_not_exists(pk)" } },
      put({ pk, sk: "written" }),
    );
    expect(await get(pk, "checked")).toEqual({ pk, sk: "checked", status: "ready" });
    expect(await get(pk, "absent")).toBeUndefined();
    expect(await get(pk, "written")).toEqual({ pk, sk: "written" });
  });

  it("cancels on a failing ConditionCheck, returning the old item when asked", async () => {
    const pk = uniqueId();
    await seed({ pk, sk: "checked", status: "pending" });
    const error = await cancelled(put({ pk, sk: "written" }), {
      ConditionCheck: {
        TableName,
        Key: { pk, sk: "checked" },
        ConditionExpression: "#status = :ready",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: { ":ready": "ready" },
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      },
    });
    expect(error.CancellationReasons).toEqual([
      { Code: "None" },
      {
        Code: "ConditionalCheckFailed",
        Message: "The conditional request failed",
        Item: { pk: { S: pk }, sk: { S: "checked" }, status: { S: "pending" } },
      },
    ]);
    expect(await get(pk, "written")).toBeUndefined();
    expect(await get(pk, "checked")).toEqual({ pk, sk: "checked", status: "pending" });
  });

  it("reports an emulator validation error as a ValidationError reason and rolls back", async () => {
    const pk = uniqueId();
    const error = await cancelled(put({ pk, sk: "first" }), {
      // :missing is not defined, which DynamoDB (and dynalite) reject.
      Update: { TableName, Key: { pk, sk: "second" }, UpdateExpression: "SET v = :missing" },
    });
    expect(error.CancellationReasons?.[0]).toEqual({ Code: "None" });
    expect(error.CancellationReasons?.[1]?.Code).toBe("ValidationError");
    expect(error.CancellationReasons?.[1]?.Message).toMatch(/:missing/);
    expect(await get(pk, "first")).toBeUndefined();
  });

  it("rejects two operations on one item with a ValidationException, applying nothing", async () => {
    const pk = uniqueId();
    const error = await transact(put({ pk, sk: "other" }), put({ pk, sk: "same", v: 1 }), {
      Delete: { TableName, Key: { pk, sk: "same" } },
    }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      name: "ValidationException",
      message: "Transaction request cannot include multiple operations on one item",
      $metadata: { httpStatusCode: 400 },
    });
    expect(await get(pk, "other")).toBeUndefined();
  });

  it("validates the number and the shape of TransactItems", async () => {
    const tooMany = Array.from({ length: 101 }, (_, i) => put({ pk: uniqueId(), sk: String(i) }));
    await expect(transact(...tooMany)).rejects.toMatchObject({
      name: "ValidationException",
      message: expect.stringMatching(/less than or equal to 100/),
    });
    const pk = uniqueId();
    await expect(
      transact({ Put: { TableName, Item: { pk, sk: "a" } }, Delete: { TableName, Key: { pk, sk: "a" } } }),
    ).rejects.toMatchObject({ name: "ValidationException", message: expect.stringMatching(/only contain one of/) });
    await expect(transact(put({ pk }))).rejects.toMatchObject({
      name: "ValidationException",
      message: "The provided key element does not match the schema",
    });
  });

  it("answers ResourceNotFoundException for an unknown table", async () => {
    await expect(transact({ Put: { TableName: "no-such-table", Item: { pk: "a", sk: "b" } } })).rejects.toMatchObject({
      name: "ResourceNotFoundException",
    });
  });

  it("never lets a Query see part of a transaction", async () => {
    const pk = `concurrent#${uniqueId()}`;
    const ids = Array.from({ length: 20 }, () => uniqueId());
    let writing = true;
    let queries = 0;
    const partial: string[] = [];

    const reader = (async () => {
      while (writing) {
        const { Items = [] } = await doc.send(
          new QueryCommand({
            TableName,
            KeyConditionExpression: "pk = :pk",
            ExpressionAttributeValues: { ":pk": pk },
          }),
        );
        queries++;
        const perId = new Map<string, number>();
        for (const item of Items) perId.set(item.id as string, (perId.get(item.id as string) ?? 0) + 1);
        for (const [id, count] of perId) if (count !== 5) partial.push(`${id}: ${count}`);
      }
    })();

    await Promise.all(
      ids.map((id) => transact(...Array.from({ length: 5 }, (_, n) => put({ pk, sk: `${id}#${n}`, id })))),
    );
    writing = false;
    await reader;

    expect(partial).toEqual([]);
    expect(queries).toBeGreaterThan(1);
    const { Items = [] } = await doc.send(
      new QueryCommand({
        TableName,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": pk },
      }),
    );
    expect(Items).toHaveLength(100);
  });

  it("serialises transactions, so a rollback never undoes another transaction's write", async () => {
    const pk = uniqueId();
    await seed({ pk, sk: "counter", count: 0 });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        transact(
          {
            Update: {
              TableName,
              Key: { pk, sk: "counter" },
              UpdateExpression: "ADD #count :one",
              ExpressionAttributeNames: { "#count": "count" },
              ExpressionAttributeValues: { ":one": 1 },
            },
          },
          // Odd transactions fail after their increment was applied, and must undo only their own.
          put({ pk, sk: `marker#${i}` }, i % 2 === 1 ? "attribute_exists(pk)" : undefined),
        ),
      ),
    );
    expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(5);
    expect(await get(pk, "counter")).toEqual({ pk, sk: "counter", count: 5 });
  });

  it("keeps ordinary operations working through the proxy", async () => {
    const pk = uniqueId();
    await seed({ pk, sk: "plain", v: 1 });
    await doc.send(new DeleteCommand({ TableName, Key: { pk, sk: "plain" } }));
    expect(await get(pk, "plain")).toBeUndefined();
  });
});
