/**
 * How much the local TTL sweeper (packages/local, dynamo-transactions-proxy.ts) holds up the
 * requests it runs beside: the emulators answer in one process, so its Scan of the table shares
 * their event loop, where DynamoDB's TTL works beside the table's capacity. Seeds N items of
 * 1.4 KB (none expiring), then times GetItem in a loop while one sweep runs over them.
 * Not part of `npm run bench`: `N=30000 npx tsx bench/ttl-sweep.ts`.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { startLocalAws } from "@images/local";

const items = Number(process.env.N ?? 30_000);
const local = await startLocalAws({ ttlSweepIntervalMs: 0 });
const doc = DynamoDBDocumentClient.from(
  new DynamoDBClient({ region: local.region, endpoint: local.dynamoEndpoint, credentials: local.credentials }),
);
const TableName = local.tableName;
const note = "x".repeat(1300);
// Due in 2096: nothing here expires, so the sweep reads every item and removes none.
const later = 4_000_000_000;
for (let i = 0; i < items; i += 25) {
  const batch = Array.from({ length: Math.min(25, items - i) }, (_, j) => ({
    PutRequest: { Item: { pk: `p${i + j}`, sk: "s", note, expires_at: later } },
  }));
  await doc.send(new BatchWriteCommand({ RequestItems: { [TableName]: batch } }));
}

let sweeping = true;
const latencies: number[] = [];
const gets = (async () => {
  while (sweeping) {
    const started = performance.now();
    await doc.send(new GetCommand({ TableName, Key: { pk: "p1", sk: "s" } }));
    latencies.push(performance.now() - started);
  }
})();
await new Promise((resolve) => setTimeout(resolve, 500));
latencies.length = 0;
const started = performance.now();
await local.sweepExpired();
const sweepMs = performance.now() - started;
sweeping = false;
await gets;

latencies.sort((a, b) => a - b);
const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))]!.toFixed(1);
console.log(
  `${items.toLocaleString("en-US")} items: one sweep ${sweepMs.toFixed(0)} ms; ${latencies.length} GetItem during it, ` +
    `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`,
);
doc.destroy();
await local.stop();
