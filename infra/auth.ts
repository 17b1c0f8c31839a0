import { galleryUrl } from "./web";

/**
 * The hosted login's domain prefix: <prefix>.auth.<region>.amazoncognito.com. Prefixes are
 * unique within a region across all accounts, so AUTH_DOMAIN_PREFIX can replace the default.
 */
const authDomainPrefix =
  process.env.AUTH_DOMAIN_PREFIX?.trim() ||
  `${$app.name}-${$app.stage}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .slice(0, 63);

/**
 * Users sign in with their e-mail address; the API accepts the tokens this pool issues. Only an
 * operator creates users (README: "Get a token from Cognito"): with self sign-up, anyone could
 * make as many accounts as they like and multiply every per-user limit.
 */
export const userPool = new sst.aws.CognitoUserPool("Users", {
  usernames: ["email"],
  domain: { prefix: authDomainPrefix },
  transform: {
    userPool: (args) => {
      args.adminCreateUserConfig = { allowAdminCreateUserOnly: true };
      // The production pool holds every user: it refuses deletion by anyone, not only by `sst remove`.
      args.deletionProtection = $app.stage === "production" ? "ACTIVE" : "INACTIVE";
    },
  },
});

/** The gallery's page: where the hosted login returns (with a code) and where sign-out lands. */
const galleryPage = $interpolate`${galleryUrl}/`;

/**
 * A public client (no secret) for apps and scripts, with username and password sign-in, and
 * for the web gallery, the hosted login with the authorization code flow (PKCE).
 */
export const userPoolClient = userPool.addClient("UsersClient", {
  callbackUrls: [galleryPage],
  transform: {
    client: (args) => {
      args.explicitAuthFlows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"];
      args.allowedOauthFlows = ["code"];
      args.logoutUrls = [galleryPage];
    },
  },
});

export const region = aws.getRegionOutput().region;

/** The hosted login, for the gallery's sign-in. */
export const authUrl = $interpolate`https://${authDomainPrefix}.auth.${region}.amazoncognito.com`;

/** What packages/core/src/config.ts needs to check Cognito's tokens. */
const issuer = $interpolate`https://cognito-idp.${region}.amazonaws.com/${userPool.id}`;
export const tokenSettings = {
  AUTH_ISSUER: issuer,
  AUTH_JWKS_URL: $interpolate`${issuer}/.well-known/jwks.json`,
  AUTH_AUDIENCE: userPoolClient.id,
};
