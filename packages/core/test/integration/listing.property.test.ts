import fc from "fast-check";
import { ensureTable } from "@images/local";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createImageStore } from "../../src/image/image-store.ts";
import type { ImageInfo } from "../../src/image/image.schema.ts";
import { tinyPng } from "../support/fixtures.ts";
import { startTestStore, type TestStore } from "../support/local-store.ts";

/**
 * Listing and paging, checked against a plain in-memory model on data fast-check makes up:
 * any images, any filter, any page size; every page walk must equal the model's answer. Each
 * image is stored by a process configured with its own LISTING_SHARDS and the listing read by
 * another, so write sharding and a change of it lose no item.
 */
const SHARD_COUNTS = [1, 2, 4, 8] as const;
const DAY = 86_400_000;
const START = Date.UTC(2025, 10, 20);

let t: TestStore;
let png: Buffer;
let tables = 0;
beforeAll(async () => {
  t = await startTestStore({ UPLOAD_RATE_LIMIT_PER_MINUTE: "100000" });
  png = await tinyPng(7);
});
afterAll(async () => t?.stop());

const imageArbitrary = fc.record({
  user: fc.constantFrom("ann", "bob", "cy"),
  tags: fc.subarray(["x", "y", "z"]),
  // Within a few months around a year's end, so month buckets and years both turn over; some share an instant.
  time: fc.oneof(fc.integer({ min: START, max: START + 90 * DAY }), fc.constant(START + 40 * DAY)),
  shards: fc.constantFrom(...SHARD_COUNTS),
});
const filterArbitrary = fc.record(
  {
    userId: fc.constantFrom("ann", "bob", "cy", "nobody"),
    tag: fc.constantFrom("x", "y", "z"),
    // Sometimes exactly on the shared instant, so both ends of the range are tested inclusive.
    from: fc.oneof(fc.integer({ min: START - 5 * DAY, max: START + 95 * DAY }), fc.constant(START + 40 * DAY)),
    span: fc.oneof(fc.integer({ min: 0, max: 60 * DAY }), fc.constant(0)),
  },
  { requiredKeys: [] },
);

describe("listing, property-based", () => {
  it("every filter and page size walks to exactly the model's answer", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(imageArbitrary, { maxLength: 18 }),
        filterArbitrary,
        fc.integer({ min: 1, max: 5 }),
        fc.constantFrom(...SHARD_COUNTS),
        async (seed, filter, limit, readerShards) => {
          const tableName = `${t.config.tableName}-p${tables++}`;
          await ensureTable(t.clients.dynamo, tableName);
          const storeWith = (listingShards: number) =>
            createImageStore({ config: { ...t.config, tableName, listingShards }, clients: t.clients, log: () => {} });
          const writers = new Map(SHARD_COUNTS.map((count) => [count, storeWith(count)]));
          const store = storeWith(readerShards);
          const images: ImageInfo[] = [];
          for (const image of seed) {
            images.push(
              await writers.get(image.shards)!.create({
                userId: image.user,
                title: "p",
                tags: image.tags,
                bytes: png,
                uploadTime: new Date(image.time),
              }),
            );
          }
          const from = filter.from !== undefined ? new Date(filter.from) : undefined;
          const to =
            filter.from !== undefined && filter.span !== undefined ? new Date(filter.from + filter.span) : undefined;
          const expected = images
            .filter((image) => filter.userId === undefined || image.user_id === filter.userId)
            .filter((image) => filter.tag === undefined || image.tags.includes(filter.tag))
            .filter((image) => !from || Date.parse(image.upload_time) >= from.getTime())
            .filter((image) => !to || Date.parse(image.upload_time) <= to.getTime())
            .sort((a, b) => b.upload_time.localeCompare(a.upload_time) || b.image_id.localeCompare(a.image_id))
            .map((image) => image.image_id);

          const seen: string[] = [];
          let cursor: string | undefined;
          let pages = 0;
          do {
            const page = await store.list({
              userId: filter.userId,
              tag: filter.tag,
              from: from?.toISOString(),
              to: to?.toISOString(),
              limit,
              cursor,
            });
            expect(page.items.length).toBeLessThanOrEqual(limit);
            if (page.nextCursor) expect(page.items).toHaveLength(limit);
            seen.push(...page.items.map((image) => image.image_id));
            cursor = page.nextCursor ?? undefined;
            pages += 1;
          } while (cursor && pages < 50);
          expect(seen).toEqual(expected);
        },
      ),
      { numRuns: 30 },
    );
  }, 240_000);
});
