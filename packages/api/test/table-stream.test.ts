import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import { createAwsClients, createImageStore, loadConfig } from "@images/core";
import { startLocalAws, type LocalAws } from "@images/local";
import { mockClient } from "aws-sdk-client-mock";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tinyPng } from "../../core/test/support/fixtures.ts";

/**
 * The deployed stream function, in-process, given the embedded store's change records as
 * Lambda gives a stream batch, with EventBridge answered by aws-sdk-client-mock. What it puts
 * on the bus is checked as an API destination will send it: the body is `$.detail.event`
 * (EventBridge writes the JSON of the value at that path), the headers are `$.detail.webhook.*`.
 */
const SECRET = `whsec_${Buffer.from("stream function test key 32 byte").toString("base64")}`;
const eventBridge = mockClient(EventBridgeClient);
const saved = { ...process.env };
let local: LocalAws;
let handler: (event: unknown) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;
let store: ReturnType<typeof createImageStore>;

beforeAll(async () => {
  local = await startLocalAws({ ttlSweepIntervalMs: 0 });
  Object.assign(process.env, local.env, {
    AWS_ENDPOINT_GUARD: "local",
    EVENT_BUS_NAME: "image-events",
    WEBHOOK_SECRET: SECRET,
  });
  const config = loadConfig();
  store = createImageStore({ config, clients: createAwsClients(config), log: () => {} });
  handler = (await import("../src/handlers/table-stream.ts")).handler as typeof handler;
});
afterAll(async () => {
  process.env = saved;
  eventBridge.restore();
  await local?.stop();
});

const entriesSent = () =>
  eventBridge
    .commandCalls(PutEventsCommand)
    .flatMap((call) => call.args[0].input.Entries ?? []) as PutEventsRequestEntry[];

describe("the table's stream function", () => {
  it("puts each change's event on the bus, signed so that the body an API destination sends verifies", async () => {
    eventBridge.reset();
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });
    const before = local.changes.records().length;
    const image = await store.create({ userId: "sam", title: "Stream", tags: ["s"], bytes: await tinyPng(5) });
    await store.update(image.image_id, "sam", { title: "Stream 2" });
    const records = local.changes.records().slice(before);

    expect(await handler({ Records: records })).toEqual({ batchItemFailures: [] });

    const entries = entriesSent();
    expect(entries.map((entry) => [entry.Source, entry.DetailType, entry.EventBusName])).toEqual([
      ["images", "image.ready", "image-events"],
      ["images", "image.updated", "image-events"],
    ]);
    for (const entry of entries) {
      const detail = JSON.parse(entry.Detail!) as {
        event: { id: string; subject: string; type: string };
        webhook: { id: string; timestamp: string; signature: string };
      };
      const body = JSON.stringify(detail.event);
      const headers = {
        "webhook-id": detail.webhook.id,
        "webhook-timestamp": detail.webhook.timestamp,
        "webhook-signature": detail.webhook.signature,
      };
      expect(new Webhook(SECRET).verify(body, headers)).toMatchObject({
        type: entry.DetailType,
        subject: image.image_id,
      });
      expect(detail.webhook.id).toBe(detail.event.id);
      expect(entry.Time).toBeInstanceOf(Date);
    }
  });

  it("names the first record of a batch EventBridge did not take all of, so Lambda retries from there", async () => {
    eventBridge.reset();
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: "InternalFailure" }] });
    const before = local.changes.records().length;
    const image = await store.create({ userId: "sam", title: "Refused", bytes: await tinyPng(6) });
    const records = local.changes.records().slice(before);
    // The image item's insert is the one record here with an event: its chunk is the one refused.
    const first = records.find((record) => (record.dynamodb.NewImage?.__edb_e__ as { S?: string })?.S === "image")!;
    expect(JSON.stringify(first.dynamodb.NewImage)).toContain(image.image_id);
    expect(await handler({ Records: records })).toEqual({
      batchItemFailures: [{ itemIdentifier: first.dynamodb.SequenceNumber }],
    });
    expect(await handler({})).toEqual({ batchItemFailures: [] });
  });
});
