import { createPrivateKey, sign, type KeyObject } from "node:crypto";

/**
 * CloudFront signed URLs with a canned policy, the same bytes `@aws-sdk/cloudfront-signer`'s
 * `getSignedUrl({ url, keyPairId, privateKey, dateLessThan })` makes (media-signer.test.ts
 * proves it), computed here with the key imported once: the library parses the PEM on every
 * call, which is two thirds of its cost (scripts/measure-media-signing.ts).
 */

export const DEFAULT_MEDIA_URL_WINDOW_SECONDS = 3600;
/** About 600 bytes an entry (a URL is ~450 characters): a few MB at most. */
export const DEFAULT_MAX_CACHED_MEDIA_URLS = 4096;

/** The query parameters CloudFront takes a signature from; the resource is the URL without them. */
export const CLOUDFRONT_SIGNING_PARAMS = ["Expires", "Policy", "Signature", "Key-Pair-Id", "Hash-Algorithm"] as const;

/** The policy a canned-policy signature covers, as the library JSON.stringifies it. */
export const cannedPolicy = (resource: string, expiresEpochSeconds: number): string =>
  JSON.stringify({
    Statement: [{ Resource: resource, Condition: { DateLessThan: { "AWS:EpochTime": expiresEpochSeconds } } }],
  });

/** CloudFront's URL-safe base64: `+` `=` `/` become `-` `_` `~`. */
export const toCloudFrontBase64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes)
    .toString("base64")
    .replace(/[+=/]/g, (c) => (c === "+" ? "-" : c === "=" ? "_" : "~"));

/**
 * The bytes of CloudFront base64, or undefined unless `text` is exactly what toCloudFrontBase64
 * gives for them: Node's decoder skips stray characters and ignores the unused low bits of the
 * last character, which would let a changed character decode to the same signature.
 */
export function fromCloudFrontBase64(text: string): Buffer | undefined {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9~-]*_{0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(
    text.replace(/[-_~]/g, (c) => (c === "-" ? "+" : c === "_" ? "=" : "/")),
    "base64",
  );
  return toCloudFrontBase64(bytes) === text ? bytes : undefined;
}

/**
 * When a URL signed at `now` expires (epoch seconds): the end of the current window plus one more.
 * Windows are aligned to the epoch, so every instance gives the same expiry, and a URL handed out
 * at the last second of a window still has one whole window to live.
 */
export function mediaUrlExpiry(now: Date, windowSeconds = DEFAULT_MEDIA_URL_WINDOW_SECONDS): number {
  const seconds = Math.floor(now.getTime() / 1000);
  return (Math.floor(seconds / windowSeconds) + 2) * windowSeconds;
}

/**
 * An object key as a URL path: each segment percent-encoded as encodeURIComponent does (unicode
 * as UTF-8, spaces as %20, `%` `+` `?` `#` escaped), which the library keeps as it is and S3
 * decodes back to the key. A `.` or `..` segment is refused: every client resolves it away
 * before sending, so no request could ever carry the signed path.
 */
export function objectKeyPath(objectKey: string): string {
  if (objectKey.length === 0) throw new Error("an object key is needed");
  return objectKey
    .split("/")
    .map((segment) => {
      if (segment === "." || segment === "..")
        throw new Error(`object key ${JSON.stringify(objectKey)} has a dot segment`);
      return encodeURIComponent(segment);
    })
    .join("/");
}

export interface MediaSignerOptions {
  /** Where the media objects are served: the distribution's origin (and path), e.g. `https://d111.cloudfront.net`. */
  baseUrl: string;
  /** The CloudFront public key's id in the trusted key group. */
  keyPairId: string;
  /** 2048-bit RSA, PEM (PKCS#1 or PKCS#8). */
  privateKeyPem: string;
  windowSeconds?: number;
  now?: () => Date;
  maxCachedUrls?: number;
}

export interface MediaSigner {
  /** The signed URL of one object; the same string for every call within one window. */
  urlFor(objectKey: string): string;
  /** When the URLs handed out now expire. */
  expiresAt(): Date;
  /** Signatures made and answers served from the cache since the signer was made. */
  stats(): { signatures: number; cacheHits: number; cachedUrls: number };
}

/** `https://host[:port]/path` with the path encoded as the library would encode it, no trailing slash. */
function normalizeBaseUrl(baseUrl: string): string {
  const url = new URL(baseUrl);
  if ((url.protocol !== "https:" && url.protocol !== "http:") || url.search || url.hash || url.username) {
    throw new Error(`media base URL ${baseUrl} must be http(s)://host[/path], without query, fragment or credentials`);
  }
  const path = url.pathname.replace(/\/+$/, "").replace(/[^/]+/g, (segment) => {
    try {
      return encodeURIComponent(decodeURIComponent(segment));
    } catch {
      return encodeURIComponent(segment);
    }
  });
  return `${url.origin}${path}`;
}

function importRsaKey(privateKeyPem: string): KeyObject {
  const key = createPrivateKey(privateKeyPem);
  // RSA signatures are deterministic; ECDSA's (which CloudFront also takes) are random, so two
  // instances would hand out two URLs for one object in one window and browser caches would miss.
  if (key.asymmetricKeyType !== "rsa" || key.asymmetricKeyDetails?.modulusLength !== 2048) {
    throw new Error("the media signing key must be 2048-bit RSA (what CloudFront key groups take)");
  }
  return key;
}

export function createMediaSigner(options: MediaSignerOptions): MediaSigner {
  const windowSeconds = options.windowSeconds ?? DEFAULT_MEDIA_URL_WINDOW_SECONDS;
  const maxCachedUrls = options.maxCachedUrls ?? DEFAULT_MAX_CACHED_MEDIA_URLS;
  const now = options.now ?? (() => new Date());
  if (!Number.isInteger(windowSeconds) || windowSeconds < 1)
    throw new Error("windowSeconds must be a whole number of seconds");
  if (!Number.isInteger(maxCachedUrls) || maxCachedUrls < 1) throw new Error("maxCachedUrls must be at least 1");
  // Written into the URL as it is: CloudFront's ids are upper-case letters and digits.
  if (!/^[A-Za-z0-9]+$/.test(options.keyPairId)) throw new Error("keyPairId must be letters and digits");
  const base = normalizeBaseUrl(options.baseUrl);
  const key = importRsaKey(options.privateKeyPem);
  const keyPairParam = `&Key-Pair-Id=${options.keyPairId}&Signature=`;

  // Only the current expiry's URLs: those of an older window are never asked for again.
  const cache = new Map<string, string>();
  let cacheExpiry = Number.NaN;
  let signatures = 0;
  let cacheHits = 0;

  function signedUrl(objectKey: string, expires: number): string {
    const resource = `${base}/${objectKeyPath(objectKey)}`;
    const signature = sign("sha1", Buffer.from(cannedPolicy(resource, expires)), key);
    signatures += 1;
    // The library's order: Expires, Key-Pair-Id, Signature (CloudFront base64 needs no escaping).
    return `${resource}?Expires=${expires}${keyPairParam}${toCloudFrontBase64(signature)}`;
  }

  return {
    urlFor(objectKey) {
      const expires = mediaUrlExpiry(now(), windowSeconds);
      if (expires !== cacheExpiry) {
        cache.clear();
        cacheExpiry = expires;
      }
      const cached = cache.get(objectKey);
      if (cached !== undefined) {
        cacheHits += 1;
        // Least recently used goes first: a hit moves to the back.
        cache.delete(objectKey);
        cache.set(objectKey, cached);
        return cached;
      }
      const url = signedUrl(objectKey, expires);
      if (cache.size >= maxCachedUrls) cache.delete(cache.keys().next().value as string);
      cache.set(objectKey, url);
      return url;
    },
    expiresAt: () => new Date(mediaUrlExpiry(now(), windowSeconds) * 1000),
    stats: () => ({ signatures, cacheHits, cachedUrls: cache.size }),
  };
}
