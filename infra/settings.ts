/**
 * What a deployment may vary by stage, read from the shell that runs `sst deploy`.
 * CORS_ALLOWED_ORIGINS: browser origins (comma-separated) that may call the API and post
 * files straight to the bucket; empty means no cross-origin calls at all.
 */
export const corsAllowedOrigins = (process.env.CORS_ALLOWED_ORIGINS ?? "")
  .split(",")
  .map((origin) => origin.trim())
  .filter((origin) => origin !== "");

/** Deployed functions run on this runtime and architecture (SST's default runtime is newer). */
export const runtime = "nodejs22.x";
export const architecture = "arm64";
