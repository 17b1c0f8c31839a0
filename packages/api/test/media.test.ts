import { generateKeyPairSync } from "node:crypto";
import { connect, type AddressInfo } from "node:net";
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/cloudfront-signer";
import { serve, type ServerType } from "@hono/node-server";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "@images/core";
import { createMediaSigner } from "@images/core/storage/media-signer";
import { createObjectReader } from "@images/core/storage/object-reader";
import { createObjectStore } from "@images/core/storage/object-store";
import { fixture } from "../../core/test/support/fixtures.ts";
import { DEVELOPMENT_MEDIA_KEY } from "../../local/src/media-dev-key.ts";
import { createApp } from "../src/app.ts";
import { createLogger } from "../src/logger.ts";
import { ifNoneMatchMatches } from "../src/media/entity-tags.ts";
import { createMediaRoutes, MEDIA_CACHE_CONTROL } from "../src/media/media-routes.ts";
import { problemOf, startTestApi, type TestApi } from "./support/test-api.ts";

const RENDITION = "renditions/img_01JD6W1QZ3N8Y5G2H7K4M9P0RS/320.webp";
const UNICODE = "renditions/img_01JD6W1QZ3N8Y5G2H7K4M9P0RS/ünï cödé 640.webp";
const BARE = "renditions/img_01JD6W1QZ3N8Y5G2H7K4M9P0RS/stored-without-headers.webp";
const trusted = DEVELOPMENT_MEDIA_KEY;

let t: TestApi;
let now = new Date("2026-11-25T12:34:56Z");
let bytes: Buffer;
let etag: string;
let server: ServerType;
let origin: string;
/** The dev server's media URLs: signed for the origin the real HTTP server listens on. */
let signer: ReturnType<typeof createMediaSigner>;

beforeAll(async () => {
  // This test mounts the twin itself, with a clock it controls.
  t = await startTestApi({}, undefined, { localMedia: false });
  // A real rendition: the flower as 320 px WebP, stored as renditions are.
  bytes = await sharp(fixture("FreshFlower.jpg")).resize(320, 320, { fit: "inside" }).webp().toBuffer();
  for (const key of [RENDITION, UNICODE]) {
    await t.clients.s3.send(
      new PutObjectCommand({
        Bucket: t.config.bucketName,
        Key: key,
        Body: bytes,
        ContentType: "image/webp",
        CacheControl: MEDIA_CACHE_CONTROL,
      }),
    );
  }
  await t.clients.s3.send(new PutObjectCommand({ Bucket: t.config.bucketName, Key: BARE, Body: bytes }));
  etag = (await t.clients.s3.send(new HeadObjectCommand({ Bucket: t.config.bucketName, Key: RENDITION }))).ETag!;

  // Mounted as the dev server would mount it: on the app from createApp.
  t.app.route(
    "/",
    createMediaRoutes({
      publicKeyPem: trusted.publicKeyPem,
      keyPairId: trusted.keyPairId,
      objects: createObjectReader(t.clients.s3, t.config.bucketName),
      now: () => now,
    }),
  );
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  signer = createMediaSigner({ baseUrl: `${origin}/media`, ...trusted, now: () => now });
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await t?.stop();
});

const get = (url: string, headers: Record<string, string> = {}, method = "GET") =>
  t.app.request(url, { method, headers });

/** What a curl-like client sends for `url`, on one connection: status and body, raw. */
function sendRaw(url: string): Promise<{ status: number; body: Buffer }> {
  const { port } = server.address() as AddressInfo;
  const match = /^http:\/\/([^/?#]*)([^#]*)/.exec(url)!;
  const target = match[2]!.startsWith("/") ? match[2]! : `/${match[2]}`;
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const answer = Buffer.concat(chunks);
      const headEnd = answer.indexOf("\r\n\r\n");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer.toString("latin1"))?.[1] ?? 0);
      resolve({ status, body: headEnd === -1 ? Buffer.alloc(0) : answer.subarray(headEnd + 4) });
    });
    socket.write(Buffer.from(`GET ${target} HTTP/1.1\r\nHost: ${match[1]}\r\nConnection: close\r\n\r\n`, "utf8"));
  });
}

describe("GET /media/<key> with a good signed URL", () => {
  it("answers the object's bytes with its type, immutable caching and its ETag", async () => {
    const response = await get(signer.urlFor(RENDITION));
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(bytes);
    expect(Object.fromEntries(response.headers)).toMatchObject({
      "content-type": "image/webp",
      "cache-control": "public, max-age=31536000, immutable",
      etag,
      "content-length": String(bytes.length),
      "x-content-type-options": "nosniff",
    });
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
  });

  it("serves a key with unicode and spaces, percent-encoded as the signer writes it", async () => {
    const url = signer.urlFor(UNICODE);
    expect(url).toContain("/%C3%BCn%C3%AF%20c%C3%B6d%C3%A9%20640.webp?");
    const response = await get(url);
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(bytes);
  });

  it("answers the same over a real socket (the dev server's path), Host and request target as sent", async () => {
    const answer = await sendRaw(signer.urlFor(UNICODE));
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(bytes);
  });

  it("answers HEAD with the headers and no body", async () => {
    const response = await get(signer.urlFor(RENDITION), {}, "HEAD");
    expect(response.status).toBe(200);
    expect(response.headers.get("etag")).toBe(etag);
    expect(response.headers.get("content-length")).toBe(String(bytes.length));
    expect(response.headers.get("content-type")).toBe("image/webp");
    expect((await response.arrayBuffer()).byteLength).toBe(0);
  });

  it("gives an object stored without Cache-Control the immutable one, and the store's default type", async () => {
    const response = await get(signer.urlFor(BARE));
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe(MEDIA_CACHE_CONTROL);
    // S3 says binary/octet-stream, s3rver application/octet-stream: the twin passes what it stored.
    expect(response.headers.get("content-type")).toMatch(/^(binary|application)\/octet-stream$/);
  });

  it("passes on the Cache-Control an object was stored with, as CloudFront does", async () => {
    // ObjectStore.put stores "private, …" today: CloudFront would pass it on and keep no copy.
    const key = "renditions/img_01JD6W1QZ3N8Y5G2H7K4M9P0RS/stored-by-object-store.webp";
    await createObjectStore(t.clients.s3, t.config.bucketName).put(key, bytes, "image/webp");
    const response = await get(signer.urlFor(key));
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toMatch(/^private\b/);
  });

  it("accepts URLs that @aws-sdk/cloudfront-signer made, SHA-256 and own query parameters included", async () => {
    const options = {
      keyPairId: trusted.keyPairId,
      privateKey: trusted.privateKeyPem,
      dateLessThan: "2026-11-25T14:00:00Z",
    };
    const plain = getSignedUrl({ url: `${origin}/media/${RENDITION}`, ...options });
    const sha256 = getSignedUrl({ url: `${origin}/media/${RENDITION}`, ...options, algorithm: "SHA256" });
    const withQuery = getSignedUrl({ url: `${origin}/media/${RENDITION}?v=2&size=small`, ...options });
    expect(sha256).toContain("&Hash-Algorithm=SHA256");
    for (const url of [plain, sha256, withQuery]) expect((await get(url)).status).toBe(200);
    // Own parameters are part of what is signed.
    await problemOf(await get(withQuery.replace("v=2", "v=3")), 403);
    await problemOf(await get(withQuery.replace("v=2&", "")), 403);
  });
});

describe("If-None-Match", () => {
  it("answers 304 with the ETag and caching headers, and no body, on a match", async () => {
    for (const value of [etag, `W/${etag}`, `"other", ${etag}`, `"a,b" ,W/${etag}`, "*"]) {
      const response = await get(signer.urlFor(RENDITION), { "if-none-match": value });
      expect(response.status, value).toBe(304);
      expect(response.headers.get("etag")).toBe(etag);
      expect(response.headers.get("cache-control")).toBe(MEDIA_CACHE_CONTROL);
      expect((await response.arrayBuffer()).byteLength).toBe(0);
    }
    expect((await get(signer.urlFor(RENDITION), { "if-none-match": etag }, "HEAD")).status).toBe(304);
  });

  it("answers the bytes when nothing matches", async () => {
    for (const value of ['"other"', etag.slice(0, -2) + '"', etag.replaceAll('"', ""), ""]) {
      const response = await get(signer.urlFor(RENDITION), { "if-none-match": value });
      expect(response.status, value).toBe(200);
      expect(Buffer.from(await response.arrayBuffer())).toEqual(bytes);
    }
  });

  it("never answers 304 for a URL it refuses", async () => {
    const url = signer.urlFor(RENDITION).replace("Expires=", "Expires=1");
    await problemOf(await get(url, { "if-none-match": "*" }), 403);
  });

  it("compares entity-tags weakly, member by member, as RFC 9110 says", () => {
    expect(ifNoneMatchMatches(undefined, '"a"')).toBe(false);
    expect(ifNoneMatchMatches(" * ", '"a"')).toBe(true);
    expect(ifNoneMatchMatches('W/"a"', '"a"')).toBe(true);
    expect(ifNoneMatchMatches('"a"', 'W/"a"')).toBe(true);
    expect(ifNoneMatchMatches('"x, \\"a\\""', '"a"')).toBe(false);
    expect(ifNoneMatchMatches('"x,y", "a"', '"a"')).toBe(true);
    expect(ifNoneMatchMatches('"x",,  "a"  ', '"a"')).toBe(true);
    expect(ifNoneMatchMatches('"A"', '"a"')).toBe(false);
    expect(ifNoneMatchMatches("a", '"a"')).toBe(false);
    expect(ifNoneMatchMatches('"x" junk, "a"', '"a"')).toBe(false);
    expect(ifNoneMatchMatches('"a"', "unquoted")).toBe(false);
  });
});

describe("refused URLs", () => {
  it("refuses a URL without any one of its signing parameters", async () => {
    const url = signer.urlFor(RENDITION);
    for (const name of ["Expires", "Signature", "Key-Pair-Id"]) {
      const without = url
        .replace(new RegExp(`[?&]${name}=[^&]*`), (m) => (m.startsWith("?") ? "?" : ""))
        .replace("?&", "?");
      expect(without).not.toContain(`${name}=`);
      const problem = await problemOf(await get(without), 403);
      expect(problem.detail).toMatch(/not signed/);
    }
    expect((await problemOf(await get(`${origin}/media/${RENDITION}`), 403)).detail).toMatch(/not signed/);
  });

  it("refuses a key pair it does not trust, and another key under the trusted id", async () => {
    const foreign = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
      type: "pkcs8",
      format: "pem",
    }) as string;
    const base = { baseUrl: `${origin}/media`, privateKeyPem: foreign, now: () => now };
    const other = await get(createMediaSigner({ ...base, keyPairId: "K2JCJMDEHXQW5F" }).urlFor(RENDITION));
    expect((await problemOf(other, 403)).detail).toMatch(/not trusted/);
    const impostor = await get(createMediaSigner({ ...base, keyPairId: trusted.keyPairId }).urlFor(RENDITION));
    expect((await problemOf(impostor, 403)).detail).toMatch(/signature does not match/);
  });

  it("refuses a URL from the moment it expires, and not a millisecond before", async () => {
    const url = signer.urlFor(RENDITION);
    const expires = Number(new URL(url).searchParams.get("Expires")) * 1000;
    const saved = now;
    try {
      now = new Date(expires - 1);
      expect((await get(url)).status).toBe(200);
      now = new Date(expires);
      expect((await problemOf(await get(url), 403)).detail).toMatch(/expired/);
      now = new Date(expires + 86_400_000);
      await problemOf(await get(url), 403);
    } finally {
      now = saved;
    }
  });

  it("refuses a custom policy and a repeated parameter", async () => {
    const custom = getSignedUrl({
      url: `${origin}/media/${RENDITION}`,
      keyPairId: trusted.keyPairId,
      privateKey: trusted.privateKeyPem,
      dateLessThan: "2026-11-25T14:00:00Z",
      dateGreaterThan: "2026-11-25T12:00:00Z",
    });
    expect(custom).toContain("Policy=");
    expect((await problemOf(await get(custom), 403)).detail).toMatch(/custom policy/);
    const url = signer.urlFor(RENDITION);
    await problemOf(await get(`${url}&Expires=${new URL(url).searchParams.get("Expires")}`), 403);
  });

  it("answers 404 for a well-signed URL of an object that does not exist", async () => {
    const problem = await problemOf(await get(signer.urlFor("renditions/img_nothing/320.webp")), 404);
    expect(problem.detail).toMatch(/no such media object/);
  });

  it("answers 503 problem JSON, through the app's onError, when S3 is unavailable", async () => {
    const app = createApp({ config: t.config, store: t.store, logger: createLogger({ level: "silent" }) });
    const failing = async () => {
      throw new AppError("unavailable", "reading the object: storage is busy or unavailable, try again", {
        retryAfterSeconds: 1,
      });
    };
    app.route("/", createMediaRoutes({ ...trusted, objects: { head: failing, get: failing }, now: () => now }));
    const response = await app.request(signer.urlFor(RENDITION));
    await problemOf(response, 503);
    expect(response.headers.get("retry-after")).toBe("1");
  });
});

describe("every one-character change of a signed URL", () => {
  /** For each position: the next character of its class (which also flips unused base64 bits) and a fixed set. */
  const nextOf = (c: string) =>
    /[a-yA-Y0-8]/.test(c)
      ? String.fromCharCode(c.charCodeAt(0) + 1)
      : c === "z"
        ? "a"
        : c === "Z"
          ? "A"
          : c === "9"
            ? "0"
            : "x";
  const FIXED = ["A", "z", "0", "-", "_", "~", ".", "/", "?", "&", "=", "#", "%", "+", " ", "\\", "é"];

  it("is refused: 403, 404 or 400, never the bytes (over a real socket, as curl would send it)", async () => {
    const url = signer.urlFor(UNICODE);
    expect((await sendRaw(url)).status).toBe(200); // the harness can succeed
    const mutations: string[] = [];
    for (let i = 0; i < url.length; i++) {
      for (const c of new Set([nextOf(url[i]!), ...FIXED])) {
        if (c !== url[i]) mutations.push(url.slice(0, i) + c + url.slice(i + 1));
      }
    }
    const statuses = new Map<number, number>();
    const served: string[] = [];
    let next = 0;
    async function worker() {
      while (next < mutations.length) {
        const mutated = mutations[next++]!;
        // Only an http:// URL can reach this server; anything else (a changed scheme) is, to any
        // HTTP stack, a path of this origin, which is how app.request reads it.
        const status = /^http:\/\//.test(mutated) ? (await sendRaw(mutated)).status : (await get(mutated)).status;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (![400, 403, 404].includes(status)) served.push(`${status} ${mutated}`);
      }
    }
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(served).toEqual([]);
    expect(mutations.length).toBeGreaterThan(url.length * 15);
    // The signature check does the refusing; 404 and 400 are the route and the HTTP parser.
    expect(statuses.get(403)! / mutations.length).toBeGreaterThan(0.8);
    console.log(
      `${mutations.length} one-character changes of a ${url.length}-character URL:`,
      Object.fromEntries(statuses),
    );
  });
});
