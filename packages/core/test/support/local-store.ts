import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { QueryCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { ensureBucket, ensureTable, startLocalAws, type LocalAws } from "@images/local";
import { checkStore } from "@images/audit";
import { createAwsClients, type AwsClients } from "../../src/aws/clients.ts";
import { loadConfig, type Config } from "../../src/config.ts";
import { createImageStore, type ImageStore } from "../../src/image/image-store.ts";
import { PENDING_UPLOAD_PREFIX } from "../../src/storage/object-store.ts";

export interface TestStore {
  config: Config;
  clients: AwsClients;
  store: ImageStore;
  /** The finishing step's runs that the bucket's events started, in order. */
  finished: Promise<unknown>[];
  /** Every key in the bucket. */
  objectKeys(): Promise<string[]>;
  /** Every item stored under one image id (the image, its tags, a deletion record). */
  itemsOf(imageId: string): Promise<Record<string, unknown>[]>;
  /** Everything stored, table and bucket, to compare before and after a refused request. */
  snapshot(): Promise<{ items: Record<string, unknown>[]; objects: string[] }>;
  /** The store checker's violations (packages/audit), as "rule: detail" lines. */
  violations(options?: { verifyDigests?: boolean }): Promise<string[]>;
  /** The embedded emulators (change feed, TTL sweep); undefined on external endpoints. */
  localAws?: LocalAws;
  stop(): Promise<void>;
}

/**
 * The store on embedded emulators, or on the endpoints in the environment when
 * DYNAMODB_ENDPOINT and S3_ENDPOINT are set (LocalStack); the endpoint guard refuses any other.
 * Uploads posted straight to S3 are finished by the bucket's events unless `autoFinish` is false.
 */
export async function startTestStore(
  overrides: Record<string, string> = {},
  options: { autoFinish?: boolean } = {},
): Promise<TestStore> {
  const names = { TABLE_NAME: `images-${Math.random().toString(36).slice(2, 10)}` };
  const external = Boolean(process.env.DYNAMODB_ENDPOINT && process.env.S3_ENDPOINT);
  let store: ImageStore | undefined;
  const finished: Promise<unknown>[] = [];
  // As in AWS, the bucket's ObjectCreated events under the pending prefix finish uploads.
  const aws = external
    ? undefined
    : await startLocalAws({
        tableName: names.TABLE_NAME,
        bucketName: names.TABLE_NAME,
        // Tests sweep when they mean to (localAws.sweepExpired).
        ttlSweepIntervalMs: 0,
        onObjectCreated: async ({ key }) => {
          if (!store || options.autoFinish === false || !key.startsWith(PENDING_UPLOAD_PREFIX)) return;
          const outcome = store.finishUpload(key);
          finished.push(outcome);
          await outcome;
        },
      });
  const env = { ...process.env, ...aws?.env, ...names, BUCKET_NAME: names.TABLE_NAME };
  const config = loadConfig({ ...env, AWS_ENDPOINT_GUARD: "local", ...overrides });
  const clients = createAwsClients(config);
  let sweeper: NodeJS.Timeout | undefined;
  if (external) {
    await ensureTable(clients.dynamo, config.tableName);
    await ensureBucket(clients.s3, config.bucketName);
    // No function is subscribed to the bucket there: sweep the pending prefix instead.
    if (options.autoFinish !== false) {
      let sweeping = false;
      sweeper = setInterval(() => {
        if (sweeping || !store) return;
        sweeping = true;
        const round = store.finishWaitingUploads().finally(() => (sweeping = false));
        finished.push(round);
      }, 250);
    }
  }
  store = createImageStore({ config, clients, log: () => {} });
  const objectKeys = async () => {
    const out = await clients.s3.send(new ListObjectsV2Command({ Bucket: config.bucketName }));
    return (out.Contents ?? []).map((object) => object.Key ?? "").sort();
  };
  return {
    config,
    clients,
    store,
    finished,
    objectKeys,
    localAws: aws,
    async itemsOf(imageId) {
      const out = await clients.dynamo.send(
        new QueryCommand({
          TableName: config.tableName,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": `$images#imageId_${imageId}` },
          ConsistentRead: true,
        }),
      );
      return out.Items ?? [];
    },
    async snapshot() {
      // Tests only: a Scan sees every item, whatever its key.
      const out = await clients.dynamo.send(new ScanCommand({ TableName: config.tableName, ConsistentRead: true }));
      const items = (out.Items ?? []).sort((a, b) => `${a.pk}${a.sk}`.localeCompare(`${b.pk}${b.sk}`));
      return { items, objects: await objectKeys() };
    },
    async violations(options = {}) {
      const report = await checkStore({
        dynamo: clients.dynamo,
        s3: clients.s3,
        tableName: config.tableName,
        bucketName: config.bucketName,
        ...options,
      });
      return report.violations.map((v) => `${v.rule}: ${v.detail}`);
    },
    stop: async () => {
      clearInterval(sweeper);
      await aws?.stop();
    },
  };
}
