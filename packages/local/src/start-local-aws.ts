/**
 * Starts DynamoDB (dynalite behind the transactions proxy) and S3 (s3rver) emulators inside the
 * calling process on free loopback ports, and creates the table and the bucket.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import dynalite from "dynalite";
import { once } from "node:events";
import { constants } from "node:fs";
import { access, mkdir, mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import S3rver from "s3rver";
import { ensureBucket, ensureTable } from "./bootstrap.ts";
import { createChangeFeed, type ChangeFeed } from "./change-feed.ts";
import { startDynamoTransactionsProxy } from "./dynamo-transactions-proxy.ts";

export interface ObjectCreatedEvent {
  bucket: string;
  /** As stored: s3rver does not URL-encode it the way S3 notifications do. */
  key: string;
  size: number;
}

export interface LocalAwsOptions {
  /** When given, dynalite stores in `${dataDir}/dynamodb` and s3rver in `${dataDir}/s3`, across restarts. */
  dataDir?: string;
  /** Default "images". */
  tableName?: string;
  /** Default "images". */
  bucketName?: string;
  /** Default "us-east-1". */
  region?: string;
  /** Called for ObjectCreated:Put/Post/Copy. Errors are logged to stderr, never thrown. */
  onObjectCreated?: (event: ObjectCreatedEvent) => void | Promise<void>;
  /**
   * How often the TTL sweeper removes the table's expired items (dynalite has no TTL); default
   * 30 s, 0 for never (then `sweepExpired()` alone does). DynamoDB itself takes up to a few days.
   */
  ttlSweepIntervalMs?: number;
}

export interface LocalAws {
  region: string;
  tableName: string;
  bucketName: string;
  /** The transactions proxy in front of dynalite: http://127.0.0.1:<port>. */
  dynamoEndpoint: string;
  /**
   * http://127.0.0.1:<port>. S3 clients need forcePathStyle: true, and
   * requestChecksumCalculation / responseChecksumValidation: "WHEN_REQUIRED": with the SDK's
   * default (WHEN_SUPPORTED) a streamed PutObject goes out aws-chunked with a checksum trailer,
   * which s3rver stores verbatim as the object's content, and presigned PUT URLs carry the
   * CRC32 of an empty body, which s3rver ignores but real S3 checks against the uploaded body.
   */
  s3Endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The environment variables that point the service at these emulators. */
  env: Record<string, string>;
  /** Every committed change of an item, as DynamoDB Streams would give it (change-feed.ts). */
  changes: ChangeFeed;
  /** Removes the table's expired items now, as DynamoDB's TTL does; answers how many. */
  sweepExpired(nowSeconds?: number): Promise<number>;
  /** Closes all servers and removes the temporary directory when no dataDir was given. Idempotent. */
  stop(): Promise<void>;
}

/** s3rver's built-in account; dynalite accepts any credentials. */
const CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

/** Browsers upload to the bucket directly in development. */
const CORS_CONFIGURATION = `<CORSConfiguration>
  <CORSRule>
    <AllowedOrigin>*</AllowedOrigin>
    <AllowedMethod>GET</AllowedMethod>
    <AllowedMethod>PUT</AllowedMethod>
    <AllowedMethod>POST</AllowedMethod>
    <AllowedMethod>HEAD</AllowedMethod>
    <AllowedHeader>*</AllowedHeader>
    <ExposeHeader>ETag</ExposeHeader>
    <MaxAgeSeconds>3000</MaxAgeSeconds>
  </CORSRule>
</CORSConfiguration>`;

export async function startLocalAws(options: LocalAwsOptions = {}): Promise<LocalAws> {
  const region = options.region ?? "us-east-1";
  const tableName = options.tableName ?? "images";
  const bucketName = options.bucketName ?? "images";
  // s3rver always stores files; without a dataDir they go to a throwaway directory.
  const tempDir =
    options.dataDir === undefined ? await mkdtemp(path.join(await scratchRoot(), "images-local-aws-")) : undefined;
  const dataDir = options.dataDir ?? (tempDir as string);

  const closers: Array<() => Promise<void>> = [];
  const deliveries = new Set<Promise<void>>();
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopAll(closers, deliveries, tempDir));

  try {
    // Without a path dynalite keeps its LevelDB in memory.
    const dynamoPath = options.dataDir === undefined ? undefined : path.join(dataDir, "dynamodb");
    if (dynamoPath) await mkdir(dynamoPath, { recursive: true });
    // Tables would otherwise stay CREATING for 500 ms.
    const dynamoServer = dynalite({ path: dynamoPath, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    const dynalitePort = await listenOnLoopback(dynamoServer);
    closers.push(() => closeServer(dynamoServer));

    const changeFeed = createChangeFeed(region);
    const proxy = await startDynamoTransactionsProxy(`http://127.0.0.1:${dynalitePort}`, {
      onChanges: changeFeed.publish,
    });
    closers.push(() => proxy.close());
    let sweeping: Promise<unknown> = Promise.resolve();
    const sweepExpired = (nowSeconds?: number) => {
      const round = sweeping.then(() => proxy.sweepExpired(tableName, nowSeconds));
      sweeping = round.catch(() => undefined);
      return round;
    };
    const sweepEvery = options.ttlSweepIntervalMs ?? 30_000;
    if (sweepEvery > 0) {
      const timer = setInterval(() => {
        sweepExpired().catch((error: unknown) => console.error("[local-aws] TTL sweep failed:", error));
      }, sweepEvery);
      timer.unref();
      // Stopped first: a sweep must not start while the emulators close, and one under way ends.
      closers.push(async () => {
        clearInterval(timer);
        await sweeping;
      });
    }

    const s3Dir = path.join(dataDir, "s3");
    await mkdir(s3Dir, { recursive: true });
    const s3rver = new S3rver({
      address: "127.0.0.1",
      port: 0,
      silent: true,
      directory: s3Dir,
      resetOnClose: false,
      configureBuckets: [{ name: bucketName, configs: [CORS_CONFIGURATION] }],
    });
    const { onObjectCreated } = options;
    if (onObjectCreated) {
      s3rver.on("event", ({ Records }) => {
        for (const { eventName, s3 } of Records) {
          if (!eventName.startsWith("ObjectCreated:")) continue;
          const event = { bucket: s3.bucket.name, key: s3.object.key, size: s3.object.size ?? 0 };
          // Runs after the emit returns, so a throwing or rejecting callback cannot break s3rver.
          const delivery: Promise<void> = Promise.resolve()
            .then(() => onObjectCreated(event))
            .catch((error: unknown) => console.error("[local-aws] onObjectCreated failed:", error))
            .finally(() => deliveries.delete(delivery));
          deliveries.add(delivery);
        }
      });
    }
    const { port: s3Port } = await s3rver.run();
    closers.push(() => closeS3rver(s3rver));

    const local: LocalAws = {
      region,
      tableName,
      bucketName,
      dynamoEndpoint: proxy.endpoint,
      s3Endpoint: `http://127.0.0.1:${s3Port}`,
      credentials: { ...CREDENTIALS },
      changes: changeFeed.feed,
      sweepExpired,
      env: {
        AWS_REGION: region,
        AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
        DYNAMODB_ENDPOINT: proxy.endpoint,
        S3_ENDPOINT: `http://127.0.0.1:${s3Port}`,
        TABLE_NAME: tableName,
        BUCKET_NAME: bucketName,
      },
      stop,
    };
    await createResources(local);
    return local;
  } catch (error) {
    await stop().catch(() => undefined); // report the startup error, not a follow-up one
    throw error;
  }
}

async function createResources(local: LocalAws): Promise<void> {
  const dynamo = new DynamoDBClient({
    region: local.region,
    endpoint: local.dynamoEndpoint,
    credentials: local.credentials,
  });
  // s3rver already created the bucket (configureBuckets); this also proves the endpoint works.
  const s3 = new S3Client({
    region: local.region,
    endpoint: local.s3Endpoint,
    credentials: local.credentials,
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  try {
    await Promise.all([ensureTable(dynamo, local.tableName), ensureBucket(s3, local.bucketName)]);
  } finally {
    dynamo.destroy();
    s3.destroy();
  }
}

async function stopAll(
  closers: Array<() => Promise<void>>,
  deliveries: Set<Promise<void>>,
  tempDir: string | undefined,
): Promise<void> {
  const errors: unknown[] = [];
  // Reverse start order: the proxy goes before dynalite, whose close waits for open connections.
  for (const close of [...closers].reverse()) {
    await close().catch((error: unknown) => errors.push(error));
  }
  await Promise.all(deliveries);
  if (tempDir) await rm(tempDir, { recursive: true, force: true });
  if (errors.length > 0) throw new AggregateError(errors, "Stopping the local AWS emulators failed");
}

/** /dev/shm when usable, so the throwaway S3 files live in memory; else the OS temp dir. */
async function scratchRoot(): Promise<string> {
  try {
    await access("/dev/shm", constants.W_OK);
    return "/dev/shm";
  } catch {
    return os.tmpdir();
  }
}

async function listenOnLoopback(server: Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  server.closeAllConnections();
  return closed;
}

async function closeS3rver(s3rver: S3rver): Promise<void> {
  const closed = s3rver.close();
  s3rver.httpServer?.closeAllConnections();
  await closed;
}
