/**
 * DEV AND TEST ONLY. An HTTP proxy in front of dynalite that adds TransactWriteItems, which
 * dynalite does not implement (it answers UnknownOperationException). AWS and LocalStack implement
 * transactions themselves; never put this in front of them.
 *
 * Every request except TransactWriteItems is forwarded to dynalite unchanged and its response
 * streamed back unchanged. TransactWriteItems is executed here with dynalite's single-item
 * operations (transact-write-items.ts). Isolation comes from a readers–writer lock: forwarded
 * requests share it, a transaction holds it exclusively, so no request observes or interleaves
 * with half a transaction. That serialises the whole emulator during a transaction, which is
 * fine at development scale.
 */
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pipeline } from "node:stream/promises";
import { TABLE } from "@images/core/db/table";
import type { ItemChange } from "./change-feed.ts";
import { ReadWriteLock } from "./read-write-lock.ts";
import {
  callOk,
  isJsonObject,
  KeySchemaCache,
  transactWriteItems,
  type DynamoCall,
  type JsonObject,
} from "./transact-write-items.ts";

const TARGET_PREFIX = "DynamoDB_20120810.";
const JSON_CONTENT_TYPE = "application/x-amz-json-1.0";

/** The single-item and batch writes, which the proxy runs itself to see what they changed. */
const WRITE_OPERATIONS = new Set(["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"]);

/** DynamoDB's TTL leaves alone items whose time is more than five years past. */
const TTL_MAX_AGE_SECONDS = 5 * 365 * 24 * 3600;
/** The TTL sweeper's Scan: items a page (read before its filter) and the pause between pages. */
const SWEEP_PAGE_ITEMS = 200;
const SWEEP_PAUSE_MS = 5;

export interface DynamoTransactionsProxy {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  /**
   * Removes the items of `tableName` whose TTL attribute (TABLE.ttlAttribute, a Number of epoch
   * seconds) has passed, as DynamoDB's TTL does, each reported as a removal by the service.
   * Answers how many it removed.
   */
  sweepExpired(tableName: string, nowSeconds?: number): Promise<number>;
  close(): Promise<void>;
}

export interface ProxyOptions {
  /** Told every committed change of an item, in commit order, while the write lock is held. */
  onChanges?: (changes: ItemChange[]) => void;
}

/**
 * Starts the proxy on a free loopback port, forwarding to `upstream` (e.g. http://127.0.0.1:4567).
 * Writes (PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems) hold the lock
 * exclusively: each reads the items it targets before and after, for the change feed, and no
 * other request sees the table in between. Reads share the lock.
 */
export async function startDynamoTransactionsProxy(
  upstream: string,
  options: ProxyOptions = {},
): Promise<DynamoTransactionsProxy> {
  const upstreamUrl = new URL(upstream);
  const agent = new http.Agent({ keepAlive: true });
  const lock = new ReadWriteLock();
  const keySchemas = new KeySchemaCache();

  async function forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const release = await lock.acquireShared();
    try {
      const upstreamReq = http.request(upstreamUrl, {
        method: req.method,
        path: req.url,
        headers: req.rawHeaders,
        agent,
      });
      const responded = once(upstreamReq, "response") as Promise<[IncomingMessage]>;
      const [[upstreamRes]] = await Promise.all([responded, pipeline(req, upstreamReq)]);
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, upstreamRes.rawHeaders);
      await pipeline(upstreamRes, res);
    } finally {
      release();
    }
  }

  async function transact(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const input = await readJsonBody(req);
    if (input === NOT_JSON) return sendJson(res, 400, { __type: "com.amazon.coral.service#SerializationException" });
    const release = await lock.acquireExclusive();
    try {
      const result = await transactWriteItems(input, dynamoCaller(upstreamUrl, agent, req.headers), keySchemas);
      if (result.status === 200) options.onChanges?.(result.changes);
      sendJson(res, result.status, result.body);
    } finally {
      release();
    }
  }

  /** The items a write targets, by table and key; none when its shape is not one DynamoDB takes. */
  async function targetsOf(operation: string, input: JsonObject, call: DynamoCall) {
    const requests: { tableName: string; source: unknown }[] = [];
    if (operation === "BatchWriteItem") {
      const byTable = isJsonObject(input.RequestItems) ? input.RequestItems : {};
      for (const [tableName, writes] of Object.entries(byTable)) {
        for (const write of Array.isArray(writes) ? writes : []) {
          const put = isJsonObject(write) && isJsonObject(write.PutRequest) ? write.PutRequest.Item : undefined;
          const remove = isJsonObject(write) && isJsonObject(write.DeleteRequest) ? write.DeleteRequest.Key : undefined;
          requests.push({ tableName, source: put ?? remove });
        }
      }
    } else if (typeof input.TableName === "string") {
      requests.push({ tableName: input.TableName, source: operation === "PutItem" ? input.Item : input.Key });
    }
    const targets: { tableName: string; key: JsonObject }[] = [];
    for (const { tableName, source } of requests) {
      if (!isJsonObject(source)) return [];
      const names = await keySchemas.keyAttributes(tableName, call).catch(() => undefined);
      if (!names || names.some((name) => !isJsonObject(source[name]))) return [];
      targets.push({ tableName, key: Object.fromEntries(names.map((name) => [name, source[name]])) });
    }
    return targets;
  }

  async function readItem(call: DynamoCall, tableName: string, key: JsonObject) {
    const read = await callOk(call, "GetItem", { TableName: tableName, Key: key, ConsistentRead: true });
    return isJsonObject(read.Item) ? read.Item : undefined;
  }

  /** A single-item or batch write, run here so that the feed gets each item before and after. */
  async function write(operation: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const input = await readJsonBody(req);
    if (input === NOT_JSON) return sendJson(res, 400, { __type: "com.amazon.coral.service#SerializationException" });
    const release = await lock.acquireExclusive();
    try {
      const call = dynamoCaller(upstreamUrl, agent, req.headers);
      const targets = isJsonObject(input) ? await targetsOf(operation, input, call) : [];
      const before = await Promise.all(targets.map((target) => readItem(call, target.tableName, target.key)));
      const response = await call(operation, isJsonObject(input) ? input : {});
      if (response.status === 200 && targets.length > 0) {
        const after = await Promise.all(targets.map((target) => readItem(call, target.tableName, target.key)));
        options.onChanges?.(
          targets.map((target, index) => ({ ...target, before: before[index], after: after[index] })),
        );
      }
      sendJson(res, response.status, response.body);
    } finally {
      release();
    }
  }

  /**
   * The TTL's work. Finding the expired items takes a Scan: that is what DynamoDB's TTL does
   * inside the service too (it reads the whole table in the background); the service's own
   * code never scans. Each removal re-checks the item under the write lock, so a write that
   * moved its time on in the meantime keeps it.
   */
  async function sweepExpired(tableName: string, nowSeconds = Date.now() / 1000): Promise<number> {
    const call = dynamoCaller(upstreamUrl, agent, SWEEPER_HEADERS);
    const keyNames = await keySchemas.keyAttributes(tableName, call);
    const expired: JsonObject[] = [];
    let start: unknown;
    do {
      // Small pages of keys alone, with a pause between them: dynalite answers in this process, so
      // one Scan of a large table in 1 MB pages would hold every request behind it, where
      // DynamoDB's TTL works beside the table's capacity.
      if (start !== undefined) await new Promise((resolve) => setTimeout(resolve, SWEEP_PAUSE_MS));
      const page = await callOk(call, "Scan", {
        TableName: tableName,
        Limit: SWEEP_PAGE_ITEMS,
        FilterExpression: "#ttl < :now AND #ttl > :oldest",
        ProjectionExpression: keyNames.map((_, i) => `#k${i}`).join(", "),
        ExpressionAttributeNames: {
          "#ttl": TABLE.ttlAttribute,
          ...Object.fromEntries(keyNames.map((name, i) => [`#k${i}`, name])),
        },
        ExpressionAttributeValues: {
          ":now": { N: String(Math.floor(nowSeconds)) },
          ":oldest": { N: String(Math.floor(nowSeconds) - TTL_MAX_AGE_SECONDS) },
        },
        ...(isJsonObject(start) ? { ExclusiveStartKey: start } : {}),
      });
      if (Array.isArray(page.Items)) expired.push(...page.Items.filter(isJsonObject));
      start = page.LastEvaluatedKey;
    } while (isJsonObject(start));
    let removed = 0;
    for (const item of expired) {
      const release = await lock.acquireExclusive();
      try {
        const key = Object.fromEntries(keyNames.map((name) => [name, item[name]]));
        const response = await call("DeleteItem", {
          TableName: tableName,
          Key: key,
          // A Number attribute still in the past: a TTL ignores any other type.
          ConditionExpression: "#ttl < :now",
          ExpressionAttributeNames: { "#ttl": TABLE.ttlAttribute },
          ExpressionAttributeValues: { ":now": { N: String(Math.floor(nowSeconds)) } },
          ReturnValues: "ALL_OLD",
        });
        if (response.status === 200 && isJsonObject(response.body.Attributes)) {
          removed += 1;
          options.onChanges?.([{ tableName, key, before: response.body.Attributes, byTtl: true }]);
        }
      } finally {
        release();
      }
    }
    return removed;
  }

  const server = http.createServer((req, res) => {
    const target = req.headers["x-amz-target"];
    const operation =
      typeof target === "string" && target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : "";
    // A table's key schema can only change by deleting and re-creating it.
    if (operation === "DeleteTable" || operation === "CreateTable") keySchemas.clear();
    const handled =
      operation === "TransactWriteItems"
        ? transact(req, res)
        : WRITE_OPERATIONS.has(operation)
          ? write(operation, req, res)
          : forward(req, res);
    handled.catch((error: unknown) => {
      console.error("[dynamo-transactions-proxy]", error);
      if (res.headersSent) res.destroy();
      else
        sendJson(res, 500, { __type: "com.amazonaws.dynamodb.v20120810#InternalServerError", message: String(error) });
    });
  });

  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    sweepExpired,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections(); // clients keep connections alive; don't wait for them
      await closed;
      agent.destroy();
    },
  };
}

/** dynalite checks that a request carries a well-formed signature, not that it is right. */
const SWEEPER_HEADERS = {
  authorization:
    "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
  "x-amz-date": "20260101T000000Z",
};

function sendJson(res: ServerResponse, status: number, body: JsonObject): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": JSON_CONTENT_TYPE,
    "content-length": Buffer.byteLength(payload),
    "x-amzn-requestid": randomUUID(),
  });
  res.end(payload);
}

/**
 * Calls dynalite directly (not through the lock, which the transaction holds) with the incoming
 * request's headers. dynalite checks that Authorization is well formed but not the signature, so
 * the original signature serves for every call.
 */
function dynamoCaller(upstream: URL, agent: http.Agent, incoming: IncomingHttpHeaders): DynamoCall {
  // Drop what describes the incoming connection or body rather than the request.
  const headers = { ...incoming };
  for (const name of ["host", "connection", "expect", "content-length", "transfer-encoding"]) delete headers[name];
  return (operation, request) =>
    new Promise((resolve, reject) => {
      const payload = Buffer.from(JSON.stringify(request));
      const req = http.request(upstream, {
        method: "POST",
        agent,
        headers: {
          ...headers,
          "content-type": JSON_CONTENT_TYPE,
          "content-length": payload.length,
          "x-amz-target": `${TARGET_PREFIX}${operation}`,
        },
      });
      req.on("error", reject);
      req.on("response", (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 500, body: parseBody(text) });
        });
      });
      req.end(payload);
    });
}

/** dynalite answers JSON, except a few bare errors such as "<UnknownOperationException/>". */
function parseBody(text: string): JsonObject {
  try {
    const parsed: unknown = JSON.parse(text);
    if (isJsonObject(parsed)) return parsed;
  } catch {
    // fall through
  }
  return { __type: "InternalFailure", message: text };
}

const NOT_JSON = Symbol("not JSON");

/** A request's body parsed as JSON, or NOT_JSON (DynamoDB answers a SerializationException). */
async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
  } catch {
    return NOT_JSON;
  }
}
