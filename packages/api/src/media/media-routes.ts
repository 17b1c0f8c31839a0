import type { IncomingMessage } from "node:http";
import { Hono, type Context } from "hono";
import type { ObjectReader } from "@images/core/storage/object-reader";
import { problemResponse } from "../problem.ts";
import { ifNoneMatchMatches } from "./entity-tags.ts";
import { createSignedUrlCheck } from "./signed-url-check.ts";

/** What rendition objects are stored with, and what the twin answers for an object stored with none. */
export const MEDIA_CACHE_CONTROL = "public, max-age=31536000, immutable";

export interface MediaRoutesOptions {
  /** The one public key the "distribution" trusts (SPKI PEM) and its id. */
  publicKeyPem: string;
  keyPairId: string;
  objects: Pick<ObjectReader, "head" | "get">;
  now?: () => Date;
  /** The path the media URLs start with: the signer's base URL's path. */
  pathPrefix?: string;
}

/**
 * The URL as the client sent it: through @hono/node-server (the dev and Compose servers), the
 * raw Host header and request target, which is what CloudFront compares; otherwise (Lambda,
 * app.request in tests) the request's URL, which the fetch API has already normalised.
 */
function requestedUrl(c: Context): string {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  const host = incoming?.headers.host;
  if (incoming?.url?.startsWith("/") && host) return `${new URL(c.req.url).protocol}//${host}${incoming.url}`;
  return c.req.url;
}

/** The object key a verified URL names: its path after the prefix, each segment decoded as S3 does. */
function objectKeyOf(url: string, pathPrefix: string): string | undefined {
  const pathStart = url.indexOf("/", url.indexOf("//") + 2);
  const queryStart = url.indexOf("?");
  const path = pathStart === -1 ? "" : url.slice(pathStart, queryStart === -1 ? undefined : queryStart);
  if (!path.startsWith(`${pathPrefix}/`)) return undefined;
  try {
    return path
      .slice(pathPrefix.length + 1)
      .split("/")
      .map((segment) => decodeURIComponent(segment))
      .join("/");
  } catch {
    return undefined;
  }
}

/**
 * The local twin of the CloudFront distribution in front of the bucket (`npm run dev`, Compose):
 * `GET|HEAD <prefix>/<object key>?Expires=…&Signature=…&Key-Pair-Id=…` checks the signed URL as
 * CloudFront does (signed-url-check.ts), then answers the object's bytes from S3 with its stored
 * Content-Type, Cache-Control and ETag, and `304` on a matching If-None-Match. A refused URL is
 * `403` problem JSON, a missing object `404`.
 *
 * Where it differs from CloudFront: its errors are problem JSON, not CloudFront's XML; S3's own
 * 403 for a key it cannot find (a reader without ListBucket) is a 404 here; no Range or
 * If-Modified-Since; nothing is cached, every answer reads S3. S3 failing is thrown for the
 * app's onError (503), so mount it on the app from createApp.
 */
export function createMediaRoutes(options: MediaRoutesOptions) {
  const pathPrefix = (options.pathPrefix ?? "/media").replace(/\/+$/, "");
  const checkSignedUrl = createSignedUrlCheck({
    publicKeyPem: options.publicKeyPem,
    keyPairId: options.keyPairId,
    now: options.now ?? (() => new Date()),
  });
  const routes = new Hono();

  // Hono routes HEAD to the GET handler and drops the body; the handler reads only the head for it.
  routes.get(`${pathPrefix}/*`, async (c) => {
    const url = requestedUrl(c);
    const check = checkSignedUrl(url);
    if (!check.ok) return problemResponse(403, check.detail);
    const key = objectKeyOf(url, pathPrefix);
    const notFound = () => problemResponse(404, "no such media object");
    if (key === undefined) return notFound();

    // A conditional or HEAD request reads the head first: a 304 needs no bytes. Keys never change
    // content, so a head then a get of one key cannot see two versions.
    const ifNoneMatch = c.req.header("if-none-match");
    const head = c.req.method === "HEAD" || ifNoneMatch !== undefined ? await options.objects.head(key) : undefined;
    if (head === null) return notFound();
    if (head && ifNoneMatchMatches(ifNoneMatch, head.etag)) {
      return c.body(null, 304, { etag: head.etag, "cache-control": head.cacheControl ?? MEDIA_CACHE_CONTROL });
    }
    const stored = c.req.method === "HEAD" ? undefined : await options.objects.get(key);
    if (stored === null) return notFound();
    const object = stored ?? head;
    if (!object) return notFound();
    const headers = {
      etag: object.etag,
      "cache-control": object.cacheControl ?? MEDIA_CACHE_CONTROL,
      "content-type": object.contentType,
      "content-length": String(object.size),
      ...(object.lastModified ? { "last-modified": object.lastModified.toUTCString() } : {}),
    };
    return stored ? c.body(stored.body, 200, headers) : c.body(null, 200, headers);
  });

  return routes;
}
