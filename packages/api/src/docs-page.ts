import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./app-env.ts";
import { scalarScriptCandidates } from "./docs-script.ts";
import { problemResponse } from "./problem.ts";

/**
 * The API reference at /docs, whole from this server: the page, the document it reads
 * (/openapi.json) and Scalar's browser script (/docs/scalar.js) from the pinned
 * @scalar/api-reference package, never a CDN. The script is read from disk on the first
 * request, never bundled: it is 3.5 MB, three times the API function's bundle budget.
 */
export const SCALAR_SCRIPT_PATH = "/docs/scalar.js";

interface Script {
  body: Uint8Array<ArrayBuffer>;
  gzip: Uint8Array<ArrayBuffer>;
  /** The first 16 hex digits of its SHA-256: the page's link names it, so it can be cached for good. */
  hash: string;
}

/** The first candidate that reads, or undefined when none does. */
function readScript(candidates: string[]): Script | undefined {
  for (const path of candidates) {
    let body: Buffer;
    try {
      body = readFileSync(path);
    } catch {
      continue;
    }
    return {
      body: new Uint8Array(body),
      gzip: new Uint8Array(gzipSync(body)),
      hash: createHash("sha256").update(body).digest("hex").slice(0, 16),
    };
  }
  return undefined;
}

export interface DocsOptions {
  /** Where the script may be read; defaults to scalarScriptCandidates(). */
  scriptCandidates?: () => string[];
}

/** Scalar's settings that would reach other hosts, off: its fonts, telemetry, its AI agent. */
const OFFLINE = {
  withDefaultFonts: false,
  telemetry: false,
  agent: { disabled: true },
  showDeveloperTools: "never",
} as const;

/**
 * GET /docs, the page, and GET /docs/scalar.js, its script. When the script cannot be read
 * (a Lambda package deployed without its copy), /docs/scalar.js answers 503 problem JSON and
 * the page says so in place of the reference; /openapi.json still serves the document.
 */
export function registerDocs(
  app: OpenAPIHono<AppEnv>,
  { scriptCandidates = scalarScriptCandidates }: DocsOptions = {},
) {
  // Read on the first request for either, then kept: most invocations never ask for them.
  let script: Script | undefined | null = null;
  const loaded = () => (script === null ? (script = readScript(scriptCandidates())) : script);

  const page = Scalar<AppEnv>(() => ({
    url: "/openapi.json",
    pageTitle: "Images API",
    // Six operations under two tags: all of them in view.
    defaultOpenAllTags: true,
    cdn: `${SCALAR_SCRIPT_PATH}?v=${loaded()!.hash}`,
    ...OFFLINE,
  }));
  const unavailable: MiddlewareHandler<AppEnv> = async (c, next) => {
    if (loaded()) return next();
    return c.html(
      '<!doctype html><html><head><meta charset="utf-8"><title>Images API</title></head><body>' +
        "<p>The API reference's script is not deployed with this server. The OpenAPI document is at " +
        '<a href="/openapi.json">/openapi.json</a>.</p></body></html>',
      503,
    );
  };
  app.get("/docs", unavailable, page);

  app.get(SCALAR_SCRIPT_PATH, (c) => {
    const found = loaded();
    if (!found)
      return problemResponse(503, "the API reference's script is not deployed with this server", {
        headers: { "retry-after": "3600", ...(c.get("requestId") ? { "x-request-id": c.get("requestId") } : {}) },
      });
    const gzip = /\bgzip\b/.test(c.req.header("accept-encoding") ?? "");
    const headers: Record<string, string> = {
      "content-type": "text/javascript; charset=utf-8",
      // The page links it by its hash: a new version is a new URL.
      "cache-control": c.req.query("v") === found.hash ? "public, max-age=31536000, immutable" : "no-cache",
      etag: `"${found.hash}"`,
      vary: "accept-encoding",
    };
    if (c.req.header("if-none-match") === headers.etag) return c.body(null, 304, headers);
    if (gzip) headers["content-encoding"] = "gzip";
    return c.body(gzip ? found.gzip : found.body, 200, headers);
  });
}
