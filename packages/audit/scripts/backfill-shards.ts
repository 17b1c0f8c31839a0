import { backfillShards } from "@images/core/image/backfill-shards";
import { openOperatorStore } from "./operator-store.ts";
import { imagesWithoutShards } from "../src/images-without-shards.ts";

/**
 * `npm run listings:backfill`: puts every image stored before the listings' write shards into
 * its shard, its tag items too, so the all-images and tag listings find it again
 * (packages/core/src/image/backfill-shards.ts), and prints what it did; exits 1 when any image
 * failed. It Scans the table: an offline maintenance tool, like `npm run check:store`, never part
 * of serving a request. Running it again does nothing more. It works on the store
 * `npm run check:store` does; LISTING_SHARDS applies to months the catalog has no count for.
 */
const { config, clients, close } = await openOperatorStore();
try {
  const report = await backfillShards({
    config,
    clients,
    imagePages: imagesWithoutShards(clients.dynamo, config.tableName),
    onImage: ({ imageId, outcome, detail }) => console.log(`${outcome.padEnd(7)} ${imageId}  ${detail}`),
  });
  console.log(`images done ${report.done}, skipped ${report.skipped}, failed ${report.failed}`);
  process.exitCode = report.failed > 0 ? 1 : 0;
} finally {
  await close();
}
