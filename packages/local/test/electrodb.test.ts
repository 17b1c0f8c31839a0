import { Entity, Service } from "electrodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalAws, type LocalAws } from "../src/index.ts";
import { dynamoClients, uniqueId } from "./clients.ts";

// The production code writes transactions with ElectroDB's service.transaction.write.
describe("ElectroDB transactions against the proxy", () => {
  let local: LocalAws;
  let doc: DynamoDBDocumentClient;
  beforeAll(async () => {
    local = await startLocalAws();
    doc = dynamoClients(local).doc;
  });
  afterAll(async () => {
    doc?.destroy();
    await local?.stop();
  });

  function service() {
    const image = new Entity(
      {
        model: { entity: "image", version: "1", service: "local-test" },
        attributes: { id: { type: "string", required: true }, status: { type: "string", required: true } },
        indexes: { primary: { pk: { field: "pk", composite: ["id"] }, sk: { field: "sk", composite: [] } } },
      },
      { table: local.tableName, client: doc },
    );
    return { image, service: new Service({ image }) };
  }

  it("commits, and reports a cancelled transaction with its reasons and the old item", async () => {
    const { image, service: images } = service();
    const [a, b, c] = [uniqueId(), uniqueId(), uniqueId()];

    const committed = await images.transaction
      .write(({ image }) => [
        image.create({ id: a, status: "ready" }).commit(),
        image.create({ id: b, status: "ready" }).commit(),
      ])
      .go();
    expect(committed.canceled).toBe(false);

    const cancelled = await images.transaction
      .write(({ image }) => [
        image.create({ id: c, status: "ready" }).commit(),
        image.create({ id: a, status: "duplicate" }).commit({ response: "all_old" }),
      ])
      .go();
    expect(cancelled.canceled).toBe(true);
    expect(cancelled.data.map(({ rejected, code }) => ({ rejected, code }))).toEqual([
      { rejected: false, code: "None" },
      { rejected: true, code: "ConditionalCheckFailed" },
    ]);
    expect(cancelled.data[1]?.item).toEqual({ id: a, status: "ready" });

    expect((await image.get({ id: c }).go()).data).toBeNull();
    expect((await image.get({ id: a }).go()).data).toEqual({ id: a, status: "ready" });
  });
});
