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
import { ReadWriteLock } from "./read-write-lock.ts";
import {
  isJsonObject,
  KeySchemaCache,
  transactWriteItems,
  type DynamoCall,
  type JsonObject,
} from "./transact-write-items.ts";

const TARGET_PREFIX = "DynamoDB_20120810.";
const JSON_CONTENT_TYPE = "application/x-amz-json-1.0";

export interface DynamoTransactionsProxy {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  close(): Promise<void>;
}

/** Starts the proxy on a free loopback port, forwarding to `upstream` (e.g. http://127.0.0.1:4567). */
export async function startDynamoTransactionsProxy(upstream: string): Promise<DynamoTransactionsProxy> {
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
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let input: unknown;
    try {
      input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return sendJson(res, 400, { __type: "com.amazon.coral.service#SerializationException" });
    }
    const release = await lock.acquireExclusive();
    try {
      const result = await transactWriteItems(input, dynamoCaller(upstreamUrl, agent, req.headers), keySchemas);
      sendJson(res, result.status, result.body);
    } finally {
      release();
    }
  }

  const server = http.createServer((req, res) => {
    const target = req.headers["x-amz-target"];
    // A table's key schema can only change by deleting and re-creating it.
    if (target === `${TARGET_PREFIX}DeleteTable` || target === `${TARGET_PREFIX}CreateTable`) keySchemas.clear();
    const handled = target === `${TARGET_PREFIX}TransactWriteItems` ? transact(req, res) : forward(req, res);
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
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections(); // clients keep connections alive; don't wait for them
      await closed;
      agent.destroy();
    },
  };
}

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
