import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixture, pngDeclaring, tinyPng } from "../../../core/test/support/fixtures.ts";
import { DEVELOPMENT_TOKEN, developmentKey, signDevelopmentToken } from "../../src/development-token.ts";
import { recordCounts } from "./support/counts.ts";
import { startHttpApi, type HttpApi } from "./support/http-api.ts";

/**
 * Hostile and malformed requests over real HTTP. Each must answer its status as problem JSON
 * and leave the table and the bucket exactly as they were.
 */
let api: HttpApi;
let tokens: Record<string, string>;
let mine: { ready: string; pending: string };
let cursorForTag = "";
let tried = 0;
let unexpected = 0;

const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
const jpeg = fixture("FreshFlower.jpg");

/** A development token like the ones the service issues; a claim given as null is left out. */
function devToken(
  claims: {
    sub?: string | null;
    iss?: string;
    aud?: string;
    exp?: number | null;
    nbf?: number;
    token_use?: string | null;
  },
  key = developmentKey(),
) {
  const tokenUse = claims.token_use === undefined ? "id" : claims.token_use;
  let jwt = new SignJWT(tokenUse === null ? {} : { token_use: tokenUse })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuer(claims.iss ?? DEVELOPMENT_TOKEN.issuer)
    .setAudience(claims.aud ?? DEVELOPMENT_TOKEN.audience);
  if (claims.sub !== null) jwt = jwt.setSubject(claims.sub ?? "victim");
  if (claims.exp !== null) jwt = jwt.setExpirationTime(claims.exp ?? now() + 600);
  if (claims.nbf) jwt = jwt.setNotBefore(claims.nbf);
  return jwt.sign(key);
}

beforeAll(async () => {
  api = await startHttpApi();
  tokens = {
    victim: await signDevelopmentToken("victim"),
    attacker: await signDevelopmentToken("attacker"),
    wrongKey: await devToken({}, new TextEncoder().encode("x".repeat(48))),
    expired: await devToken({ exp: now() - 10 }),
    future: await devToken({ nbf: now() + 3600 }),
    wrongIssuer: await devToken({ iss: "https://issuer.evil" }),
    wrongAudience: await devToken({ aud: "another-api" }),
    algNone: `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: "victim", iss: DEVELOPMENT_TOKEN.issuer, aud: DEVELOPMENT_TOKEN.audience, exp: now() + 600, token_use: "id" })}.`,
    noExp: await devToken({ exp: null }),
    noSub: await devToken({ sub: null }),
    accessToken: await devToken({ token_use: "access" }),
    noTokenUse: await devToken({ token_use: null }),
  };
  const form = new FormData();
  form.append("file", new Blob([await tinyPng(1)]));
  form.append("title", "the victim's photo");
  form.append("tags", "private");
  const ready = await fetch(`${api.base}/images/upload`, { method: "POST", headers: bearer("victim"), body: form });
  const pending = await fetch(`${api.base}/images/upload`, {
    method: "POST",
    headers: { ...bearer("victim"), "content-type": "application/json" },
    body: JSON.stringify({ title: "pending", content_type: "image/jpeg", size_bytes: 5000 }),
  });
  mine = {
    ready: ((await ready.json()) as { image_id: string }).image_id,
    pending: ((await pending.json()) as { image: { image_id: string } }).image.image_id,
  };
  for (let i = 0; i < 3; i++) {
    const more = new FormData();
    more.append("file", new Blob([await tinyPng(10 + i)]));
    more.append("title", `more ${i}`);
    more.append("tags", "private");
    await fetch(`${api.base}/images/upload`, { method: "POST", headers: bearer("victim"), body: more });
  }
  const page = await fetch(`${api.base}/images?tag=private&limit=1`, { headers: bearer("victim") });
  cursorForTag = ((await page.json()) as { next_cursor: string }).next_cursor;
});
afterAll(async () => {
  recordCounts({ requests: tried, unexpected });
  await api?.stop();
});

const bearer = (who: string) => ({ authorization: `Bearer ${tokens[who] ?? who}` });

interface Attack {
  name: string;
  status: number;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: () => Promise<RequestInit["body"]> | RequestInit["body"];
  as?: string | null;
}

function multipart(
  parts: { name: string; value: string | Uint8Array; filename?: string; type?: string }[],
  boundary = "XyZ",
) {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename ? `; filename="${part.filename}"` : ""}`;
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${part.type ? `Content-Type: ${part.type}\r\n` : ""}\r\n`,
      ),
    );
    chunks.push(Buffer.from(part.value));
    chunks.push(Buffer.from("\r\n"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}
const MP = { "content-type": "multipart/form-data; boundary=XyZ" };
const withFile = async (file: Uint8Array, fields: Record<string, string> = { title: "t" }) =>
  multipart([
    { name: "file", value: file, filename: "x.jpg", type: "image/jpeg" },
    ...Object.entries(fields).map(([name, value]) => ({ name, value })),
  ]);
const upload = (
  name: string,
  status: number,
  body: () => Promise<Buffer> | Buffer,
  headers: Record<string, string> = MP,
): Attack => ({
  name,
  status,
  method: "POST",
  path: "/images/upload",
  headers,
  body,
});
const json = (name: string, status: number, method: string, path: string, value: unknown, as = "victim"): Attack => ({
  name,
  status,
  method,
  path,
  headers: { "content-type": "application/json" },
  body: () => (typeof value === "string" ? value : JSON.stringify(value)),
  as,
});
const get = (name: string, status: number, path: string, as: string | null = "victim"): Attack => ({
  name,
  status,
  path,
  as,
});

const attacks: Attack[] = [
  // Malformed and truncated multipart; wrong and missing content types.
  upload("truncated multipart", 400, async () => (await withFile(jpeg)).subarray(0, 2000)),
  upload("a boundary other than the declared one", 400, async () => withFile(jpeg), {
    "content-type": "multipart/form-data; boundary=other",
  }),
  upload("multipart without a boundary", 400, async () => withFile(jpeg), { "content-type": "multipart/form-data" }),
  upload("multipart with no parts", 400, () => Buffer.from("--XyZ--\r\n")),
  upload("an empty multipart body", 400, () => Buffer.alloc(0)),
  upload("no content type", 415, async () => withFile(jpeg), {}),
  upload("text/plain", 415, async () => withFile(jpeg), { "content-type": "text/plain" }),
  upload("application/xml", 415, () => Buffer.from("<a/>"), { "content-type": "application/xml" }),
  upload("the file sent as a text field", 400, () =>
    multipart([
      { name: "file", value: "not a file" },
      { name: "title", value: "t" },
    ]),
  ),
  upload("no file part", 400, () => multipart([{ name: "title", value: "t" }])),
  // Empty, truncated and corrupt images; what is not an image.
  upload("an empty file", 400, () => withFile(new Uint8Array())),
  upload("a truncated JPEG", 422, () => withFile(jpeg.subarray(0, 20_000))),
  upload("a JPEG with its data overwritten", 422, () => {
    const corrupt = Buffer.from(jpeg);
    corrupt.fill(0x00, 800, 60_000);
    return withFile(corrupt);
  }),
  upload("only a JPEG signature", 422, () => withFile(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]))),
  upload("a PNG cut after its header", 422, async () => withFile((await tinyPng(3)).subarray(0, 40))),
  upload("an SVG with a script", 415, () =>
    withFile(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')),
  ),
  upload("the SVG fixture", 415, () => withFile(fixture("oceans.svg"))),
  upload("HTML", 415, () =>
    withFile(Buffer.from("<!DOCTYPE html><html><script>alert(document.cookie)</script></html>")),
  ),
  upload("a PDF", 415, () =>
    withFile(Buffer.from("%PDF-1.7\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF")),
  ),
  upload("a JPEG/HTML polyglot", 422, () =>
    withFile(
      Buffer.concat([
        Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]),
        Buffer.from("JFIF<html><script>alert(1)</script></html>"),
      ]),
    ),
  ),
  upload("a ZIP", 415, () => withFile(Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0, 0, 0]))),
  upload("an executable", 415, () => withFile(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]))),
  // Oversized bodies.
  upload("a body over the limit", 413, () => withFile(fixture("Elephants_3840x2160.jpg"))),
  upload("a file just over 4 MiB", 413, () =>
    withFile(Buffer.concat([jpeg, Buffer.alloc(4 * 1024 * 1024 - jpeg.length + 1)])),
  ),
  json("a JSON upload body over 64 KiB", 413, "POST", "/images/upload", {
    title: "t",
    description: "d".repeat(70_000),
    content_type: "image/jpeg",
    size_bytes: 10,
  }),
  // Every field at and past its limits; bad Unicode, control characters, path-like strings.
  upload("a title of 201 characters", 400, () => withFile(jpeg, { title: "t".repeat(201) })),
  upload("an empty title", 400, () => withFile(jpeg, { title: "" })),
  upload("a title of spaces", 400, () => withFile(jpeg, { title: "   " })),
  upload("a title with a bell character", 400, () => withFile(jpeg, { title: "ding\u0007" })),
  upload("a title with a right-to-left override", 400, () => withFile(jpeg, { title: "gpj.\u202Eexe" })),
  upload("a title with a NUL", 400, () => withFile(jpeg, { title: "a\u0000b" })),
  upload("a description of 2,001 characters", 400, () => withFile(jpeg, { title: "t", description: "d".repeat(2001) })),
  upload("a description with an escape sequence", 400, () =>
    withFile(jpeg, { title: "t", description: "\u001b[31mred" }),
  ),
  upload("21 tags", 400, () =>
    withFile(jpeg, { title: "t", tags: Array.from({ length: 21 }, (_, i) => `t${i}`).join(",") }),
  ),
  upload("a tag of 65 characters", 400, () => withFile(jpeg, { title: "t", tags: "x".repeat(65) })),
  upload("a path-like tag", 400, () => withFile(jpeg, { title: "t", tags: "../../etc/passwd" })),
  upload("a tag with a key separator", 400, () => withFile(jpeg, { title: "t", tags: "a#b" })),
  upload("a tag with an emoji", 400, () => withFile(jpeg, { title: "t", tags: "cat🐱" })),
  upload("a tag with a space", 400, () => withFile(jpeg, { title: "t", tags: "two words" })),
  json(
    "a JSON title with a lone surrogate",
    400,
    "POST",
    "/images/upload",
    '{"title":"bad \\ud800","content_type":"image/jpeg","size_bytes":10}',
  ),
  json("a JSON upload with an unknown field", 400, "POST", "/images/upload", {
    title: "t",
    content_type: "image/jpeg",
    size_bytes: 10,
    user_id: "attacker",
  }),
  json("a JSON upload of SVG", 415, "POST", "/images/upload", {
    title: "t",
    content_type: "image/svg+xml",
    size_bytes: 10,
  }),
  json("a JSON upload over 50 MiB", 413, "POST", "/images/upload", {
    title: "t",
    content_type: "image/jpeg",
    size_bytes: 52_428_801,
  }),
  json("a JSON upload of negative size", 400, "POST", "/images/upload", {
    title: "t",
    content_type: "image/jpeg",
    size_bytes: -1,
  }),
  json("a JSON upload with tags as a string", 400, "POST", "/images/upload", {
    title: "t",
    tags: "a",
    content_type: "image/jpeg",
    size_bytes: 10,
  }),
  json("malformed JSON", 400, "POST", "/images/upload", '{"title":'),
  upload("an Idempotency-Key of 300 characters", 400, async () => withFile(jpeg), {
    ...MP,
    "idempotency-key": "k".repeat(300),
  }),
  // Edits: unknown fields, wrong types, bad JSON, oversized.
  json("a PATCH with an unknown field", 400, "PATCH", "/images/{ready}", { title: "x", user_id: "attacker" }),
  json("a PATCH with nothing to change", 400, "PATCH", "/images/{ready}", {}),
  json("a PATCH with a numeric title", 400, "PATCH", "/images/{ready}", { title: 1 }),
  json("a PATCH with tags as an object", 400, "PATCH", "/images/{ready}", { tags: { a: 1 } }),
  json("a PATCH with malformed JSON", 400, "PATCH", "/images/{ready}", "{"),
  json("a PATCH with a JSON array", 400, "PATCH", "/images/{ready}", [1, 2]),
  json("a PATCH over 64 KiB", 413, "PATCH", "/images/{ready}", { description: "d".repeat(70_000) }),
  // Ids.
  get("a path-like id", 404, "/images/..%2F..%2Fetc%2Fpasswd"),
  get("a lower-case id", 404, "/images/img_01arz3ndektsv4rrffq69g5fav"),
  get("an id with a NUL", 404, "/images/img_%00"),
  get("an id of 5,000 characters", 404, `/images/img_${"A".repeat(5000)}`),
  get("an id that does not exist", 404, "/images/img_01ARZ3NDEKTSV4RRFFQ69G5FAV"),
  // Listings: bad dates, reversed ranges, huge limits, tampered and foreign cursors.
  get("a date that is not a date", 400, "/images?from=yesterday"),
  get("the 30th of February", 400, "/images?from=2026-02-30"),
  get("month 13", 400, "/images?to=2026-13-01"),
  get("a year past 9999", 400, "/images?to=10000-01-01"),
  get("a reversed range", 400, "/images?from=2026-06-01&to=2026-05-01"),
  get("a limit of 1,000", 400, "/images?limit=1000"),
  get("a limit of 0", 400, "/images?limit=0"),
  get("a negative limit", 400, "/images?limit=-5"),
  get("a fractional limit", 400, "/images?limit=1.5"),
  get("a cursor that is garbage", 400, "/images?cursor=abc"),
  get("a cursor of 5,000 characters", 400, `/images?cursor=${"A".repeat(5000)}`),
  get("a tampered cursor", 400, "/images?tag=private&limit=1&cursor={tampered}"),
  get("another filter's cursor", 400, "/images?tag=public&limit=1&cursor={cursor}"),
  get("a user_id with a key separator", 400, "/images?user_id=a%23b"),
  get("a tag with a space", 400, "/images?tag=a%20b"),
  // Every token defect.
  get("no token", 401, "/images", null),
  get("a malformed token", 401, "/images", "not-a-jwt"),
  get("alg: none", 401, "/images", "algNone"),
  get("a token signed with another key", 401, "/images", "wrongKey"),
  get("an expired token", 401, "/images", "expired"),
  get("a token not valid yet", 401, "/images", "future"),
  get("a token from another issuer", 401, "/images", "wrongIssuer"),
  get("a token for another audience", 401, "/images", "wrongAudience"),
  {
    name: "a Basic credential",
    status: 401,
    path: "/images",
    headers: { authorization: "Basic dmljdGltOnB3" },
    as: null,
  },
  // Issue 12: the rest of each defect's class.
  get("a date in year 0000", 400, "/images?from=0000-01-01"),
  get("a date-time in year 10000", 400, "/images?to=%2B010000-01-01T00:00:00Z"),
  get("a date-time without a zone", 400, "/images?from=2026-01-01T10:00:00"),
  get("a leap day that is not one", 400, "/images?from=2025-02-29"),
  upload(
    "a JSON upload in Latin-1",
    415,
    () => Buffer.from('{"title":"t","content_type":"image/jpeg","size_bytes":10}'),
    {
      "content-type": "application/json; charset=iso-8859-1",
    },
  ),
  upload("a JSON upload that is not UTF-8", 400, () => Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]), {
    "content-type": "application/json",
  }),
  upload("a Content-Type that is not a media type", 400, async () => withFile(jpeg), {
    "content-type": "multipart/form-data; boundary",
  }),
  upload("application/jsonx", 415, () => Buffer.from("{}"), { "content-type": "application/jsonx" }),
  upload("a boundary in another case than the body's", 400, async () => withFile(jpeg), {
    "content-type": "multipart/form-data; boundary=xyz",
  }),
  get("a token without exp", 401, "/images", "noExp"),
  get("a token without sub", 401, "/images", "noSub"),
  get("an access token", 401, "/images", "accessToken"),
  get("a token without token_use", 401, "/images", "noTokenUse"),
  upload("a title with a left-to-right embedding", 400, () => withFile(jpeg, { title: "a\u202Ab" })),
  upload("a title with a right-to-left isolate", 400, () => withFile(jpeg, { title: "a\u2067b" })),
  upload("a title with a byte order mark inside", 400, () => withFile(jpeg, { title: "a\uFEFFb" })),
  upload("a title with a noncharacter", 400, () => withFile(jpeg, { title: "a\uFFFEb" })),
  upload("a title hiding tag characters", 400, () => withFile(jpeg, { title: "hi\u{E0041}\u{E0042}" })),
  upload("a title of a Hangul filler", 400, () => withFile(jpeg, { title: "\u3164" })),
  upload("a tag starting with a combining mark", 400, () => withFile(jpeg, { title: "t", tags: "\u0301ab" })),
  json("a PATCH description with a bidi override", 400, "PATCH", "/images/{ready}", { description: "\u202Egpj" }),
  json(
    "a JSON upload tag with a lone surrogate",
    400,
    "POST",
    "/images/upload",
    '{"title":"t","tags":["a\\ud800"],"content_type":"image/jpeg","size_bytes":10}',
  ),
  get("GET on the upload path", 405, "/images/upload"),
  get("GET on the upload path without a token", 405, "/images/upload", null),
  { name: "PUT on an image", status: 405, method: "PUT", path: "/images/{ready}" },
  { name: "POST on the listing", status: 405, method: "POST", path: "/images" },
  { name: "DELETE on the health check", status: 405, method: "DELETE", path: "/health", as: null },
  json("PATCH on a path below an image", 404, "PATCH", "/images/x/y", { title: "x" }),
  { name: "DELETE on a path below an image", status: 404, method: "DELETE", path: "/images/{ready}/thumbnail" },
  get("a path with a trailing slash", 404, "/images/"),
  // Another user's ids.
  json("another user's image, PATCH", 404, "PATCH", "/images/{ready}", { title: "mine now" }, "attacker"),
  { name: "another user's image, DELETE", status: 404, method: "DELETE", path: "/images/{ready}", as: "attacker" },
  get("another user's pending image, GET", 404, "/images/{pending}", "attacker"),
  json("another user's pending image, PATCH", 404, "PATCH", "/images/{pending}", { title: "x" }, "attacker"),
  {
    name: "another user's pending image, DELETE",
    status: 404,
    method: "DELETE",
    path: "/images/{pending}",
    as: "attacker",
  },
];

/** Issue 12's repros that must succeed, each with what its answer must hold. */
interface Answered {
  name: string;
  status: number;
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: () => Promise<RequestInit["body"]> | RequestInit["body"];
  check?: (response: Response, body: unknown) => void | Promise<void>;
}
const victimImages = (body: unknown) => {
  const items = (body as { items: { image_id: string }[] }).items.map((item) => item.image_id);
  expect(items).toContain(mine.ready);
};
const answered: Answered[] = [
  {
    name: "to=9999-12-31",
    status: 200,
    path: "/images?user_id=victim&to=9999-12-31",
    check: (_, b) => victimImages(b),
  },
  {
    name: "from=1970-01-01&to=9999-12-31 over every image",
    status: 200,
    path: "/images?from=1970-01-01&to=9999-12-31",
    check: (_, b) => victimImages(b),
  },
  {
    name: "from=1970-01-01&to=9999-12-31 by tag",
    status: 200,
    path: "/images?tag=private&from=1970-01-01&to=9999-12-31",
    check: (_, b) => victimImages(b),
  },
  {
    name: "a range in the far past",
    status: 200,
    path: "/images?from=0001-01-01&to=1000-12-31",
    check: (_, b) => expect(b).toEqual({ items: [], next_cursor: null }),
  },
  {
    name: "a range in the far future",
    status: 200,
    path: "/images?from=9000-01-01",
    check: (_, b) => expect(b).toEqual({ items: [], next_cursor: null }),
  },
  { name: "a date-time with an offset", status: 200, path: "/images?user_id=victim&to=9999-12-31T23:59:59%2B14:00" },
  {
    name: "a JSON upload as Application/JSON",
    status: 201,
    method: "POST",
    path: "/images/upload",
    headers: { "content-type": "Application/JSON; Charset=UTF-8" },
    body: () => JSON.stringify({ title: "declared", content_type: "Image/JPEG", size_bytes: 5000 }),
    check: (_, b) => expect((b as { image: { content_type: string } }).image.content_type).toBe("image/jpeg"),
  },
  {
    name: "a multipart upload as Multipart/Form-Data with a quoted boundary and a charset",
    status: 201,
    method: "POST",
    path: "/images/upload",
    headers: { "content-type": 'Multipart/Form-Data; Charset=UTF-8; Boundary="XyZ"' },
    body: async () => withFile(await tinyPng(30)),
  },
  {
    name: "a title with ZWJ emoji and a tag with combining marks",
    status: 201,
    method: "POST",
    path: "/images/upload",
    headers: MP,
    body: async () => withFile(await tinyPng(31), { title: "👨\u200D👩\u200D👧 family", tags: "हिन्दी,می\u200Cخواهم" }),
    check: (_, b) => expect(b).toMatchObject({ title: "👨\u200D👩\u200D👧 family", tags: ["हिन्दी", "می\u200Cخواهم"] }),
  },
  {
    name: "OPTIONS on the upload path",
    status: 204,
    method: "OPTIONS",
    path: "/images/upload",
    check: (r) => expect(r.headers.get("allow")).toBe("OPTIONS, POST"),
  },
  { name: "HEAD on an image", status: 200, method: "HEAD", path: "/images/{ready}" },
];

function resolvePath(path: string): string {
  const [body, mac] = cursorForTag.split(".");
  const tampered = `${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, "base64url").toString()), key: { pk: "x" } })).toString("base64url")}.${mac}`;
  return path
    .replace("{ready}", mine.ready)
    .replace("{pending}", mine.pending)
    .replace("{cursor}", encodeURIComponent(cursorForTag))
    .replace("{tampered}", encodeURIComponent(tampered));
}

describe("hostile input", () => {
  it(`has at least 60 cases (${attacks.length})`, () => {
    expect(attacks.length).toBeGreaterThanOrEqual(60);
  });

  it.each(attacks.map((attack) => [attack.name, attack] as const))("%s", async (_, attack) => {
    const before = await api.snapshot();
    const headers: Record<string, string> = { ...attack.headers };
    const as = attack.as === undefined ? "victim" : attack.as;
    if (as !== null) headers.authorization ??= `Bearer ${tokens[as] ?? as}`;
    tried += 1;
    const response = await fetch(`${api.base}${resolvePath(attack.path ?? "/images")}`, {
      method: attack.method ?? "GET",
      headers,
      body: await attack.body?.(),
    });
    const text = await response.text();
    if (response.status !== attack.status) unexpected += 1;
    expect(response.status, text).toBe(attack.status);
    expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    const problem = JSON.parse(text) as { status: number; title: string; detail: string };
    expect(problem.status).toBe(attack.status);
    expect(problem.detail.length).toBeGreaterThan(0);
    if (attack.status === 401) expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(await api.snapshot()).toEqual(before);
  });

  it.each(answered.map((request) => [request.name, request] as const))(
    "answers %s as it should, storing only what it says",
    async (_, request) => {
      const before = await api.snapshot();
      tried += 1;
      const response = await fetch(`${api.base}${resolvePath(request.path)}`, {
        method: request.method ?? "GET",
        headers: { ...request.headers, ...bearer("victim") },
        body: await request.body?.(),
      });
      const text = await response.text();
      if (response.status !== request.status) unexpected += 1;
      expect(response.status, text).toBe(request.status);
      await request.check?.(response, text ? JSON.parse(text) : undefined);
      if (request.status < 300 && (request.method ?? "GET") === "GET") expect(await api.snapshot()).toEqual(before);
    },
  );

  it("keeps the server's own request id when the client sends one", async () => {
    tried += 1;
    const response = await fetch(`${api.base}/images`, {
      headers: { ...bearer("victim"), "x-request-id": "chosen-by-the-client" },
    });
    const own = response.headers.get("x-request-id");
    if (response.status !== 200 || own === "chosen-by-the-client") unexpected += 1;
    expect(own).not.toBe("chosen-by-the-client");
    expect(own).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("refuses a small PNG that declares 20000x20000 pixels without large memory", async () => {
    const bomb = await pngDeclaring(20000, 20000);
    const before = await api.snapshot();
    const rss = process.memoryUsage().rss;
    let peak = rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    tried += 1;
    const response = await fetch(`${api.base}/images/upload`, {
      method: "POST",
      headers: { ...MP, ...bearer("victim") },
      body: await withFile(bomb),
    });
    clearInterval(sampler);
    if (response.status !== 422) unexpected += 1;
    expect(response.status).toBe(422);
    expect(bomb.length).toBeLessThan(200);
    // Decoding 400 megapixels would take over a gigabyte; the header check takes almost nothing.
    expect(peak - rss).toBeLessThan(64 * 1024 * 1024);
    expect(await api.snapshot()).toEqual(before);
  });

  it("leaves the store without a single violation", async () => {
    expect(await api.violations()).toEqual([]);
  });
});
