import { createSecretKey } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { UserId, type Config } from "@images/core";
import { DEVELOPMENT_TOKEN, developmentKey } from "./development-token.ts";
import { HttpProblem } from "./problem.ts";
import type { AppEnv } from "./app-env.ts";

/** Turns a bearer token into the caller's user id, or throws. */
export type TokenVerifier = (token: string) => Promise<string>;

/** An RFC 9110 quoted-string. */
const quoted = (text: string) => `"${text.replace(/["\\]/g, "\\$&")}"`;

const unauthorized = (description: string, error = "invalid_token") =>
  new HttpProblem(401, description, {
    "www-authenticate": `Bearer realm="images", error=${quoted(error)}, error_description=${quoted(description)}`,
  });

function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "the token has expired";
  if (error instanceof errors.JWTClaimValidationFailed) {
    return error.reason === "missing"
      ? `the token has no ${error.claim} claim`
      : `the token's ${error.claim} claim is not accepted`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return "the token's signature is not valid";
  if (error instanceof errors.JOSEAlgNotAllowed) return "the token's algorithm is not accepted";
  return "the token is not valid";
}

/**
 * The one kind of token the API takes, deployed and locally alike: an ID token (what the
 * gallery and the CLI send, see packages/web/src/auth.ts), for this API's client, that expires
 * and names its user. An access token is refused: its audience is a different claim
 * (`client_id`), and accepting both would make either one enough.
 */
const ACCEPTED_TOKEN_USE = "id";
const REQUIRED_CLAIMS = ["exp", "sub"];

function subjectOf(payload: JWTPayload, audience: string): string {
  if (payload.token_use === undefined) throw unauthorized("the token has no token_use claim; send the ID token");
  if (payload.token_use !== ACCEPTED_TOKEN_USE) {
    throw unauthorized("the token's token_use claim is not accepted; send the ID token");
  }
  if (payload.aud === undefined) throw unauthorized("the token has no aud claim");
  if (![payload.aud].flat().includes(audience)) throw unauthorized("the token's aud claim is not accepted");
  const parsed = UserId.safeParse(payload.sub);
  if (!parsed.success) throw unauthorized("the token's subject is not a valid user id");
  return parsed.data;
}

/** How many verified tokens a process remembers; the oldest is forgotten first. */
const VERIFIED_TOKENS_KEPT = 5_000;

/**
 * Remembers each verified token until it expires, so a client's next requests skip the
 * signature check (a WebCrypto job on the thread pool). Only verified tokens are kept.
 */
function rememberingVerified(verify: (token: string) => Promise<JWTPayload>, audience: string): TokenVerifier {
  const verified = new Map<string, { userId: string; expiresAt: number }>();
  return async (token) => {
    const known = verified.get(token);
    if (known && known.expiresAt > Date.now()) return known.userId;
    if (known) verified.delete(token);
    const payload = await verify(token);
    const userId = subjectOf(payload, audience);
    if (verified.size >= VERIFIED_TOKENS_KEPT) verified.delete(verified.keys().next().value!);
    // Every accepted token has an exp (REQUIRED_CLAIMS).
    verified.set(token, { userId, expiresAt: payload.exp! * 1000 });
    return userId;
  };
}

/**
 * Deployed: ID tokens from the configured issuer (Cognito), checked against its JWKS, its
 * issuer, and their audience (`aud`, the app client).
 * Locally: the same kind of token signed with the development key, which the deployed
 * configuration refuses.
 */
export function createTokenVerifier(auth: Config["auth"], keys?: JWTVerifyGetKey): TokenVerifier {
  if (auth.kind === "development") {
    // Imported once as a key object: jose would otherwise import the raw secret on every call.
    const key = createSecretKey(developmentKey());
    return rememberingVerified(async (token) => {
      const { payload } = await jwtVerify(token, key, {
        algorithms: [DEVELOPMENT_TOKEN.algorithm],
        issuer: DEVELOPMENT_TOKEN.issuer,
        requiredClaims: REQUIRED_CLAIMS,
      }).catch((error: unknown) => Promise.reject(unauthorized(describe(error))));
      return payload;
    }, DEVELOPMENT_TOKEN.audience);
  }
  // Built on the first token, not at start-up: it loads the HTTP client that fetches the keys.
  let jwks = keys;
  return rememberingVerified(async (token) => {
    jwks ??= createRemoteJWKSet(new URL(auth.jwksUrl));
    const { payload } = await jwtVerify(token, jwks, {
      algorithms: ["RS256"],
      issuer: auth.issuer,
      requiredClaims: REQUIRED_CLAIMS,
    }).catch((error: unknown) => Promise.reject(unauthorized(describe(error))));
    return payload;
  }, auth.audience);
}

/** Every /images route: the caller is the token's subject, never a user id from the request. */
export function requireUser(verify: TokenVerifier): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer +([A-Za-z0-9_.~+/=-]+)$/i.exec(header);
    if (!match?.[1]) {
      throw header
        ? unauthorized("the Authorization header must be 'Bearer <token>'", "invalid_request")
        : new HttpProblem(401, "a bearer token is required", { "www-authenticate": 'Bearer realm="images"' });
    }
    c.set("userId", await verify(match[1]));
    await next();
  };
}
