import { createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { getSignedUrl } from "@aws-sdk/cloudfront-signer";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEVELOPMENT_MEDIA_KEY } from "../../../local/src/media-dev-key.ts";
import {
  cannedPolicy,
  createMediaSigner,
  fromCloudFrontBase64,
  mediaUrlExpiry,
  objectKeyPath,
  toCloudFrontBase64,
} from "../../src/storage/media-signer.ts";

const HOUR = 3600;
const fresh = generateKeyPairSync("rsa", { modulusLength: 2048 });
const keys = {
  development: { keyPairId: DEVELOPMENT_MEDIA_KEY.keyPairId, privateKeyPem: DEVELOPMENT_MEDIA_KEY.privateKeyPem },
  "a fresh PKCS#1 key": {
    keyPairId: "K2JCJMDEHXQW5F",
    privateKeyPem: fresh.privateKey.export({ type: "pkcs1", format: "pem" }) as string,
  },
};
const baseUrls = [
  "https://d111111abcdef8.cloudfront.net",
  "http://127.0.0.1:3000/media",
  "https://media.example.com/a b/",
];
/** Keys as renditions have them, and keys that need every kind of escaping. */
const objectKeys = [
  "renditions/img_01JD6W1QZ3N8Y5G2H7K4M9P0RS/320.webp",
  "renditions/img_01JD6W1QZ3N8Y5G2H7K4M9P0RS/2048.webp",
  "images/a b/ünïcode (1)!*'.jpg",
  "写真/東京 タワー.webp",
  "emoji/🦒 giraffe.webp",
  "odd/100%.webp",
  "odd/a%41b+c&d=e?f#g;h,i:j@k$l.webp",
  "odd//double/slash.webp",
  "odd/~tilde_-.webp",
];
/** An object key as the library wants its URL: percent-encoded (it decodes and re-encodes each segment). */
const encodedPath = (key: string) => key.split("/").map(encodeURIComponent).join("/");

const at = (iso: string) => () => new Date(iso);

describe("createMediaSigner", () => {
  for (const [which, key] of Object.entries(keys)) {
    it(`signs the same URL as @aws-sdk/cloudfront-signer, ${which}`, () => {
      for (const baseUrl of baseUrls) {
        const signer = createMediaSigner({ baseUrl, ...key, now: at("2026-11-25T12:34:56Z") });
        const base = new URL(baseUrl).href.replace(/\/$/, "");
        for (const objectKey of objectKeys) {
          const expected = getSignedUrl({
            url: `${base}/${encodedPath(objectKey)}`,
            keyPairId: key.keyPairId,
            privateKey: key.privateKeyPem,
            dateLessThan: signer.expiresAt(),
          });
          expect(signer.urlFor(objectKey)).toBe(expected);
        }
      }
    });
  }

  it("encodes unicode and spaces in a key as the library does when given the key unencoded", () => {
    const signer = createMediaSigner({ baseUrl: baseUrls[0]!, ...keys.development, now: at("2026-11-25T12:00:00Z") });
    for (const objectKey of objectKeys.filter((k) => !/[%?#]/.test(k))) {
      const expected = getSignedUrl({
        url: `${baseUrls[0]}/${objectKey}`,
        keyPairId: keys.development.keyPairId,
        privateKey: keys.development.privateKeyPem,
        dateLessThan: signer.expiresAt(),
      });
      expect(signer.urlFor(objectKey)).toBe(expected);
    }
    expect(signer.urlFor("images/a b/ü.jpg")).toMatch(
      /^https:\/\/[^/]+\/images\/a%20b\/%C3%BC\.jpg\?Expires=\d+&Key-Pair-Id=/,
    );
  });

  it("signs a policy CloudFront can check with the public key", () => {
    const signer = createMediaSigner({ baseUrl: baseUrls[1]!, ...keys.development, now: at("2026-11-25T12:00:00Z") });
    const url = signer.urlFor(objectKeys[2]!);
    const [resource, query] = url.split("?") as [string, string];
    const params = new URLSearchParams(query);
    expect([...params.keys()]).toEqual(["Expires", "Key-Pair-Id", "Signature"]);
    const signature = fromCloudFrontBase64(params.get("Signature")!)!;
    const policy = cannedPolicy(resource, Number(params.get("Expires")));
    expect(verify("sha1", Buffer.from(policy), createPublicKey(DEVELOPMENT_MEDIA_KEY.publicKeyPem), signature)).toBe(
      true,
    );
  });

  it("gives the same URL, byte for byte, all through one window, and signs it once", () => {
    let now = new Date("2026-11-25T12:00:00.000Z");
    const signer = createMediaSigner({ baseUrl: baseUrls[0]!, ...keys.development, now: () => now });
    const first = signer.urlFor(objectKeys[0]!);
    for (const time of ["2026-11-25T12:00:00.001Z", "2026-11-25T12:30:00Z", "2026-11-25T12:59:59.999Z"]) {
      now = new Date(time);
      expect(signer.urlFor(objectKeys[0]!)).toBe(first);
    }
    expect(signer.stats()).toEqual({ signatures: 1, cacheHits: 3, cachedUrls: 1 });
    // Another instance (a second Lambda) signs the very same bytes: RSA signatures are deterministic.
    const other = createMediaSigner({ baseUrl: baseUrls[0]!, ...keys.development, now: () => now });
    expect(other.urlFor(objectKeys[0]!)).toBe(first);
  });

  it("gives a new URL, valid one window longer, in the next window", () => {
    let now = new Date("2026-11-25T12:59:59.999Z");
    const signer = createMediaSigner({ baseUrl: baseUrls[0]!, ...keys.development, now: () => now });
    const first = signer.urlFor(objectKeys[0]!);
    now = new Date("2026-11-25T13:00:00.000Z");
    const second = signer.urlFor(objectKeys[0]!);
    expect(second).not.toBe(first);
    const expires = (url: string) => Number(new URL(url).searchParams.get("Expires"));
    expect(expires(first)).toBe(Date.parse("2026-11-25T14:00:00Z") / 1000);
    expect(expires(second)).toBe(expires(first) + HOUR);
    expect(signer.expiresAt()).toEqual(new Date("2026-11-25T15:00:00Z"));
    expect(signer.stats().cachedUrls).toBe(1); // the old window's URL is gone
  });

  it("follows windowSeconds", () => {
    let now = new Date("2026-11-25T12:00:59Z");
    const signer = createMediaSigner({ baseUrl: baseUrls[0]!, ...keys.development, windowSeconds: 60, now: () => now });
    const first = signer.urlFor(objectKeys[0]!);
    expect(signer.expiresAt()).toEqual(new Date("2026-11-25T12:02:00Z"));
    now = new Date("2026-11-25T12:01:00Z");
    expect(signer.urlFor(objectKeys[0]!)).not.toBe(first);
  });

  it("keeps at most maxCachedUrls, dropping the least recently used", () => {
    const signer = createMediaSigner({
      baseUrl: baseUrls[0]!,
      ...keys.development,
      maxCachedUrls: 3,
      now: at("2026-11-25T12:00:00Z"),
    });
    const [a, b, c, d] = ["a.webp", "b.webp", "c.webp", "d.webp"];
    const urlOfB = signer.urlFor(b!);
    signer.urlFor(a!);
    signer.urlFor(c!);
    signer.urlFor(b!); // b is now the most recently used, a the least
    signer.urlFor(d!); // evicts a
    expect(signer.stats()).toEqual({ signatures: 4, cacheHits: 1, cachedUrls: 3 });
    signer.urlFor(b!);
    signer.urlFor(c!);
    signer.urlFor(d!);
    expect(signer.stats()).toEqual({ signatures: 4, cacheHits: 4, cachedUrls: 3 });
    signer.urlFor(a!); // signed again
    expect(signer.stats()).toEqual({ signatures: 5, cacheHits: 4, cachedUrls: 3 });
    for (let i = 0; i < 50; i++) signer.urlFor(`many/${i}.webp`);
    expect(signer.stats().cachedUrls).toBe(3);
    // An evicted URL signed again is still the same URL.
    expect(signer.urlFor(b!)).toBe(urlOfB);
  });

  it("refuses what CloudFront would not take or no URL could carry", () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" });
    const rsa1024 = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({
      type: "pkcs8",
      format: "pem",
    });
    const options = { baseUrl: baseUrls[0]!, ...keys.development };
    expect(() => createMediaSigner({ ...options, privateKeyPem: ec as string })).toThrow(/2048-bit RSA/);
    expect(() => createMediaSigner({ ...options, privateKeyPem: rsa1024 as string })).toThrow(/2048-bit RSA/);
    expect(() => createMediaSigner({ ...options, baseUrl: "https://d.example/media?x=1" })).toThrow(/without query/);
    expect(() => createMediaSigner({ ...options, baseUrl: "ftp://d.example" })).toThrow(/http/);
    expect(() => createMediaSigner({ ...options, keyPairId: "K 1" })).toThrow(/letters and digits/);
    expect(() => createMediaSigner({ ...options, windowSeconds: 0 })).toThrow(/windowSeconds/);
    const signer = createMediaSigner(options);
    expect(() => signer.urlFor("a/../b.webp")).toThrow(/dot segment/);
    expect(() => signer.urlFor("./b.webp")).toThrow(/dot segment/);
    expect(() => signer.urlFor("")).toThrow();
    expect(objectKeyPath("a/.b/c..d")).toBe("a/.b/c..d");
  });
});

describe("mediaUrlExpiry", () => {
  it("is the end of the current window plus one window", () => {
    expect(mediaUrlExpiry(new Date("2026-11-25T12:00:00Z"))).toBe(Date.parse("2026-11-25T14:00:00Z") / 1000);
    expect(mediaUrlExpiry(new Date("2026-11-25T12:59:59.999Z"))).toBe(Date.parse("2026-11-25T14:00:00Z") / 1000);
    expect(mediaUrlExpiry(new Date("2026-11-25T13:00:00Z"))).toBe(Date.parse("2026-11-25T15:00:00Z") / 1000);
  });

  it("for any time and window: one expiry per window, at a window's end, more than one window ahead", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        fc.integer({ min: 1, max: 7 * 86_400 }),
        fc.integer({ min: 0, max: 7 * 86_400_000 }),
        (ms, windowSeconds, later) => {
          const expiry = mediaUrlExpiry(new Date(ms), windowSeconds);
          expect(expiry % windowSeconds).toBe(0);
          expect(expiry * 1000 - ms).toBeGreaterThan(windowSeconds * 1000);
          expect(expiry * 1000 - ms).toBeLessThanOrEqual(2 * windowSeconds * 1000);
          const sameWindow = Math.floor(ms / 1000 / windowSeconds) === Math.floor((ms + later) / 1000 / windowSeconds);
          expect(mediaUrlExpiry(new Date(ms + later), windowSeconds) === expiry).toBe(sameWindow);
        },
      ),
    );
  });
});

describe("CloudFront base64", () => {
  it("round-trips and refuses any text that is not exactly the encoding of its bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (bytes) => {
        const text = toCloudFrontBase64(bytes);
        expect(text).toMatch(/^[A-Za-z0-9~-]+_{0,2}$/);
        expect(fromCloudFrontBase64(text)).toEqual(Buffer.from(bytes));
      }),
    );
    const one = toCloudFrontBase64(Buffer.from([0xff])); // "~w__": "w" carries 2 used bits and 4 unused
    expect(one).toBe("~w__");
    expect(fromCloudFrontBase64("~x__")).toBeUndefined();
    expect(fromCloudFrontBase64("~w_")).toBeUndefined();
    expect(fromCloudFrontBase64("~w==")).toBeUndefined();
    expect(fromCloudFrontBase64("~w!_")).toBeUndefined();
    expect(fromCloudFrontBase64("")).toBeUndefined();
  });
});
