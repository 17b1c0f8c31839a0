import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mergeShards, type ShardFetch } from "../../src/image/listing.ts";

/**
 * The merge of a sharded partition, against shards held in memory that answer as DynamoDB's
 * Query does: newest first, at most `limit` items, a key to continue from when it stopped at the
 * limit, and nothing at or below a floor given as a key condition.
 */
type Item = { sk: string; uploadTime: string; imageId: string };
const item = (n: number): Item => {
  const uploadTime = new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString();
  const imageId = `img_${String(n).padStart(6, "0")}`;
  return { sk: `$image_1#uploadTime_${uploadTime}#imageId_${imageId}`, uploadTime, imageId };
};

function memoryShards(shards: Item[][]) {
  const calls: { shard: number; limit: number; floor?: Record<string, string>; read: number }[] = [];
  const fetch: ShardFetch = async (shard, limit, startKey, floor) => {
    const newestFirst = [...shards[shard]!].sort((a, b) => (a.sk < b.sk ? 1 : -1));
    const start = startKey ? newestFirst.findIndex((i) => i.sk === startKey.sk) + 1 : 0;
    const floorKey = floor && `$image_1#uploadTime_${floor.uploadTime}#imageId_${floor.imageId}`;
    const inRange = newestFirst.slice(start).filter((i) => !floorKey || i.sk > floorKey);
    const items = inRange.slice(0, limit);
    calls.push({ shard, limit, floor, read: items.length });
    const next = items.length === limit ? { sk: items.at(-1)!.sk } : undefined;
    return { items, next };
  };
  return { fetch, calls };
}

describe("mergeShards", () => {
  it("answers exactly the newest `want` items of all shards, in at most two rounds", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.nat({ max: 11 }), { maxLength: 150 }),
        fc.integer({ min: 1, max: 40 }),
        async (shardCount, assignment, want) => {
          const shards: Item[][] = Array.from({ length: shardCount }, () => []);
          assignment.forEach((shard, n) => shards[shard % shardCount]!.push(item(n)));
          const { fetch, calls } = memoryShards(shards);
          const merged = await mergeShards(shardCount, want, "sk", fetch);
          const all = shards.flat().sort((a, b) => (a.sk < b.sk ? 1 : -1));
          expect(merged.map((i) => i.sk)).toEqual(all.slice(0, want).map((i) => i.sk));
          // Round one asks every shard once; round two at most once more each.
          expect(calls.slice(0, shardCount).map((c) => c.shard)).toEqual([...Array(shardCount).keys()]);
          const second = calls.slice(shardCount);
          expect(new Set(second.map((c) => c.shard)).size).toBe(second.length);
          // A second Query never reads below the floor nor asks for more places than are left.
          for (const call of second) expect(call.limit).toBeLessThan(want);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("goes on where DynamoDB stopped a Query at 1 MB before its limit", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 8 }),
        fc.array(fc.nat({ max: 7 }), { minLength: 20, maxLength: 120 }),
        fc.integer({ min: 2, max: 30 }),
        async (shardCount, assignment, want) => {
          const shards: Item[][] = Array.from({ length: shardCount }, () => []);
          assignment.forEach((shard, n) => shards[shard % shardCount]!.push(item(n)));
          const { fetch } = memoryShards(shards);
          // Every Query stops after at most 2 items, as a 1 MB page of large items would.
          const stopping: ShardFetch = async (shard, limit, startKey, floor) => {
            const page = await fetch(shard, Math.min(limit, 2), startKey, floor);
            return page.items.length === 2 && limit > 2 ? { ...page, next: { sk: page.items[1]!.sk } } : page;
          };
          const merged = await mergeShards(shardCount, want, "sk", stopping);
          const all = shards.flat().sort((a, b) => (a.sk < b.sk ? 1 : -1));
          expect(merged.map((i) => i.sk)).toEqual(all.slice(0, want).map((i) => i.sk));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("reads, past round one, only items that were still candidates for the page", async () => {
    // Shard 0 holds the 30 newest, shard 1 the rest: round one takes 11 from each (want 21); the
    // 21st newest of those 22 (shard 1's 10th) is the floor, and round two asks shard 0 alone for
    // the 10 places left above it.
    const shards = [
      Array.from({ length: 30 }, (_, n) => item(1000 - n)),
      Array.from({ length: 30 }, (_, n) => item(n)),
    ];
    const { fetch, calls } = memoryShards(shards);
    const merged = await mergeShards(2, 21, "sk", fetch);
    expect(merged).toHaveLength(21);
    expect(merged.every((i) => shards[0]!.includes(i as Item))).toBe(true);
    expect(calls.map(({ shard, limit, read }) => ({ shard, limit, read }))).toEqual([
      { shard: 0, limit: 11, read: 11 },
      { shard: 1, limit: 11, read: 11 },
      { shard: 0, limit: 10, read: 10 },
    ]);
    expect(calls[2]!.floor).toEqual({ uploadTime: item(20).uploadTime, imageId: item(20).imageId });
  });
});
