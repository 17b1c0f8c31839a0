import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { createAwsClients, createImageStore, loadConfig, TABLE } from "@images/core";
import { createDb } from "@images/core/db/service";
import type { ImageEvent } from "@images/core/events/image-events";
import { startLocalAws, type LocalAws } from "@images/local";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tinyPng } from "../../core/test/support/fixtures.ts";
import { createApp } from "../src/app.ts";
import { createDevEvents, type DevEvents } from "../src/dev-events.ts";
import { signDevelopmentToken } from "../src/development-token.ts";
import { createLogger } from "../src/logger.ts";

/**
 * The dev server's events: the app on the embedded store, its change feed through the core
 * consumer, `GET /dev/events`, and a webhook receiver on a real socket that checks every
 * delivery with standardwebhooks' own Webhook.verify (and refuses the first of each, so the
 * retry is exercised).
 */
const SECRET = `whsec_${Buffer.from("dev events test key, 32 bytes!!").toString("base64")}`;
let local: LocalAws;
let events: DevEvents;
let app: ReturnType<typeof createApp>;
let clients: ReturnType<typeof createAwsClients>;
let store: ReturnType<typeof createImageStore>;
let receiver: http.Server;
const received: { id: string; type: string; subject: string; attempt: number }[] = [];
const badSignatures: string[] = [];
const attemptsById = new Map<string, number>();

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      try {
        const event = new Webhook(SECRET).verify(body, req.headers as Record<string, string>) as ImageEvent;
        const attempt = (attemptsById.get(event.id) ?? 0) + 1;
        attemptsById.set(event.id, attempt);
        received.push({ id: event.id, type: event.type, subject: event.subject, attempt });
        // Every first attempt fails: the dev server must try again, with the same id.
        res.writeHead(attempt === 1 ? 503 : 204).end();
      } catch (error) {
        badSignatures.push(String(error));
        res.writeHead(400).end();
      }
    });
  });
  receiver.listen(0, "127.0.0.1");
  await once(receiver, "listening");
  const port = (receiver.address() as AddressInfo).port;

  local = await startLocalAws({ ttlSweepIntervalMs: 0 });
  const config = loadConfig({
    ...local.env,
    AWS_ENDPOINT_GUARD: "local",
    WEBHOOK_URL: `http://127.0.0.1:${port}/hook`,
    WEBHOOK_SECRET: SECRET,
  });
  clients = createAwsClients(config);
  store = createImageStore({ config, clients, log: () => {} });
  app = createApp({ config, store, logger: createLogger({ level: "silent" }) });
  events = createDevEvents({ config, clients, feed: local.changes, webhookRetryMs: 20, recordRetryMs: 20 });
  app.route("/", events.routes);
});
afterAll(async () => {
  events?.stop();
  await local?.stop();
  receiver?.close();
});

async function call(method: string, path: string, body?: RequestInit["body"], headers: Record<string, string> = {}) {
  const authorization = `Bearer ${await signDevelopmentToken("alice")}`;
  return app.request(path, { method, body, headers: { authorization, ...headers } });
}

async function upload(title: string, tags = "dev,events") {
  const form = new FormData();
  form.append("file", new Blob([await tinyPng(title.length)]));
  form.append("title", title);
  form.append("tags", tags);
  const response = await call("POST", "/images/upload", form);
  expect(response.status).toBe(201);
  return ((await response.json()) as { image_id: string }).image_id;
}

async function eventsOf(query = "") {
  const response = await app.request(`/dev/events${query}`);
  expect(response.status).toBe(200);
  return (await response.json()) as { items: ImageEvent[]; last_sequence: string | null };
}

describe("GET /dev/events", () => {
  it("has each committed change's event, in order, and none for a refused request", async () => {
    const id = await upload("first");
    expect(
      (
        await call("PATCH", `/images/${id}`, JSON.stringify({ title: "second" }), {
          "content-type": "application/json",
        })
      ).status,
    ).toBe(200);
    // Refused: not the owner's, and a bad title; neither stores anything, so no event.
    const other = await app.request(`/images/${id}`, {
      method: "PATCH",
      body: JSON.stringify({ title: "stolen" }),
      headers: { authorization: `Bearer ${await signDevelopmentToken("mallory")}`, "content-type": "application/json" },
    });
    expect(other.status).toBe(404);
    expect(
      (await call("PATCH", `/images/${id}`, JSON.stringify({ title: "" }), { "content-type": "application/json" }))
        .status,
    ).toBe(400);
    expect((await call("DELETE", `/images/${id}`)).status).toBe(204);

    const { items } = await eventsOf(`?subject=${id}`);
    expect(items.map((event) => [event.type, event.data?.title])).toEqual([
      ["image.ready", "first"],
      ["image.updated", "second"],
      ["image.deleted", "second"],
    ]);
    for (const event of items) expect(event).toMatchObject({ specversion: "1.0", source: "/images", subject: id });
    const sequences = items.map((event) => BigInt(event.sequence));
    expect(sequences).toEqual([...sequences].sort((a, b) => (a < b ? -1 : 1)));

    // ?after= gives what came later only.
    const later = await eventsOf(`?subject=${id}&after=${items[0]!.sequence}`);
    expect(later.items.map((event) => event.type)).toEqual(["image.updated", "image.deleted"]);
    expect(later.last_sequence).toBe(items[2]!.sequence);
    expect((await eventsOf(`?after=${items[2]!.sequence}&subject=${id}`)).items).toEqual([]);
  });

  it("says image.failed when a file sent straight to S3 is refused", async () => {
    const response = await call(
      "POST",
      "/images/upload",
      JSON.stringify({ title: "big", tags: [], content_type: "image/png", size_bytes: 64 }),
      { "content-type": "application/json" },
    );
    expect(response.status).toBe(201);
    const { image, upload } = (await response.json()) as {
      image: { image_id: string };
      upload: { url: string; fields: Record<string, string> };
    };
    const form = new FormData();
    for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
    form.append("file", new Blob([Buffer.alloc(64, 7)], { type: "image/png" }));
    expect((await fetch(upload.url, { method: "POST", body: form })).status).toBeLessThan(300);
    await store.finishUpload(upload.fields.key!);
    const { items } = await eventsOf(`?subject=${image.image_id}`);
    expect(items.map((event) => event.type)).toEqual(["image.failed"]);
    expect(items[0]!.data).toMatchObject({ status: "failed", title: "big" });
    expect(items[0]!.data?.failure_reason).toBeTruthy();
  });

  it("refuses a bad ?after= or ?limit= with a problem", async () => {
    expect((await app.request("/dev/events?after=abc")).status).toBe(400);
    expect((await app.request("/dev/events?limit=0")).status).toBe(400);
    expect((await eventsOf("?limit=1")).items).toHaveLength(1);
  });
});

describe("the TTL purge", () => {
  it("removes a trashed image past its time, its objects and tag items, and says image.deleted", async () => {
    const id = await upload("to purge", "purge,trash");
    const objectsBefore = await objectKeys();
    const keys = objectsBefore.filter((key) => key.includes(id));
    expect(keys.length).toBeGreaterThanOrEqual(2);
    // Trashed as the lifecycle API does it (trashedAt, and the TTL at the purge time), here by hand.
    const Key = imageKey(id);
    const trashedAt = new Date(Date.now() - 31 * 86_400_000).toISOString();
    await clients.dynamo.send(
      new UpdateCommand({
        TableName: local.tableName,
        Key,
        UpdateExpression: "SET trashedAt = :at, #ttl = :purge",
        ExpressionAttributeNames: { "#ttl": TABLE.ttlAttribute },
        ExpressionAttributeValues: { ":at": trashedAt, ":purge": Math.floor(Date.now() / 1000) - 86_400 },
      }),
    );
    expect(await local.sweepExpired()).toBe(1);
    await events.settled();
    expect((await clients.dynamo.send(new GetCommand({ TableName: local.tableName, Key }))).Item).toBeUndefined();
    expect(await itemsUnder(Key[TABLE.partitionKey])).toEqual([]);
    expect((await objectKeys()).filter((key) => key.includes(id))).toEqual([]);
    const { items } = await eventsOf(`?subject=${id}`);
    expect(items.map((event) => event.type)).toEqual(["image.ready", "image.trashed", "image.deleted"]);
    expect(items[2]!.data).toMatchObject({ status: "trashed", trashed_at: trashedAt });
  });
});

describe("the lifecycle API's trash", () => {
  it("says image.trashed and image.restored, then image.deleted when the TTL purges it, leaving nothing", async () => {
    const id = await upload("through the api", "lifecycle,trash");
    const trashed = await call("POST", `/images/${id}/trash`);
    expect(trashed.status).toBe(200);
    const { purge_at } = (await trashed.json()) as { purge_at: string };
    expect((await call("POST", `/images/${id}/restore`)).status).toBe(200);
    const again = await call("POST", `/images/${id}/trash`);
    expect(again.status).toBe(200);
    // Trashed again, it is purged TRASH_DAYS after the second trash: a second or more after the
    // first one's purge time on a busy machine.
    const purgeAgain = ((await again.json()) as { purge_at: string }).purge_at;
    expect(Date.parse(purgeAgain)).toBeGreaterThanOrEqual(Date.parse(purge_at));
    // Nothing is due yet; at the purge time the TTL removes it (and what else is due by then:
    // upload, deletion and idempotency records).
    expect(await local.sweepExpired()).toBe(0);
    expect(await local.sweepExpired(Date.parse(purgeAgain) / 1000 + 1)).toBeGreaterThanOrEqual(1);
    await events.settled();
    const { items } = await eventsOf(`?subject=${id}`);
    expect(items.map((event) => event.type)).toEqual([
      "image.ready",
      "image.trashed",
      "image.restored",
      "image.trashed",
      "image.deleted",
    ]);
    expect(items[1]!.data).toMatchObject({ status: "trashed", purge_at });
    expect(items[2]!.data).toMatchObject({ status: "ready", tags: ["lifecycle", "trash"] });
    expect(await itemsUnder(imageKey(id)[TABLE.partitionKey])).toEqual([]);
    expect((await objectKeys()).filter((key) => key.includes(id))).toEqual([]);
  });
});

describe("webhook", () => {
  it("gets every event signed as Standard Webhooks says, retried until taken, in order per image", async () => {
    await events.delivered();
    expect(badSignatures).toEqual([]);
    const all = events.events();
    const taken = received.filter((delivery) => delivery.attempt === 2);
    expect(taken.map((delivery) => delivery.id).sort()).toEqual(all.map((event) => event.id).sort());
    // Per image, the receiver took them in the order they happened.
    for (const subject of new Set(all.map((event) => event.subject))) {
      expect(taken.filter((d) => d.subject === subject).map((d) => d.id)).toEqual(
        all.filter((event) => event.subject === subject).map((event) => event.id),
      );
    }
  });
});

/** The image item's key, as the entity builds it. */
const imageKey = (imageId: string) =>
  createDb(clients.dynamo, local.tableName).entities.image.get({ imageId }).params().Key as Record<string, string>;

async function objectKeys(): Promise<string[]> {
  const { ListObjectsV2Command } = await import("@aws-sdk/client-s3");
  const out = await clients.s3.send(new ListObjectsV2Command({ Bucket: local.bucketName }));
  return (out.Contents ?? []).map((object) => object.Key ?? "");
}

async function itemsUnder(pk: unknown) {
  const { QueryCommand } = await import("@aws-sdk/lib-dynamodb");
  const out = await clients.dynamo.send(
    new QueryCommand({
      TableName: local.tableName,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": pk },
    }),
  );
  return out.Items ?? [];
}
