import { createPrivateKey, generateKeyPairSync, sign } from "node:crypto";
import { getSignedUrl } from "@aws-sdk/cloudfront-signer";
import { DEVELOPMENT_MEDIA_KEY } from "../../local/src/media-dev-key.ts";
import { cannedPolicy, createMediaSigner } from "../src/storage/media-signer.ts";

/**
 * What one media URL costs to sign, and what a 20-item list page (4 renditions each) costs
 * cold and warm: `npx tsx packages/core/scripts/measure-media-signing.ts`. Each figure is the
 * median of 15 rounds of `perRound` calls, after a warm-up round.
 */
const BASE = "https://d111111abcdef8.cloudfront.net";
const PAGE = Array.from({ length: 20 }, (_, i) =>
  [320, 640, 1080, 2048].map((w) => `renditions/img_01JD6W1QZ3N8Y5G2H7K4M9P${String(i).padStart(3, "0")}/${w}.webp`),
).flat();
const { keyPairId, privateKeyPem } = DEVELOPMENT_MEDIA_KEY;
const fixedNow = () => new Date("2026-11-25T12:00:00Z");
let unique = 0;

function microsecondsPerCall(perRound: number, call: () => void): number {
  const rounds: number[] = [];
  for (let round = 0; round < 16; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) call();
    if (round > 0) rounds.push(Number(process.hrtime.bigint() - started) / 1000 / perRound);
  }
  return rounds.sort((a, b) => a - b)[Math.floor(rounds.length / 2)]!;
}

const fmt = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(2)} µs`);
const rows: [string, number][] = [];

rows.push([
  "@aws-sdk/cloudfront-signer getSignedUrl, one URL (parses the PEM each call)",
  microsecondsPerCall(200, () =>
    getSignedUrl({
      url: `${BASE}/k/${unique++}.webp`,
      keyPairId,
      privateKey: privateKeyPem,
      dateLessThan: new Date(1_800_000_000_000),
    }),
  ),
]);
rows.push(["createPrivateKey(PEM) alone", microsecondsPerCall(200, () => createPrivateKey(privateKeyPem))]);
const cold = createMediaSigner({ baseUrl: BASE, keyPairId, privateKeyPem, now: fixedNow });
rows.push([
  "createMediaSigner urlFor, cache miss (key imported once)",
  microsecondsPerCall(200, () => cold.urlFor(`k/${unique++}.webp`)),
]);
const warm = createMediaSigner({ baseUrl: BASE, keyPairId, privateKeyPem, now: fixedNow });
for (const key of PAGE) warm.urlFor(key);
rows.push([
  "createMediaSigner urlFor, cache hit",
  microsecondsPerCall(20_000, () => warm.urlFor(PAGE[unique++ % PAGE.length]!)),
]);
rows.push([
  "a list page's 80 URLs, library",
  microsecondsPerCall(3, () => {
    for (const key of PAGE)
      getSignedUrl({
        url: `${BASE}/${key}?${unique++}`,
        keyPairId,
        privateKey: privateKeyPem,
        dateLessThan: new Date(1_800_000_000_000),
      });
  }),
]);
rows.push([
  "a list page's 80 URLs, cold signer (new window)",
  microsecondsPerCall(3, () => {
    const signer = createMediaSigner({ baseUrl: BASE, keyPairId, privateKeyPem, now: fixedNow });
    for (const key of PAGE) signer.urlFor(key);
  }),
]);
rows.push([
  "a list page's 80 URLs, warm signer",
  microsecondsPerCall(500, () => PAGE.forEach((key) => warm.urlFor(key))),
]);

// What an ECDSA P-256 key (which CloudFront key groups also take) would cost instead.
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
const rsa = createPrivateKey(privateKeyPem);
const policy = () => Buffer.from(cannedPolicy(`${BASE}/k/${unique++}.webp`, 1_800_000_000));
rows.push([
  "node:crypto sign, RSA-2048 SHA-1 (the signature alone)",
  microsecondsPerCall(200, () => sign("sha1", policy(), rsa)),
]);
rows.push([
  "node:crypto sign, ECDSA P-256 SHA-1 (the signature alone)",
  microsecondsPerCall(2000, () => sign("sha1", policy(), ec)),
]);

const rsaUrl = cold.urlFor(PAGE[0]!);
const ecUrl = getSignedUrl({
  url: `${BASE}/${PAGE[0]}`,
  keyPairId,
  privateKey: ec.export({ type: "pkcs8", format: "pem" }) as string,
  dateLessThan: new Date(1_800_000_000_000),
});

console.log(`node ${process.version}, ${process.arch}`);
for (const [what, us] of rows) console.log(`${what.padEnd(78)} ${fmt(us).padStart(10)}`);
console.log(`URL length: RSA-2048 ${rsaUrl.length} characters, ECDSA P-256 ${ecUrl.length} (DER, varies by a few)`);
