/**
 * The child process of the load section. One process, one event loop, as `npm run dev`:
 * the embedded emulators, the API built exactly as src/dev-server.ts builds it, and beside it a
 * bare node:http server that does the same operations straight with the AWS SDK on the same
 * emulators (the floor no design of the API avoids). Both listen on free loopback ports.
 * Tells the parent where they are over IPC, and stops when the parent disconnects.
 */
import { createHash, randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable, Writable } from "node:stream";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
} from "@aws-sdk/lib-dynamodb";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { serve } from "@hono/node-server";
import { createApp, createLogger, signDevelopmentToken } from "@images/api";
import { createAwsClients, createImageStore, loadConfig, processImage } from "@images/core";
import { createDb } from "@images/core/db/service";
import { shardOf } from "@images/core/image/listing-shards";
import { createLinkSigner } from "@images/core/storage/link-signer";
import type { ImageRecord, ListingRecord } from "@images/core/image/records";
import { startLocalAws } from "@images/local";
import { HOT_TAG, makeImages, seedImages, tinyPngShape } from "./dataset.ts";

const aws = await startLocalAws({ tableName: "bench", bucketName: "bench" });
// As the dev server, plus: one bench user sends every upload, so the per-user limit is raised.
const config = loadConfig({
  ...process.env,
  ...aws.env,
  AWS_ENDPOINT_GUARD: "local",
  UPLOAD_RATE_LIMIT_PER_MINUTE: "100000",
});
const store = createImageStore({ config, clients: createAwsClients(config) });
const app = createApp({ config, store, logger: createLogger({ level: process.env.LOG_LEVEL ?? "info" }) });

const seeded = makeImages(1000, new Date(), await tinyPngShape(), 11, config.listingShards);
await seedImages(createDb(createAwsClients(config).dynamo, config.tableName), seeded);

// --- The direct path: what any implementation must do for the same answers ---
const dynamo = DynamoDBDocumentClient.from(
  new DynamoDBClient({ region: config.region, endpoint: config.dynamoEndpoint, credentials: config.credentials }),
  { marshallOptions: { removeUndefinedValues: true } },
);
const s3 = new S3Client({
  region: config.region,
  endpoint: config.s3Endpoint,
  credentials: config.credentials,
  forcePathStyle: true,
  requestChecksumCalculation: "WHEN_REQUIRED",
  responseChecksumValidation: "WHEN_REQUIRED",
});
const table = config.tableName;
const bucket = config.bucketName;

const after = (time: string, id: string) => `uploadTime_${time}#imageId_${id}`;
/** The image item and its tag items, keyed as the ElectroDB entities key them. */
function itemsOf(record: ImageRecord) {
  const { month, shard, revision, ...listing } = record;
  const image = {
    ...record,
    pk: `$images#imageId_${record.imageId}`,
    sk: "$imageRecord#image_1",
    gsi1pk: `$images#month_${month}#shard_${shard}`,
    gsi1sk: `$image_1#${after(record.uploadTime, record.imageId)}`,
    gsi2pk: `$images#userId_${record.userId}`,
    gsi2sk: `$image_1#${after(record.uploadTime, record.imageId)}`,
    __edb_e__: "image",
    __edb_v__: "1",
    revision,
  };
  const tags = record.tags.map((tag) => ({
    ...(listing as ListingRecord),
    tag,
    shard,
    pk: `$images#imageId_${record.imageId}`,
    sk: `$imageRecord#imageTag_1#tag_${tag}`,
    gsi1pk: `$images#tag_${tag}#shard_${shard}`,
    gsi1sk: `$imageTag_1#${after(record.uploadTime, record.imageId)}`,
    gsi2pk: `$images#userId_${record.userId}#tag_${tag}`,
    gsi2sk: `$imageTag_1#${after(record.uploadTime, record.imageId)}`,
    __edb_e__: "imageTag",
    __edb_v__: "1",
  }));
  return { image, tags };
}

/** The hand-written items must be the entities' items, or the comparison means nothing. */
function checkItemsMatchEntities(record: ImageRecord) {
  const db = createDb(dynamo, table);
  const ours = itemsOf(record);
  const sorted = (item: object) => JSON.stringify(Object.fromEntries(Object.entries(item).sort()));
  const theirs = [
    db.entities.image.create(record).params().Item as object,
    ...record.tags.map(
      (tag) =>
        db.entities.imageTag.create({ ...(record as ListingRecord), shard: record.shard, tag }).params().Item as object,
    ),
  ];
  const mine = [ours.image, ...ours.tags];
  if (mine.some((item, i) => sorted(item) !== sorted(theirs[i]!))) {
    throw new Error("the direct path's items differ from the entities' items");
  }
}
checkItemsMatchEntities(seeded[0]!);

const send = (res: ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
};

/** How the direct path signs its links: the SDK's getSignedUrl, or the store's way (one endpoint, one signer). */
type Signing = "getSignedUrl" | "store";
const signGet = createLinkSigner(s3, bucket);
const presign = (key: string, contentType: string, name: string, signing: Signing = "getSignedUrl") =>
  signing === "store"
    ? signGet(
        key,
        { "response-content-type": contentType, "response-content-disposition": `inline; filename="${name}"` },
        config.downloadUrlTtlSeconds,
      )
    : getSignedUrl(
        s3,
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          ResponseContentType: contentType,
          ResponseContentDisposition: `inline; filename="${name}"`,
        }),
        { expiresIn: config.downloadUrlTtlSeconds },
      );

/** One image with links to its bytes and its thumbnail: GetItem and two presigned GETs. */
async function getDirect(imageId: string, signing?: Signing) {
  const { Item } = await dynamo.send(
    new GetCommand({
      TableName: table,
      Key: { pk: `$images#imageId_${imageId}`, sk: "$imageRecord#image_1" },
      ConsistentRead: true,
    }),
  );
  if (!Item) return null;
  const [download, thumbnail] = await Promise.all([
    presign(Item.objectKey, Item.contentType, `${Item.imageId}.png`, signing),
    presign(Item.thumbnailKey, "image/webp", `${Item.imageId}-thumbnail.webp`, signing),
  ]);
  return { ...Item, download_url: download, thumbnail_url: thumbnail };
}

/**
 * A tag's newest 20 (and whether there are more), each with its thumbnail's link unless `links`
 * is false. The tag is spread over the store's write shards: the shortest way to the same answer
 * is one round, each shard asked for 21 and the answers merged.
 */
async function listDirect(tag: string, links = true, signing?: Signing) {
  const shards = await Promise.all(
    Array.from({ length: config.listingShards }, (_, shard) =>
      dynamo.send(
        new QueryCommand({
          TableName: table,
          IndexName: "gsi1",
          KeyConditionExpression: "gsi1pk = :pk AND begins_with(gsi1sk, :sk)",
          ExpressionAttributeValues: { ":pk": `$images#tag_${tag}#shard_${shard}`, ":sk": "$imageTag_1#uploadTime_" },
          ScanIndexForward: false,
          Limit: 21,
        }),
      ),
    ),
  );
  const out = {
    Items: shards
      .flatMap((answer) => answer.Items ?? [])
      .sort((a, b) => (String(a.gsi1sk) < String(b.gsi1sk) ? 1 : -1))
      .slice(0, 21),
  };
  // The index (gsi1) holds keys and merge attributes only: the page's items come from the table.
  const page = await readItems((out.Items ?? []).slice(0, 20));
  const items = links
    ? await Promise.all(
        page.map(async (item) => ({
          ...item,
          thumbnail_url: await presign(
            `thumbnails/${item.imageId}.webp`,
            "image/webp",
            `${item.imageId}-thumbnail.webp`,
            signing,
          ),
        })),
      )
    : page;
  return { items, more: (out.Items ?? []).length > 20 };
}

/** The table's items under these index entries' keys, in their order: BatchGetItem, again for what it left. */
async function readItems(entries: Record<string, unknown>[]) {
  const found = new Map<string, Record<string, unknown>>();
  const keyOf = (item: Record<string, unknown>) => `${String(item.pk)}|${String(item.sk)}`;
  let keys = entries.map((entry) => ({ pk: entry.pk, sk: entry.sk }));
  while (keys.length > 0) {
    const answer = await dynamo.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: keys } } }));
    for (const item of answer.Responses?.[table] ?? []) found.set(keyOf(item), item);
    keys = (answer.UnprocessedKeys?.[table]?.Keys ?? []) as typeof keys;
  }
  return entries.flatMap((entry): Record<string, unknown>[] => {
    const item = found.get(keyOf(entry));
    return item ? [item] : [];
  });
}

/** The bytes as sent to S3, the image and its tag items in one transaction: no image processing. */
async function uploadDirect(bytes: Uint8Array, title: string, tags: string[]) {
  const now = new Date();
  const imageId = `img_${randomUUID().replace(/-/g, "").slice(0, 26).toUpperCase()}`;
  const record: ImageRecord = {
    imageId,
    userId: "bench-user",
    uploadTime: now.toISOString(),
    month: now.toISOString().slice(0, 7),
    shard: shardOf(imageId, config.listingShards),
    title,
    tags,
    contentType: "image/jpeg",
    sizeBytes: bytes.byteLength,
    width: 0,
    height: 0,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    objectKey: `images/${imageId}.jpg`,
    revision: 1,
  };
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: record.objectKey, Body: bytes, ContentType: "image/jpeg" }),
  );
  const { image, tags: tagItems } = itemsOf(record);
  const condition = { ConditionExpression: "attribute_not_exists(pk)" };
  await dynamo.send(
    new TransactWriteCommand({
      TransactItems: [image, ...tagItems].map((Item) => ({ Put: { TableName: table, Item, ...condition } })),
    }),
  );
  return record;
}

async function direct(req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const byId = /^\/images\/(img_[0-9A-Z]{26})$/.exec(url.pathname);
  const signing: Signing = req.headers["x-bench-signing"] === "store" ? "store" : "getSignedUrl";
  if (req.method === "GET" && byId) {
    const image = await getDirect(byId[1]!, signing);
    return image ? send(res, 200, image) : send(res, 404, { title: "not found" });
  }
  if (req.method === "GET" && url.pathname === "/images") {
    const tag = url.searchParams.get("tag") ?? "";
    return send(res, 200, await listDirect(tag, url.searchParams.get("links") !== "no", signing));
  }
  if (req.method === "POST" && url.pathname === "/images/upload") {
    const form = await new Request(url, {
      method: "POST",
      headers: req.headers as Record<string, string>,
      body: Readable.toWeb(req) as ReadableStream,
      duplex: "half",
    } as RequestInit).formData();
    const file = form.get("file") as File;
    const bytes = new Uint8Array(await file.arrayBuffer());
    return send(res, 201, await uploadDirect(bytes, String(form.get("title")), String(form.get("tags")).split(",")));
  }
  send(res, 404, { title: "no route" });
}

/**
 * Requests either server is still working on. autocannon ends a run by closing its sockets, but
 * neither server stops work on a request whose client went away (nor does the Lambda), so
 * what a run left in flight would run into the next run's window: the parent waits for none.
 */
let inFlight = 0;
const DRAIN_LIMIT_MS = 60_000;
const idleWaiters: (() => void)[] = [];
function tracked<T>(work: Promise<T>): Promise<T> {
  inFlight++;
  return work.finally(() => {
    inFlight--;
    if (inFlight === 0) for (const wake of idleWaiters.splice(0)) wake();
  });
}
const idle = () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((wake) => idleWaiters.push(wake)));

const directServer = createServer((req, res) => {
  void tracked(direct(req, res).catch((error: unknown) => send(res, 500, { title: String(error) })));
});
directServer.listen(0, "127.0.0.1");
await new Promise((ready) => directServer.once("listening", ready));

const appServer = serve({
  fetch: (request, env) => tracked(Promise.resolve(app.fetch(request, env))),
  port: 0,
  hostname: "127.0.0.1",
});
await new Promise((ready) => appServer.once("listening", ready));

process.send!({
  appUrl: `http://127.0.0.1:${(appServer.address() as AddressInfo).port}`,
  directUrl: `http://127.0.0.1:${(directServer.address() as AddressInfo).port}`,
  ids: seeded.slice(0, 200).map((record) => record.imageId),
  tag: HOT_TAG,
  token: await signDevelopmentToken("bench-user"),
});

/**
 * Milliseconds per call of each way of doing one operation, one call at a time (no queueing,
 * only work), the ways taking turns call by call so that the machine's drift hits them alike;
 * the median of each.
 */
async function perCall<K extends string>(calls: number, ways: Record<K, (i: number) => Promise<unknown>>) {
  const names = Object.keys(ways) as K[];
  const times = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<K, number[]>;
  for (let i = -10; i < calls; i++) {
    for (const name of names) {
      const started = performance.now();
      await ways[name](i + 10);
      if (i >= 0) times[name].push(performance.now() - started);
    }
  }
  return Object.fromEntries(
    names.map((name) => {
      const sorted = times[name].sort((x, y) => x - y);
      return [name, sorted[Math.floor(sorted.length / 2)]!];
    }),
  ) as Record<K, number>;
}

/**
 * Where an app request's extra time goes: each operation one at a time, straight with the SDK,
 * through the store (core: ElectroDB, validation, links), and through the whole app in-process
 * (app.request: routing, token check, request validation, the log line, JSON), no sockets.
 */
async function diagnose(jpegPath: string, ids: string[], token: string) {
  const jpeg = new Uint8Array(await readFile(jpegPath));
  const auth = { authorization: `Bearer ${token}` };
  const form = () => {
    const body = new FormData();
    body.append("title", "Fresh flower");
    body.append("tags", "flowers,spring");
    body.append("file", new Blob([jpeg], { type: "image/jpeg" }), "FreshFlower.jpg");
    return body;
  };
  // Two more apps built the same way, to take the token check, then the store, out of the time.
  const quiet = () =>
    createLogger({
      level: process.env.LOG_LEVEL ?? "info",
      destination: new Writable({ write: (_c, _e, done) => done() }),
    });
  const appTrustingTokens = createApp({ config, store, logger: quiet(), verifyToken: async () => "bench-user" });
  const answer = await store.getWithLinks(ids[0]!, "bench-user");
  const instantStore = { ...store, getWithLinks: async () => answer } as typeof store;
  const appOnInstantStore = createApp({ config, store: instantStore, logger: quiet() });
  const drain = async (pending: Response | Promise<Response>) => {
    const response = await pending;
    if (!response.ok) throw new Error(`app answered ${response.status}`);
    await response.arrayBuffer();
  };
  const id = (i: number) => ids[i % ids.length]!;
  const rows = {
    "GET /images/{id}": await perCall(300, {
      direct: (i) => getDirect(id(i)),
      "direct, links signed the store's way": (i) => getDirect(id(i), "store"),
      store: (i) => store.getWithLinks(id(i), "bench-user"),
      app: (i) => drain(app.request(`/images/${id(i)}`, { headers: auth })),
      "app, token check skipped": (i) => drain(appTrustingTokens.request(`/images/${id(i)}`, { headers: auth })),
      "app layer alone (a store that answers at once)": (i) =>
        drain(appOnInstantStore.request(`/images/${id(i)}`, { headers: auth })),
    }),
    "GET /images?tag=…": await perCall(200, {
      direct: () => listDirect(HOT_TAG),
      "direct, links signed the store's way": () => listDirect(HOT_TAG, true, "store"),
      store: () => store.list({ tag: HOT_TAG, limit: 20 }),
      app: () => drain(app.request(`/images?tag=${HOT_TAG}`, { headers: auth })),
    }),
    "GET /images?tag=…, without the 20 thumbnail links": await perCall(200, {
      direct: () => listDirect(HOT_TAG, false),
    }),
    "POST /images/upload": await perCall(25, {
      direct: () => uploadDirect(jpeg, "Fresh flower", ["flowers", "spring"]),
      store: () =>
        store.create({ userId: "bench-user", title: "Fresh flower", tags: ["flowers", "spring"], bytes: jpeg }),
      app: () => drain(app.request("/images/upload", { method: "POST", headers: auth, body: form() })),
      "processImage alone": () => processImage(jpeg, { maxPixels: config.maxImagePixels }),
    }),
  };
  const presigning = await perCall(500, {
    getSignedUrl: (i) => presign(`thumbnails/${id(i)}.webp`, "image/webp", "t.webp"),
    "the store's signer": (i) => presign(`thumbnails/${id(i)}.webp`, "image/webp", "t.webp", "store"),
  });
  return { rows, presigning };
}

process.on("message", (message: { type: string; jpeg: string; ids: string[]; token: string }) => {
  if (message.type === "drain") {
    // How many requests the run left behind and how long they took to finish; those not finished
    // within a minute are answered as stuck, and the parent counts them as errors.
    const left = inFlight;
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((done) => (timer = setTimeout(done, DRAIN_LIMIT_MS)));
    void Promise.race([idle(), waited]).then(() => {
      clearTimeout(timer);
      process.send!({ type: "drained", left, stuck: inFlight, ms: performance.now() - started });
    });
    return;
  }
  if (message.type === "utilisation") {
    // The event loop's busy share since the last ask: one thread runs the emulators and both servers.
    const now = performance.eventLoopUtilization();
    process.send!({
      type: "utilisation",
      utilisation: performance.eventLoopUtilization(now, lastUtilisation).utilization,
    });
    lastUtilisation = now;
    return;
  }
  if (message.type !== "diagnose") return;
  diagnose(message.jpeg, message.ids, message.token).then(
    (result) => process.send!({ type: "diagnosis", result }),
    (error: unknown) => process.send!({ type: "diagnosis", error: String(error) }),
  );
});

let lastUtilisation = performance.eventLoopUtilization();

process.on("disconnect", () => {
  appServer.close();
  directServer.close();
  void aws.stop().finally(() => process.exit(0));
});
