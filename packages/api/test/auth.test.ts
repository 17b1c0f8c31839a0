import { createLocalJWKSet, decodeJwt, exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tinyPng } from "../../core/test/support/fixtures.ts";
import { createTokenVerifier } from "../src/auth.ts";
import { DEVELOPMENT_TOKEN, developmentKey, signDevelopmentToken } from "../src/development-token.ts";
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

/** A development token; a claim given as null is left out. */
function devToken(claims: Record<string, unknown> = {}, key: Uint8Array = developmentKey()) {
  const { exp, nbf, sub, iss, aud, ...rest } = { token_use: "id", ...claims } as Record<string, unknown>;
  const payload = Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== null));
  let jwt = new SignJWT(payload).setProtectedHeader({ alg: "HS256" }).setIssuedAt();
  if (sub !== null) jwt = jwt.setSubject((sub as string | undefined) ?? "owner");
  if (iss !== null) jwt = jwt.setIssuer((iss as string | undefined) ?? DEVELOPMENT_TOKEN.issuer);
  if (aud !== null) jwt = jwt.setAudience((aud as string | undefined) ?? DEVELOPMENT_TOKEN.audience);
  if (exp !== null) jwt = jwt.setExpirationTime((exp as number | undefined) ?? now() + 600);
  if (nbf) jwt = jwt.setNotBefore(nbf as number);
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
    ["no sub", async () => ({ authorization: `Bearer ${await devToken({ sub: null })}` })],
    ["no exp", async () => ({ authorization: `Bearer ${await devToken({ exp: null })}` })],
    ["no token_use", async () => ({ authorization: `Bearer ${await devToken({ token_use: null })}` })],
    ["an access token", async () => ({ authorization: `Bearer ${await devToken({ token_use: "access" })}` })],
    [
      "a token_use of another kind",
      async () => ({ authorization: `Bearer ${await devToken({ token_use: "refresh" })}` }),
    ],
    ["no aud", async () => ({ authorization: `Bearer ${await devToken({ aud: null })}` })],
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
      const problem = await problemOf(response, 401);
      const challenge = response.headers.get("www-authenticate") ?? "";
      expect(challenge).toMatch(/^Bearer realm="images"/);
      // Quoted strings stay quoted strings: the description says what was wrong, as the body does.
      expect(challenge).toMatch(/^Bearer realm="images"(, error="[a-z_]+", error_description="([^"\\]|\\.)*")?$/);
      if (challenge.includes("error_description"))
        expect(challenge).toContain(problem.detail.replace(/["\\]/g, "\\$&"));
      expect(await t.snapshot()).toEqual(before);
    }
  });

  it("accepts a valid development token, and the one npm run token and POST /dev/token hand out", async () => {
    expect((await t.call("GET", "/images", { token: await devToken() })).status).toBe(200);
    const issued = await signDevelopmentToken("owner");
    expect((await t.call("GET", "/images", { token: issued })).status).toBe(200);
    const claims = decodeJwt(issued);
    expect(claims).toMatchObject({ sub: "owner", token_use: "id", aud: DEVELOPMENT_TOKEN.audience });
    expect(claims.exp).toBeGreaterThan(now());
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

  const sign = (claims: Record<string, unknown>, options: { iss?: string; exp?: boolean; sub?: boolean } = {}) => {
    let jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .setIssuer(options.iss ?? issuer)
      .setIssuedAt();
    if (options.sub !== false) jwt = jwt.setSubject("0f6e3c1a-7d2b-4c1e-9a55-1f2e3d4c5b6a");
    if (options.exp !== false) jwt = jwt.setExpirationTime("5m");
    return jwt.sign(keys.privateKey);
  };
  const status = (p: Promise<unknown>) =>
    p.then(
      () => 200,
      (e: { status?: number; detail?: string }) => `${e.status} ${e.detail}`,
    );

  it("accepts an ID token of the app client: what the gallery and the CLI send", async () => {
    expect(await verify(await sign({ aud: audience, token_use: "id" }))).toBe("0f6e3c1a-7d2b-4c1e-9a55-1f2e3d4c5b6a");
  });

  it.each([
    ["an access token of the app client", { client_id: audience, token_use: "access" }, {}, "token_use"],
    [
      "an access token that also names the client in aud",
      { aud: audience, client_id: audience, token_use: "access" },
      {},
      "token_use",
    ],
    ["an ID token without token_use", { aud: audience }, {}, "token_use"],
    ["an ID token of another client", { aud: "other-client", token_use: "id" }, {}, "aud"],
    ["an ID token without aud that names the client in client_id", { client_id: audience, token_use: "id" }, {}, "aud"],
    ["an ID token without exp", { aud: audience, token_use: "id" }, { exp: false }, "exp"],
    ["an ID token without sub", { aud: audience, token_use: "id" }, { sub: false }, "sub"],
    ["an ID token from another issuer", { aud: audience, token_use: "id" }, { iss: "https://evil.example" }, "iss"],
  ])("refuses %s", async (_, claims, options, claim) => {
    const answer = await status(verify(await sign(claims, options)));
    expect(answer).toMatch(/^401 /);
    expect(answer).toContain(claim);
  });

  it("refuses a development token", async () => {
    expect(await status(verify(await devToken()))).toMatch(/^401 /);
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
