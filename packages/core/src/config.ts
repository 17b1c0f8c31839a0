import { Resource } from "sst/resource";
import { z } from "zod";

/**
 * The one place that reads the environment. Everything else receives a Config.
 * It fails fast, naming each variable that is missing or wrong.
 */
const MiB = 1024 * 1024;
const DEV_CURSOR_SECRET = "development-only-cursor-secret-not-for-deployment";

const integer = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const environment = z.object({
  TABLE_NAME: z.string().min(1),
  BUCKET_NAME: z.string().min(1),
  AWS_REGION: z.string().min(1).default("us-east-1"),
  /** Set for emulators (embedded, LocalStack); unset in AWS. */
  DYNAMODB_ENDPOINT: z.url().optional(),
  S3_ENDPOINT: z.url().optional(),
  /** Read only with an emulator endpoint; in AWS the SDK's own provider chain finds credentials. */
  AWS_ACCESS_KEY_ID: z.string().optional(),
  AWS_SECRET_ACCESS_KEY: z.string().optional(),
  /** "local": every AWS call must go to a loopback or named local host (tests, dev server). */
  AWS_ENDPOINT_GUARD: z.enum(["local", "off"]).optional(),
  /** Signs list cursors so they cannot be forged or moved to another filter. */
  CURSOR_SECRET: z.string().min(32).optional(),
  /** Deployed: tokens are checked against this issuer's keys. Unset: local development tokens. */
  AUTH_JWKS_URL: z.url().optional(),
  AUTH_ISSUER: z.string().min(1).optional(),
  AUTH_AUDIENCE: z.string().min(1).optional(),
  MAX_IMAGE_PIXELS: integer(50_000_000, 1, 1_000_000_000),
  MAX_DIRECT_UPLOAD_BYTES: integer(4 * MiB, 1, 6 * MiB),
  DOWNLOAD_URL_TTL_SECONDS: integer(600, 1, 900),
  /** Files sent straight to S3 with a presigned POST: 50 MiB by default, 5 GiB at most. */
  MAX_LARGE_UPLOAD_BYTES: integer(50 * MiB, 1, 5 * 1024 * MiB),
  UPLOAD_URL_TTL_SECONDS: integer(600, 60, 900),
  /** Browser origins allowed to call the API, comma-separated; empty: no cross-origin calls. */
  CORS_ALLOWED_ORIGINS: z.string().default(""),
  /** Uploads one user may start per minute. */
  UPLOAD_RATE_LIMIT_PER_MINUTE: integer(60, 1, 100_000),
  /**
   * Where renditions are served and how their URLs are signed (CloudFront deployed, the dev
   * server's /media locally): the base URL, the key group's public key id, its private key (PEM).
   */
  MEDIA_BASE_URL: z.url().optional(),
  MEDIA_KEY_PAIR_ID: z
    .string()
    .regex(/^[A-Za-z0-9]+$/)
    .optional(),
  MEDIA_PRIVATE_KEY: z.string().min(1).optional(),
  /** Rendition URLs stay the same, byte for byte, within a window of this many seconds. */
  MEDIA_URL_WINDOW_SECONDS: integer(3600, 60, 86_400),
  /** Images one process decodes at once (a Lambda instance serves one request at a time anyway). */
  DECODE_CONCURRENCY: integer(2, 1, 64),
  /**
   * Write shards inside each partition of the all-images listing (a month) and of each tag: one
   * partition takes at most 1,000 write units a second, and an upload costs its month about 1.05
   * (an entry of keys and merge attributes, one unit; deletes; edits write nothing there: bench
   * section 7), so 5 shards take some 4,700 uploads a second in all and 5,000 into one tag, the
   * fewest that take 4,000; each shard adds a Query and look-ahead entries to a page of all images
   * or of a tag. Recorded per month in the table (the catalog item), so a later change loses no item.
   */
  LISTING_SHARDS: integer(5, 1, 64),
  /** Days a trashed image stays restorable before its bytes and items are purged. */
  TRASH_DAYS: integer(30, 1, 3650),
  /**
   * Local development: where the dev server posts each event, signed as Standard Webhooks says
   * with WEBHOOK_SECRET ("whsec_" and base64). Deployed, webhooks are EventBridge API destinations.
   */
  WEBHOOK_URL: z.url().optional(),
  /** Deployed: the EventBridge bus the table's stream consumer puts each event on. */
  EVENT_BUS_NAME: z.string().min(1).optional(),
  WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/=]+$/)
    .optional(),
  /** Set by the Lambda runtime. */
  AWS_LAMBDA_FUNCTION_NAME: z.string().optional(),
  VITEST: z.string().optional(),
});

/** How bearer tokens are checked. */
export type AuthConfig =
  | { kind: "jwks"; jwksUrl: string; issuer: string; audience: string }
  /** Signed with the development key in the repository: never accepted in Lambda. */
  | { kind: "development" };

export interface Config {
  tableName: string;
  bucketName: string;
  region: string;
  dynamoEndpoint?: string;
  s3Endpoint?: string;
  /** Static credentials for emulators; undefined in AWS. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** AWS calls may only reach loopback or local emulator hosts. */
  localEndpointsOnly: boolean;
  cursorSecret: string;
  auth: AuthConfig;
  maxImagePixels: number;
  maxDirectUploadBytes: number;
  downloadUrlTtlSeconds: number;
  maxLargeUploadBytes: number;
  uploadUrlTtlSeconds: number;
  corsAllowedOrigins: string[];
  uploadRateLimitPerMinute: number;
  decodeConcurrency: number;
  listingShards: number;
  trashDays: number;
  /** Local development only: the dev server posts events here. */
  webhook?: WebhookConfig;
  /** Signs webhook deliveries ("whsec_…"); deployed it arrives by link, as an SST secret. */
  webhookSecret?: string;
  /** Deployed: the EventBridge bus for the table's events. */
  eventBusName?: string;
  /** Signed CDN URLs for renditions; without it (core's own tests), presigned S3 links. */
  media?: MediaConfig;
}

export interface MediaConfig {
  baseUrl: string;
  keyPairId: string;
  privateKeyPem: string;
  windowSeconds: number;
}

export interface WebhookConfig {
  url: string;
  /** "whsec_" and the base64 of the signing key, as Standard Webhooks writes it. */
  secret: string;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Deployed by SST (infra/api.ts), TABLE_NAME and BUCKET_NAME are environment variables (a linked
 * table or bucket would grant every action on it), and the cursor secret arrives by `link`: SST's
 * `Resource` reads it from the function's encrypted resource file, to fill CURSOR_SECRET where the
 * environment does not set it. Elsewhere (no SST_RESOURCE_App, which SST sets in every function)
 * the environment is used as is.
 */
function withSstLinks(env: Record<string, string | undefined>): Record<string, string | undefined> {
  if (env.SST_RESOURCE_App === undefined) return env;
  const linked = Resource as unknown as Record<string, { value?: string } | undefined>;
  return {
    ...env,
    CURSOR_SECRET: env.CURSOR_SECRET ?? ("CursorSecret" in linked ? linked.CursorSecret?.value : undefined),
    MEDIA_PRIVATE_KEY:
      env.MEDIA_PRIVATE_KEY ?? ("MediaPrivateKey" in linked ? linked.MediaPrivateKey?.value : undefined),
    WEBHOOK_SECRET: env.WEBHOOK_SECRET ?? ("WebhookSecret" in linked ? linked.WebhookSecret?.value : undefined),
  };
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = environment.safeParse(withSstLinks(env));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join("; ")}`);
  }
  const e = parsed.data;
  const inLambda = e.AWS_LAMBDA_FUNCTION_NAME !== undefined;
  if (inLambda && !e.CURSOR_SECRET) {
    throw new ConfigError("invalid configuration: CURSOR_SECRET is required when running in Lambda");
  }
  let auth: AuthConfig = { kind: "development" };
  if (e.AUTH_JWKS_URL || e.AUTH_ISSUER || e.AUTH_AUDIENCE) {
    if (!e.AUTH_JWKS_URL || !e.AUTH_ISSUER || !e.AUTH_AUDIENCE) {
      throw new ConfigError("invalid configuration: AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE go together");
    }
    auth = { kind: "jwks", jwksUrl: e.AUTH_JWKS_URL, issuer: e.AUTH_ISSUER, audience: e.AUTH_AUDIENCE };
  } else if (inLambda) {
    throw new ConfigError(
      "invalid configuration: AUTH_JWKS_URL is required in Lambda (development tokens are refused there)",
    );
  }
  let media: MediaConfig | undefined;
  if (e.MEDIA_BASE_URL || e.MEDIA_KEY_PAIR_ID || e.MEDIA_PRIVATE_KEY) {
    if (!e.MEDIA_BASE_URL || !e.MEDIA_KEY_PAIR_ID || !e.MEDIA_PRIVATE_KEY) {
      throw new ConfigError(
        "invalid configuration: MEDIA_BASE_URL, MEDIA_KEY_PAIR_ID and MEDIA_PRIVATE_KEY go together",
      );
    }
    media = {
      baseUrl: e.MEDIA_BASE_URL,
      keyPairId: e.MEDIA_KEY_PAIR_ID,
      privateKeyPem: e.MEDIA_PRIVATE_KEY,
      windowSeconds: e.MEDIA_URL_WINDOW_SECONDS,
    };
  }
  if (e.WEBHOOK_URL !== undefined && e.WEBHOOK_SECRET === undefined) {
    throw new ConfigError("invalid configuration: WEBHOOK_URL needs WEBHOOK_SECRET to sign what it sends");
  }
  const webhook = e.WEBHOOK_URL && e.WEBHOOK_SECRET ? { url: e.WEBHOOK_URL, secret: e.WEBHOOK_SECRET } : undefined;
  const localEndpointsOnly =
    e.AWS_ENDPOINT_GUARD === "local" || (e.VITEST !== undefined && e.AWS_ENDPOINT_GUARD !== "off");
  if (localEndpointsOnly && (!e.DYNAMODB_ENDPOINT || !e.S3_ENDPOINT)) {
    throw new ConfigError(
      "invalid configuration: DYNAMODB_ENDPOINT and S3_ENDPOINT must point at local emulators here",
    );
  }
  return {
    tableName: e.TABLE_NAME,
    bucketName: e.BUCKET_NAME,
    region: e.AWS_REGION,
    dynamoEndpoint: e.DYNAMODB_ENDPOINT,
    s3Endpoint: e.S3_ENDPOINT,
    credentials:
      (e.DYNAMODB_ENDPOINT || e.S3_ENDPOINT) && e.AWS_ACCESS_KEY_ID && e.AWS_SECRET_ACCESS_KEY
        ? { accessKeyId: e.AWS_ACCESS_KEY_ID, secretAccessKey: e.AWS_SECRET_ACCESS_KEY }
        : undefined,
    localEndpointsOnly,
    cursorSecret: e.CURSOR_SECRET ?? DEV_CURSOR_SECRET,
    auth,
    maxImagePixels: e.MAX_IMAGE_PIXELS,
    maxDirectUploadBytes: e.MAX_DIRECT_UPLOAD_BYTES,
    downloadUrlTtlSeconds: e.DOWNLOAD_URL_TTL_SECONDS,
    maxLargeUploadBytes: e.MAX_LARGE_UPLOAD_BYTES,
    uploadUrlTtlSeconds: e.UPLOAD_URL_TTL_SECONDS,
    corsAllowedOrigins: e.CORS_ALLOWED_ORIGINS.split(",")
      .map((origin) => origin.trim())
      .filter((origin) => origin !== ""),
    uploadRateLimitPerMinute: e.UPLOAD_RATE_LIMIT_PER_MINUTE,
    decodeConcurrency: e.DECODE_CONCURRENCY,
    listingShards: e.LISTING_SHARDS,
    trashDays: e.TRASH_DAYS,
    webhook,
    webhookSecret: e.WEBHOOK_SECRET,
    eventBusName: e.EVENT_BUS_NAME,
    media,
  };
}
