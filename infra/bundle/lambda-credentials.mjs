// Stands in for @aws-sdk/credential-provider-node in the deployed bundle (see plugins.mjs): in
// Lambda the runtime puts the function role's credentials in the environment, which is the first
// place the SDK's default chain looks, so the rest of the chain (SSO, profiles, web identity,
// container and instance metadata, with the STS and SSO clients they bring) is never reached.
import { fromEnv } from "@aws-sdk/credential-provider-env";

export const defaultProvider = (init = {}) => fromEnv(init);
