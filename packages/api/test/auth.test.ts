import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tinyPng } from "../../core/test/support/fixtures.ts";
import { createTokenVerifier } from "../src/auth.ts";
import { DEVELOPMENT_TOKEN, developmentKey } from "../src/development-token.ts";
import { problemOf, startTestApi, type TestApi } from "./support/test-api.ts";

let t: TestApi;
let imageId: string;
beforeAll(async () => {
  t = await startTestApi();
  const response = await t.upload("owner", await tinyPng(), { title: "owned" });
  imageId = ((await response.json()) as { image_id: string }).image_id;
});
afterAll(async () => t?.stop());

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
const now = () => Math.floor(Date.now() / 1000);

function devToken(claims: Record<string, unknown> = {}, key: Uint8Array = developmentKey()) {
  const { exp, nbf, ...rest } = claims as { exp?: number; nbf?: number };
  let jwt = new SignJWT({ ...rest })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject((claims.sub as string | undefined) ?? "owner")
    .setIssuer((claims.iss as string | undefined) ?? DEVELOPMENT_TOKEN.issuer)
    .setAudience((claims.aud as string | undefined) ?? DEVELOPMENT_TOKEN.audience)
    .setIssuedAt()
    .setExpirationTime(exp ?? now() + 600);
  if (nbf) jwt = jwt.setNotBefore(nbf);
  return jwt.sign(key);
}

describe("bearer tokens on /images", () => {
  const cases: [string, () => Promise<Record<string, string>>][] = [
    ["no Authorization header", async () => ({})],
    ["a Basic scheme", async () => ({ authorization: "Basic b3duZXI6cHc=" })],
    ["a malformed token", async () => ({ authorization: "Bearer not.a.jwt" })],
    [
      "a bad signature",
      async () => ({
        authorization: `Bearer ${await devToken({}, new TextEncoder().encode("another-key-another-key-another-key"))}`,
      }),
    ],
    ["an expired token", async () => ({ authorization: `Bearer ${await devToken({ exp: now() - 60 })}` })],
    ["a token not valid yet", async () => ({ authorization: `Bearer ${await devToken({ nbf: now() + 3600 })}` })],
    ["a wrong issuer", async () => ({ authorization: `Bearer ${await devToken({ iss: "https://evil.example" })}` })],
    ["a wrong audience", async () => ({ authorization: `Bearer ${await devToken({ aud: "someone-else" })}` })],
    ["a subject that is not a user id", async () => ({ authorization: `Bearer ${await devToken({ sub: "a#b" })}` })],
    [
      "alg: none",
      async () => ({
        authorization: `Bearer ${base64url({ alg: "none", typ: "JWT" })}.${base64url({ sub: "owner", iss: DEVELOPMENT_TOKEN.issuer, aud: DEVELOPMENT_TOKEN.audience, exp: now() + 600 })}.`,
      }),
    ],
  ];

  it.each(cases)("answers 401 with WWW-Authenticate for %s, on every route", async (_, headers) => {
    const h = await headers();
    for (const [method, path] of [
      ["GET", "/images"],
      ["GET", `/images/${imageId}`],
      ["PATCH", `/images/${imageId}`],
      ["DELETE", `/images/${imageId}`],
      ["POST", "/images/upload"],
    ] as const) {
      const before = await t.snapshot();
      const response = await t.call(method, path, {
        user: null,
        headers: h,
        json: method === "PATCH" ? { title: "x" } : undefined,
      });
      await problemOf(response, 401);
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer /);
      expect(await t.snapshot()).toEqual(before);
    }
  });

  it("accepts a valid development token", async () => {
    expect((await t.call("GET", "/images", { token: await devToken() })).status).toBe(200);
  });

  it("lets anyone signed in view a ready image, but only its owner change it", async () => {
    expect((await t.call("GET", `/images/${imageId}`, { user: "stranger" })).status).toBe(200);
    await problemOf(await t.call("PATCH", `/images/${imageId}`, { user: "stranger", json: { title: "x" } }), 404);
    await problemOf(await t.call("DELETE", `/images/${imageId}`, { user: "stranger" }), 404);
    expect((await t.call("GET", `/images/${imageId}`, { user: "stranger" })).status).toBe(200);
  });

  it("leaves /health, /openapi.json and /docs public", async () => {
    for (const path of ["/health", "/openapi.json", "/docs"])
      expect((await t.call("GET", path, { user: null })).status).toBe(200);
  });
});

describe("deployed tokens, checked against the issuer's JWKS", () => {
  const issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example";
  const audience = "client-123";
  let keys: Awaited<ReturnType<typeof generateKeyPair>>;
  let verify: ReturnType<typeof createTokenVerifier>;

  beforeAll(async () => {
    keys = await generateKeyPair("RS256");
    const jwk: JWK = { ...(await exportJWK(keys.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
    verify = createTokenVerifier(
      { kind: "jwks", jwksUrl: `${issuer}/.well-known/jwks.json`, issuer, audience },
      createLocalJWKSet({ keys: [jwk] }),
    );
  });

  const sign = (claims: Record<string, unknown>, options: { iss?: string } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .setSubject("0f6e3c1a-7d2b-4c1e-9a55-1f2e3d4c5b6a")
      .setIssuer(options.iss ?? issuer)
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(keys.privateKey);

  it("accepts an ID token (aud) and an access token (client_id) from the issuer", async () => {
    expect(await verify(await sign({ aud: audience, token_use: "id" }))).toBe("0f6e3c1a-7d2b-4c1e-9a55-1f2e3d4c5b6a");
    expect(await verify(await sign({ client_id: audience, token_use: "access" }))).toBe(
      "0f6e3c1a-7d2b-4c1e-9a55-1f2e3d4c5b6a",
    );
  });

  it("refuses another audience, another issuer, and a development token", async () => {
    const status = (p: Promise<unknown>) =>
      p.then(
        () => 200,
        (e: { status?: number }) => e.status,
      );
    expect(await status(verify(await sign({ aud: "other-client" })))).toBe(401);
    expect(await status(verify(await sign({ aud: audience }, { iss: "https://evil.example" })))).toBe(401);
    expect(await status(verify(await devToken()))).toBe(401);
  });
});

describe("verified tokens are remembered until they expire", () => {
  it("answers a remembered token without checking it again, and forgets it at exp", async () => {
    const verify = createTokenVerifier({ kind: "development" });
    const token = await devToken({ exp: now() + 2 });
    expect(await verify(token)).toBe("owner");
    expect(await verify(token)).toBe("owner");
    await new Promise((resolve) => setTimeout(resolve, 2100));
    await expect(verify(token)).rejects.toMatchObject({ status: 401 });
  });

  it("never remembers a token that failed", async () => {
    const verify = createTokenVerifier({ kind: "development" });
    const forged = await devToken({}, new TextEncoder().encode("another-key-another-key-another-key"));
    await expect(verify(forged)).rejects.toMatchObject({ status: 401 });
    await expect(verify(forged)).rejects.toMatchObject({ status: 401 });
  });
});
