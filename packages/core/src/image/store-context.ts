import type { AwsClients } from "../aws/clients.ts";
import type { Config } from "../config.ts";
import { createDb, type Db } from "../db/service.ts";
import { createIdempotency } from "../idempotency/idempotency.ts";
import { createUploadRateLimit } from "../limits/upload-rate-limit.ts";
import { createObjectStore, type ObjectStore } from "../storage/object-store.ts";
import { createDecodeSlots } from "./decode-slots.ts";
import { createDelivery } from "./delivery.ts";
import { createMonthCatalog, type MonthCatalog } from "./month-catalog.ts";

/** Where failures that leave something behind are reported (the store keeps going). */
export type Log = (event: string, fields: Record<string, unknown>) => void;

export interface ImageStoreDeps {
  config: Config;
  clients: AwsClients;
  now?: () => Date;
  log?: Log;
  /** Where finishing a large upload keeps its files while it works; the OS temp folder by default. */
  tempDir?: string;
}

/** What every use case of the image store works with: built once per store, shared by all of them. */
export interface StoreContext {
  config: Config;
  clients: AwsClients;
  db: Db;
  objects: ObjectStore;
  now: () => Date;
  log: Log;
  months: MonthCatalog;
  /** The placeholder and rendition links of a stored image (delivery.ts). */
  deliveryOf: ReturnType<typeof createDelivery>;
  /** Runs a request at most once per (user, Idempotency-Key) (idempotency.ts). */
  once: ReturnType<typeof createIdempotency>;
  /** Counts an upload against its user's rate limit, or refuses it. */
  takeUploadSlot: (userId: string) => Promise<void>;
  /** Runs a decode when this process has room for one (decode-slots.ts). */
  withDecodeSlot: <T>(work: () => Promise<T>) => Promise<T>;
  tempDir?: string;
}

const defaultLog: Log = (event, fields) => console.error(JSON.stringify({ level: "error", event, ...fields }));

export function createStoreContext({
  config,
  clients,
  now = () => new Date(),
  log = defaultLog,
  tempDir,
}: ImageStoreDeps): StoreContext {
  const db = createDb(clients.dynamo, config.tableName);
  const objects = createObjectStore(clients.s3, config.bucketName);
  return {
    config,
    clients,
    db,
    objects,
    now,
    log,
    tempDir,
    months: createMonthCatalog(db),
    deliveryOf: createDelivery(config, objects),
    once: createIdempotency(db, now),
    takeUploadSlot: createUploadRateLimit(db, config.uploadRateLimitPerMinute, now),
    withDecodeSlot: createDecodeSlots(config.decodeConcurrency),
  };
}

/** Epoch seconds, as TTL attributes keep time. */
export const epochSeconds = (ctx: StoreContext) => Math.floor(ctx.now().getTime() / 1000);
