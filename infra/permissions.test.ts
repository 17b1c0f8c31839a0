import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256, startTestApi, type TestApi } from "../packages/api/test/support/test-api.ts";
import { fixture } from "../packages/core/test/support/fixtures.ts";
import { postToS3 } from "../packages/core/test/support/post-upload.ts";
import {
  ACTIONS_OF_CALL,
  actionsOf,
  API_FUNCTION_CALLS,
  FINISH_UPLOAD_FUNCTION_CALLS,
  LAMBDA_SIDE_CALLS,
  TABLE_STREAM_FUNCTION_CALLS,
  type Call,
} from "./permissions.ts";

/**
 * The functions' rights (infra/permissions.ts) against the code that uses them, two ways: every
 * AWS call written in the deployed packages' sources needs an action some function has, and
 * every action granted is needed by one of them; then each function's code is watched at work
 * on the emulators, and what it calls is exactly what its list says.
 */
const ROOT = join(import.meta.dirname, "..");
/** What the deployed functions bundle: core, and the api package's handlers and app. */
const DEPLOYED_SOURCES = ["packages/core/src", "packages/api/src"];

const isCall = (name: string): name is Call => name in ACTIONS_OF_CALL;

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.ts$/.test(entry.name) && !/\.test\.ts$/.test(entry.name) ? [path] : [];
  });
}

/** lib-dynamodb's commands by the DynamoDB operation they send. */
const DOCUMENT_COMMANDS: Record<string, string> = {
  Get: "GetItem",
  Put: "PutItem",
  Update: "UpdateItem",
  Delete: "DeleteItem",
  BatchGet: "BatchGetItem",
  BatchWrite: "BatchWriteItem",
  TransactGet: "GetItem",
};
/** ElectroDB's methods by the DynamoDB operation they send (alone or as a transaction's item). */
const ELECTRODB_METHODS: Record<string, string> = {
  get: "GetItem",
  create: "PutItem",
  put: "PutItem",
  patch: "UpdateItem",
  update: "UpdateItem",
  upsert: "UpdateItem",
  delete: "DeleteItem",
  remove: "DeleteItem",
  check: "ConditionCheckItem",
  scan: "Scan",
};

interface EntitySchema {
  model: { entity: string };
  indexes: Record<string, { index?: string }>;
}

/** Each ElectroDB access pattern, and whether it reads a GSI. */
async function accessPatterns(): Promise<Map<string, "Query" | "QueryIndex">> {
  const dir = join(ROOT, "packages/core/src/db");
  const out = new Map<string, "Query" | "QueryIndex">();
  for (const file of readdirSync(dir).filter((name) => name.endsWith(".entity.ts"))) {
    const module = (await import(pathToFileURL(join(dir, file)).href)) as Record<string, unknown>;
    for (const value of Object.values(module)) {
      if (typeof value !== "object" || value === null || !("indexes" in value) || !("model" in value)) continue;
      for (const [name, index] of Object.entries((value as EntitySchema).indexes)) {
        out.set(name, index.index ? "QueryIndex" : "Query");
      }
    }
  }
  return out;
}

/**
 * The AWS calls written in `text`, as the names ACTIONS_OF_CALL knows, or the name found when
 * it knows none (so that a new kind of call fails the test until it is mapped). Loose on purpose:
 * `.get(` of a Map counts as a GetItem, which only ever asks for an action that is needed anyway.
 */
/** The source without its comments, which name calls the code does not make. */
const withoutComments = (source: string) =>
  source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");

function callsIn(source: string, patterns: Map<string, "Query" | "QueryIndex">): string[] {
  const text = withoutComments(source);
  const found: string[] = [];
  for (const [, names, from] of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*"(@aws-sdk\/[^"]+)"/g)) {
    for (const raw of names!.split(",")) {
      const name = raw.replace(/^\s*type\s+/, "").trim();
      const command = /^(\w+)Command$/.exec(name)?.[1];
      if (!command) continue;
      if (from === "@aws-sdk/lib-dynamodb" || from === "@aws-sdk/client-dynamodb") {
        // Queries and transactions are named by what ElectroDB builds for them (below).
        if (command === "Query" || command === "TransactWrite" || command === "TransactWriteItems") continue;
        found.push(DOCUMENT_COMMANDS[command] ?? command);
      } else {
        found.push(command);
      }
    }
  }
  if (/\bnew Upload\(/.test(text)) {
    found.push("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload");
  }
  if (/\bcreatePresignedPost\(/.test(text)) found.push("PresignPostObject");
  // CloudFront's signer signs with a key pair, not with IAM; S3's would need the command it signs.
  if (/\bgetSignedUrl\b[^;]*"@aws-sdk\/s3-request-presigner"/.test(text)) found.push("getSignedUrl");
  for (const [, operation] of text.matchAll(/"x-id":\s*"(\w+)"/g)) found.push(`Presign${operation}`);
  if (/\.go\(/.test(text)) {
    for (const [, method, list] of text.matchAll(
      /\.(get|create|put|patch|update|upsert|delete|remove|check|scan)\b\s*\(\s*(\[)?/g,
    )) {
      // A list: a batch, except for `.remove([...])`, which removes attributes in an update.
      const batch = list && method !== "remove" ? (method === "get" ? "BatchGetItem" : "BatchWriteItem") : undefined;
      found.push(batch ?? ELECTRODB_METHODS[method!]!);
    }
    if (/\bcollections\.\w+\(/.test(text)) found.push("Query");
  }
  // A listing may build its query with ElectroDB and send it itself.
  for (const [, pattern] of text.matchAll(/\.query\s*\.(\w+)\(/g))
    found.push(patterns.get(pattern!) ?? `query.${pattern}`);
  return found;
}

describe("the functions' rights, against the calls written in the code", () => {
  let found: Map<string, string[]>;

  beforeAll(async () => {
    const patterns = await accessPatterns();
    found = new Map();
    for (const file of DEPLOYED_SOURCES.flatMap(sourceFiles)) {
      for (const call of callsIn(readFileSync(join(ROOT, file), "utf8"), patterns)) {
        found.set(call, [...(found.get(call) ?? []), relative(ROOT, join(ROOT, file))]);
      }
    }
  });

  it("finds the calls it knows of", () => {
    // Prepare / Act: what the scan makes of a few lines of each kind.
    const text = `import { HeadBucketCommand, type S3Client } from "@aws-sdk/client-s3";
      import { QueryCommand } from "@aws-sdk/lib-dynamodb";
      await image.get({ imageId }).go(); await tags.put([{ tag }]).go(); await image.query.byUser({ userId }).go();
      await createPresignedPost(s3, {}); new Upload({ client });`;
    const calls = callsIn(text, new Map([["byUser", "QueryIndex"]]));
    // Assess
    expect(new Set(calls)).toEqual(
      new Set([
        "HeadBucket",
        "GetItem",
        "BatchWriteItem",
        "QueryIndex",
        "PresignPostObject",
        "PutObject",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
      ]),
    );
  });

  it("knows what IAM wants for every AWS call in packages/core/src and packages/api/src", () => {
    const unknown = [...found]
      .filter(([call]) => !isCall(call))
      .map(([call, files]) => `${call} (${files.join(", ")})`);
    expect(unknown, "add each to ACTIONS_OF_CALL in infra/permissions.ts").toEqual([]);
  });

  it("grants some function every action those calls need, and no action none of them needs", () => {
    const needed = actionsOf([...found.keys()].filter(isCall));
    const granted = actionsOf([...API_FUNCTION_CALLS, ...FINISH_UPLOAD_FUNCTION_CALLS, ...TABLE_STREAM_FUNCTION_CALLS]);
    // Lambda, not the code, sends to the failure destination and reads the stream (with the function's role).
    const { failures, stream, ...grantedToCode } = granted;
    expect({ failures, stream }).toEqual(actionsOf(LAMBDA_SIDE_CALLS));
    expect(grantedToCode).toEqual(needed);
  });
});

/** The calls one SDK command makes, in ACTIONS_OF_CALL's names. */
function callsOfCommand(command: string, input: Record<string, any>): string[] {
  const name = command.replace(/Command$/, "");
  if (name === "Query") return [input.IndexName ? "QueryIndex" : "Query"];
  if (name === "TransactWriteItems") {
    const kinds: Record<string, string> = {
      Put: "PutItem",
      Update: "UpdateItem",
      Delete: "DeleteItem",
      ConditionCheck: "ConditionCheckItem",
    };
    return (input.TransactItems as Record<string, unknown>[]).flatMap((item) =>
      Object.keys(item).map((kind) => kinds[kind] ?? `TransactWriteItems.${kind}`),
    );
  }
  if (name === "TransactGetItems") return ["GetItem"];
  return [name];
}

describe("each function's rights, against what its code calls at work", () => {
  let t: TestApi;
  const seen = { api: new Set<string>(), finish: new Set<string>(), stream: new Set<string>() };
  let watching: keyof typeof seen = "api";
  let failParts = false;

  beforeAll(async () => {
    t = await startTestApi({}, undefined, { autoFinish: false });
    const watchCalls =
      (next: (args: { input: object }) => Promise<unknown>, context: { commandName?: string }) =>
      async (args: { input: object }) => {
        const command = context.commandName ?? "unknown";
        for (const call of callsOfCommand(command, args.input as Record<string, any>)) seen[watching].add(call);
        if (failParts && command === "UploadPartCommand") {
          throw Object.assign(new Error("injected"), { name: "InternalError", $metadata: { httpStatusCode: 500 } });
        }
        return next(args);
      };
    const options = { step: "initialize", name: "watchCalls" } as const;
    t.clients.s3.middlewareStack.add(watchCalls as never, options);
    t.clients.dynamo.middlewareStack.add(watchCalls as never, options);
  });
  afterAll(async () => {
    await t?.stop();
  });

  /** The image's own answer says it was signed: a presigned request acts with the signer's rights. */
  const notePresigned = (url: unknown, call: Call) => {
    if (typeof url === "string" && /X-Amz-Signature=|Signature/.test(url)) seen[watching].add(call);
  };

  /** Starts a large upload through the API and posts its file, as a client does. */
  async function postLarge(bytes: Uint8Array, declared: string) {
    const started = await t.call("POST", "/images/upload", {
      json: { title: "Large", tags: ["large"], content_type: declared, size_bytes: bytes.byteLength },
    });
    expect(started.status).toBe(201);
    const body = (await started.json()) as { image: { image_id: string }; upload: Parameters<typeof postToS3>[0] };
    notePresigned(JSON.stringify(body.upload.fields), "PresignPostObject");
    expect((await postToS3(body.upload, bytes)).ok).toBe(true);
    return { key: body.upload.fields.key!, imageId: body.image.image_id };
  }

  it("the API function calls exactly API_FUNCTION_CALLS over a tour of every route", async () => {
    const jpeg = fixture("FreshFlower.jpg");
    expect((await t.call("GET", "/health")).status).toBe(200);
    const headers = { "idempotency-key": "permissions-tour-1" };
    const uploaded = await t.upload("alice", jpeg, { title: "Flower", tags: ["garden", "spring"] }, headers);
    expect(uploaded.status).toBe(201);
    const { image_id } = (await uploaded.json()) as { image_id: string };
    expect((await t.upload("alice", jpeg, { title: "Flower", tags: ["garden", "spring"] }, headers)).status).toBe(201);

    const got = await t.call("GET", `/images/${image_id}`);
    expect(got.status).toBe(200);
    notePresigned(((await got.json()) as { download_url: string }).download_url, "PresignGetObject");
    for (const query of [
      "",
      "?user_id=alice",
      "?tag=garden",
      "?user_id=alice&tag=garden",
      "?from=2020-01-01&to=2100-01-01",
    ]) {
      expect((await t.call("GET", `/images${query}`)).status, query).toBe(200);
    }
    const patched = await t.call("PATCH", `/images/${image_id}`, { json: { title: "Flowers", tags: ["garden"] } });
    expect(patched.status).toBe(200);
    const checked = await t.call("POST", "/images/check", { json: { sha256: [sha256(jpeg)] } });
    expect(checked.status).toBe(200);
    expect((await t.call("POST", `/images/${image_id}/trash`)).status).toBe(200);
    expect((await t.call("GET", "/images?trashed=true")).status).toBe(200);
    expect((await t.call("POST", `/images/${image_id}/restore`)).status).toBe(200);

    const { imageId: pendingId } = await postLarge(jpeg, "image/jpeg");
    expect((await t.call("GET", `/images/${pendingId}`)).status).toBe(200);
    expect((await t.call("DELETE", `/images/${pendingId}`)).status).toBe(204);
    expect((await t.call("DELETE", `/images/${image_id}`)).status).toBe(204);
    expect((await t.call("GET", `/images/${image_id}`)).status).toBe(404);

    expect([...seen.api].sort()).toEqual([...API_FUNCTION_CALLS].sort());
  });

  it("the finishing function calls exactly FINISH_UPLOAD_FUNCTION_CALLS while it finishes, refuses and ignores files", async () => {
    // A file that re-encodes to more than one 5 MiB part: noise does not compress.
    const { width, height } = { width: 1800, height: 1800 };
    const noise = randomBytes(width * height * 3);
    const large = await sharp(noise, { raw: { width, height, channels: 3 } })
      .png()
      .toBuffer();
    expect(large.byteLength).toBeGreaterThan(5 * 1024 * 1024);
    const small = fixture("FreshFlower.jpg");

    // Prepare: the files, posted as clients post them (the API's calls, not the finisher's).
    watching = "api";
    const [ready, refused, inParts, failing] = [
      (await postLarge(small, "image/jpeg")).key,
      (await postLarge(small, "image/png")).key,
      (await postLarge(large, "image/png")).key,
      (await postLarge(large, "image/png")).key,
    ];

    // Act: what S3's events make the finishing function do.
    watching = "finish";
    try {
      expect(await t.store.finishUpload(ready!)).toBe("ready");
      expect(await t.store.finishUpload(ready!)).toBe("ignored"); // the event again: the file is gone
      expect(await t.store.finishUpload(refused!)).toBe("failed");
      expect(await t.store.finishUpload("uploads/not-an-upload")).toBe("ignored");
      expect(await t.store.finishUpload(inParts!)).toBe("ready");
      failParts = true;
      await t.store.finishUpload(failing!).catch(() => "thrown");
    } finally {
      failParts = false;
      watching = "api";
    }

    // Assess: Lambda, not the code, sends a failed event to the queue.
    seen.finish.add("SendToFailureQueue");
    expect([...seen.finish].sort()).toEqual([...FINISH_UPLOAD_FUNCTION_CALLS].sort());
  });
});

describe("the stream function's rights, against what its code calls at work", () => {
  it("calls exactly TABLE_STREAM_FUNCTION_CALLS (Lambda's own aside) for events and TTL purges", async () => {
    const { startLocalAws } = await import("@images/local");
    const { createAwsClients, createImageStore, loadConfig } = await import("@images/core");
    const { createImageEventConsumer } = await import("../packages/core/src/events/consumer.ts");
    const { createBusPublisher } = await import("../packages/core/src/events/event-bus.ts");
    const { EventBridgeClient } = await import("@aws-sdk/client-eventbridge");
    const { UpdateCommand } = await import("@aws-sdk/lib-dynamodb");
    const { createDb } = await import("../packages/core/src/db/service.ts");
    const { tinyPng } = await import("../packages/core/test/support/fixtures.ts");
    const local = await startLocalAws({ ttlSweepIntervalMs: 0 });
    try {
      const config = loadConfig({ ...local.env, AWS_ENDPOINT_GUARD: "local" });
      const clients = createAwsClients(config);
      const store = createImageStore({ config, clients, log: () => {} });
      // Prepare: an image, edited, trashed by hand and expired, swept by the TTL below.
      const image = await store.create({ userId: "alice", title: "t", tags: ["a", "b"], bytes: await tinyPng(3) });
      await store.update(image.image_id, "alice", { title: "u" });
      const Key = createDb(clients.dynamo, config.tableName)
        .entities.image.get({ imageId: image.image_id })
        .params().Key;
      await clients.dynamo.send(
        new UpdateCommand({
          TableName: config.tableName,
          Key,
          UpdateExpression: "SET trashedAt = :at, expires_at = :past",
          ExpressionAttributeValues: {
            ":at": new Date().toISOString(),
            ":past": 1 + Math.floor(Date.now() / 1000) - 60,
          },
        }),
      );
      // And what an upload run that never committed left: its staged record, expired.
      await createDb(clients.dynamo, config.tableName)
        .entities.stagedObjects.put({
          imageId: "img_01KTESTSTAGED00000000000000",
          run: "direct",
          objectKeys: ["images/00/img_01KTESTSTAGED00000000000000.png"],
          expiresAt: Math.floor(Date.now() / 1000) - 60,
        })
        .go();
      expect(await local.sweepExpired()).toBe(2);

      // Act: the consumer on clients that note each call, and a bus client that answers PutEvents itself.
      const seen = new Set<string>();
      const watch =
        (next: (args: { input: object }) => Promise<unknown>, context: { commandName?: string }) =>
        async (args: { input: object }) => {
          for (const call of callsOfCommand(context.commandName ?? "unknown", args.input as Record<string, any>))
            seen.add(call);
          return next(args);
        };
      const bus = new EventBridgeClient({
        region: "us-east-1",
        credentials: { accessKeyId: "x", secretAccessKey: "y" },
      });
      bus.middlewareStack.add(watch as never, { step: "initialize", name: "watchCalls" });
      bus.middlewareStack.add(
        (() => async () => ({ output: { FailedEntryCount: 0, Entries: [] }, response: {} })) as never,
        {
          step: "initialize",
          name: "answerPutEvents",
          priority: "low",
        },
      );
      clients.dynamo.middlewareStack.add(watch as never, { step: "initialize", name: "watchCalls" });
      clients.s3.middlewareStack.add(watch as never, { step: "initialize", name: "watchCalls" });
      const consume = createImageEventConsumer({
        config,
        clients,
        publish: createBusPublisher({
          client: bus,
          busName: "bus",
          webhookSecret: `whsec_${Buffer.alloc(32, 1).toString("base64")}`,
        }),
      });
      const result = await consume(local.changes.records() as never);

      // Assess
      expect(result).toEqual({ batchItemFailures: [] });
      expect([...seen, ...LAMBDA_SIDE_CALLS].sort()).toEqual([...TABLE_STREAM_FUNCTION_CALLS].sort());
    } finally {
      await local.stop();
    }
  });
});
