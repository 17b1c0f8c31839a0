/**
 * Section 8, a model: what an exact page of a sharded listing reads, by the shard count. The
 * service's own merge (`mergeShards` in packages/core/src/image/listing.ts) runs over shards held
 * in memory that answer as DynamoDB's Query does (newest first, `Limit`, a key to continue from,
 * nothing at or below a floor given as a key condition), each item placed in a shard at random as
 * hashing its id does. Counted: items read, Queries and rounds for a page of 20 (and its
 * look-ahead), deep in a listing, beside issue 16's target of 1 + S/20.
 */
import { mergeShards, type ShardFetch } from "../packages/core/src/image/listing.ts";
import { random, table, type SectionResult } from "./support.ts";

const PAGE = 20;
const SHARD_COUNTS = [1, 2, 3, 4, 5, 8, 10, 16, 32];

export interface ShardReads {
  shards: number;
  readPerReturned: number;
  queries: number;
  rounds: number;
  bound: number;
}

export async function shardReads(pages: number): Promise<ShardReads[]> {
  const next = random(16);
  const rows: ShardReads[] = [];
  for (const shards of SHARD_COUNTS) {
    let read = 0;
    let queries = 0;
    let rounds = 0;
    for (let page = 0; page < pages; page++) {
      // Enough items that no shard runs out: sort keys are zero-padded ranks, newest highest.
      const held: string[][] = Array.from({ length: shards }, () => []);
      for (let rank = 8 * (PAGE + 1); rank > 0; rank--) {
        held[Math.floor(next() * shards)]!.push(`k${String(rank).padStart(6, "0")}`);
      }
      let calls = 0;
      const fetch: ShardFetch = async (shard, limit, startKey, floor) => {
        calls += 1;
        const keys = held[shard]!;
        const start = startKey ? keys.indexOf(String(startKey.sk)) + 1 : 0;
        const above = keys.slice(start).filter((key) => !floor || key > String(floor.imageId));
        const items = above.slice(0, limit).map((key) => ({ sk: key, uploadTime: key, imageId: key }));
        read += items.length;
        return { items, next: items.length === limit ? { sk: items.at(-1)!.sk } : undefined };
      };
      await mergeShards(shards, PAGE + 1, "sk", fetch);
      queries += calls;
      // Round one is one Query a shard; anything after it is round two.
      rounds += calls > shards ? 2 : 1;
    }
    rows.push({
      shards,
      readPerReturned: read / (pages * PAGE),
      queries: queries / pages,
      rounds: rounds / pages,
      bound: 1 + shards / PAGE,
    });
  }
  return rows;
}

export async function runShardReads(options: { pages: number }): Promise<SectionResult> {
  const rows = await shardReads(options.pages);
  const markdown = [
    `A model, not a measurement: ${options.pages.toLocaleString("en-US")} pages of ${PAGE} (and a look-ahead) for each ` +
      `shard count, through the service's own merge of shards (\`mergeShards\`, packages/core/src/image/listing.ts) ` +
      `over shards held in memory that answer as a DynamoDB Query does, each item in a shard chosen at random as ` +
      `hashing its id chooses. An exact page asks each shard for its share and a look-ahead (S × ceil(21/S) items), ` +
      `then the shards whose last item is still above the 21st newest for the items above it alone. Issue 16's target ` +
      `is 1 + S/20 (the page and a look-ahead a shard). Round one alone reads S × ceil(21/S) (30 for 10 shards: 1.50 ` +
      `before anything else), and a shard's share of a page varies from page to page (binomially), so round two reads ` +
      `what the largest shares hold beyond theirs; from about 20 shards up, round one's share is a single item and ` +
      `the target, which counts a look-ahead a shard, is easier than the page itself.`,
    "",
    table(
      ["shards (S)", "items read per item returned", "target (1 + S/20)", "Queries a page", "rounds a page"],
      rows.map((r) => [
        r.shards,
        r.readPerReturned.toFixed(3),
        r.bound.toFixed(2),
        r.queries.toFixed(1),
        r.rounds.toFixed(2),
      ]),
    ),
  ].join("\n");
  return { title: "8. Shard reads", markdown, checks: [], data: rows };
}
