/** Users sign in with their e-mail address; the API accepts the tokens this pool issues. */
export const userPool = new sst.aws.CognitoUserPool("Users", {
  usernames: ["email"],
});

/** A public client (no secret) for apps and scripts, with username and password sign-in. */
export const userPoolClient = userPool.addClient("UsersClient", {
  transform: {
    client: (args) => {
      args.explicitAuthFlows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"];
    },
  },
});

export const region = aws.getRegionOutput().region;

/** What packages/core/src/config.ts needs to check Cognito's tokens. */
const issuer = $interpolate`https://cognito-idp.${region}.amazonaws.com/${userPool.id}`;
export const tokenSettings = {
  AUTH_ISSUER: issuer,
  AUTH_JWKS_URL: $interpolate`${issuer}/.well-known/jwks.json`,
  AUTH_AUDIENCE: userPoolClient.id,
};
