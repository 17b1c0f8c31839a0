import { createSecretKey } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { UserId, type Config } from "@images/core";
import { DEVELOPMENT_TOKEN, developmentKey } from "./development-token.ts";
import { HttpProblem } from "./problem.ts";
import type { AppEnv } from "./app-env.ts";

/** Turns a bearer token into the caller's user id, or throws. */
export type TokenVerifier = (token: string) => Promise<string>;

const unauthorized = (description: string, error = "invalid_token") =>
  new HttpProblem(401, description, {
    "www-authenticate": `Bearer realm="images", error="${error}", error_description="${description}"`,
  });

function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "the token has expired";
  if (error instanceof errors.JWTClaimValidationFailed) return `the token's ${error.claim} claim is not accepted`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return "the token's signature is not valid";
  if (error instanceof errors.JOSEAlgNotAllowed) return "the token's algorithm is not accepted";
  return "the token is not valid";
}

function subjectOf(payload: JWTPayload): string {
  const parsed = UserId.safeParse(payload.sub);
  if (!parsed.success) throw unauthorized("the token's subject is not a valid user id");
  return parsed.data;
}

/**
 * Deployed: tokens from the configured issuer (Cognito), checked against its JWKS, its issuer,
 * and its audience (`aud` of an ID token, `client_id` of an access token).
 * Locally: tokens signed with the development key, which the deployed configuration refuses.
 */
export function createTokenVerifier(auth: Config["auth"], keys?: JWTVerifyGetKey): TokenVerifier {
  if (auth.kind === "development") {
    // Imported once as a key object: jose would otherwise import the raw secret on every call.
    const key = createSecretKey(developmentKey());
    return async (token) => {
      const { payload } = await jwtVerify(token, key, {
        algorithms: [DEVELOPMENT_TOKEN.algorithm],
        issuer: DEVELOPMENT_TOKEN.issuer,
        audience: DEVELOPMENT_TOKEN.audience,
      }).catch((error: unknown) => Promise.reject(unauthorized(describe(error))));
      return subjectOf(payload);
    };
  }
  const jwks = keys ?? createRemoteJWKSet(new URL(auth.jwksUrl));
  return async (token) => {
    const { payload } = await jwtVerify(token, jwks, { algorithms: ["RS256"], issuer: auth.issuer }).catch(
      (error: unknown) => Promise.reject(unauthorized(describe(error))),
    );
    const audiences = [payload.aud, payload.client_id].flat().filter((value) => typeof value === "string");
    if (!audiences.includes(auth.audience)) throw unauthorized("the token's aud claim is not accepted");
    return subjectOf(payload);
  };
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
