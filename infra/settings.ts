/**
 * Under `sst dev` the gallery is not deployed: SST runs its Vite dev server on this machine
 * (infra/web.ts), which the browser opens at this origin. Cognito takes plain HTTP for
 * `localhost` alone, so it is `localhost`, not 127.0.0.1.
 */
export const DEV_GALLERY_ORIGIN = "http://localhost:5173";

/**
 * What a deployment may vary by stage, read from the shell that runs `sst deploy`.
 * CORS_ALLOWED_ORIGINS: browser origins (comma-separated) that may call the API and post
 * files straight to the bucket; empty means no cross-origin calls at all. Under `sst dev` the
 * local gallery's origin is added, so that it can call the stage's API and bucket.
 */
const configuredOrigins = (process.env.CORS_ALLOWED_ORIGINS ?? "")
  .split(",")
  .map((origin) => origin.trim())
  .filter((origin) => origin !== "");
export const corsAllowedOrigins =
  $dev && !configuredOrigins.includes(DEV_GALLERY_ORIGIN)
    ? [...configuredOrigins, DEV_GALLERY_ORIGIN]
    : configuredOrigins;

/** Deployed functions run on this runtime and architecture (SST's default runtime is newer). */
export const runtime = "nodejs22.x";
export const architecture = "arm64";

/**
 * A whole number from the deploy's environment, `fallback` when unset; "none" when `none` is
 * allowed and asked for. Anything else stops the deploy, naming the variable.
 */
function deploySetting(name: string, fallback: number, min: number, max: number): number;
function deploySetting(name: string, fallback: number, min: number, max: number, none: "none"): number | undefined;
function deploySetting(name: string, fallback: number, min: number, max: number, none?: "none") {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  if (none && raw === none) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name}=${raw}: expected a whole number from ${min} to ${max}${none ? ' or "none"' : ""}`);
  }
  return value;
}

/**
 * How many instances each function may run at once (Lambda's reserved concurrency), which also
 * bounds what a burst costs and how hard it hits the table. "none" reserves nothing: needed in an
 * account whose concurrency quota is too small to reserve from (new accounts can have 10).
 * The finishing function's events wait in Lambda's own queue while it is at its limit (up to an
 * hour, infra/api.ts), then go to the failure queue.
 */
export const apiReservedConcurrency = deploySetting("API_RESERVED_CONCURRENCY", 100, 1, 10_000, "none");
export const finishUploadReservedConcurrency = deploySetting(
  "FINISH_UPLOAD_RESERVED_CONCURRENCY",
  20,
  1,
  10_000,
  "none",
);

/** API Gateway's limits for the whole API (its default stage): requests a second, and the burst above it. */
export const apiThrottle = {
  rateLimit: deploySetting("API_THROTTLE_RATE_LIMIT", 200, 1, 10_000),
  burstLimit: deploySetting("API_THROTTLE_BURST_LIMIT", 400, 1, 5_000),
};

/**
 * WEBHOOK_ENDPOINTS: the HTTPS URLs (comma-separated) every image event is posted to, by
 * EventBridge API destinations (infra/events.ts); empty: events go to the bus alone. Anything
 * but an https URL stops the deploy, naming it.
 */
export const webhookEndpoints = (process.env.WEBHOOK_ENDPOINTS ?? "")
  .split(",")
  .map((url) => url.trim())
  .filter((url) => url !== "")
  .map((url) => {
    if (!/^https:\/\/[^\s/?#]+[^\s]*$/.test(url)) throw new Error(`WEBHOOK_ENDPOINTS: ${url} is not an https URL`);
    return url;
  });
