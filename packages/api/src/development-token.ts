import { SignJWT } from "jose";

/**
 * Local development only. The key is public (it is in this file), so the configuration module
 * refuses development tokens whenever the code runs in Lambda.
 */
export const DEVELOPMENT_TOKEN = {
  algorithm: "HS256",
  issuer: "urn:images:development",
  audience: "urn:images:local",
  secret: "images-development-signing-key-never-deployed-0001",
} as const;

export const developmentKey = () => new TextEncoder().encode(DEVELOPMENT_TOKEN.secret);

/**
 * A token for `userId` that the local service accepts, valid for `hours`: shaped like the
 * Cognito ID tokens the deployed API takes (`token_use` "id", `aud`, `exp`, `sub`).
 */
export async function signDevelopmentToken(userId: string, hours = 12): Promise<string> {
  return new SignJWT({ token_use: "id" })
    .setProtectedHeader({ alg: DEVELOPMENT_TOKEN.algorithm, typ: "JWT" })
    .setSubject(userId)
    .setIssuer(DEVELOPMENT_TOKEN.issuer)
    .setAudience(DEVELOPMENT_TOKEN.audience)
    .setIssuedAt()
    .setExpirationTime(`${hours}h`)
    .sign(developmentKey());
}
