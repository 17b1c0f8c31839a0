import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ImageInfo, ListFilter } from "../../src/image/image.schema.ts";
import { decodeTime } from "ulid";
import { AppError } from "../../src/errors.ts";
import { createImageStore } from "../../src/image/image-store.ts";
import { keyHash } from "../../src/storage/object-store.ts";
import { tinyPng } from "../support/fixtures.ts";
import { startTestStore, type TestStore } from "../support/local-store.ts";

/**
 * 400 images from 6 users with overlapping tags, spread over 20 months. Every filter
 * combination is walked page by page and compared with a plain in-memory filter of the same
 * data; DynamoDB's ScannedCount shows what each page read.
 */
const USERS = ["ana", "ben", "chloe", "dev", "emma", "farid"];
const TAGS = ["beach", "city", "night", "food", "family", "travel", "snow", "pets"];
const COUNT = 400;
const START = Date.UTC(2025, 0, 3);
const SPAN = 600 * 86_400_000; // 20 months

function random(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

/** One write shard (an owner's listing always; the others before sharding) and several. */
const SHARD_COUNTS = [1, 4, 10];

describe.each(SHARD_COUNTS)("with LISTING_SHARDS=%i", (shards) => {
  let t: TestStore;
  const images: ImageInfo[] = [];
  /** Scanned: what Queries read (index entries); fetched: the items a BatchGetItem answered. */
  const reads: { commands: string[]; scanned: number; fetched: number } = { commands: [], scanned: 0, fetched: 0 };

  beforeAll(async () => {
    // Seeding is an import, not 400 uploads by people: the per-user upload limit does not apply.
    t = await startTestStore({ UPLOAD_RATE_LIMIT_PER_MINUTE: "100000", LISTING_SHARDS: String(shards) });
    const next = random(42);
    const png = await tinyPng(1);
    for (let i = 0; i < COUNT; i++) {
      const tags = TAGS.filter(() => next() < 0.35);
      // A few images share one instant, so ties are broken by id.
      const time = i % 25 === 0 && i > 0 ? Date.parse(images[i - 1]!.upload_time) : START + Math.floor(next() * SPAN);
      images.push(
        await t.store.create({
          userId: USERS[Math.floor(next() * USERS.length)]!,
          title: `image ${i}`,
          tags,
          bytes: png,
          uploadTime: new Date(time),
        }),
      );
    }
    t.clients.dynamo.middlewareStack.add(
      (next, context) => async (args) => {
        reads.commands.push(context.commandName ?? "");
        const result = await next(args);
        const output = result.output as { ScannedCount?: number; Responses?: Record<string, unknown[]> };
        reads.scanned += output.ScannedCount ?? 0;
        reads.fetched += Object.values(output.Responses ?? {}).reduce((sum, items) => sum + items.length, 0);
        return result;
      },
      { step: "initialize", name: "countReads" },
    );
  }, 240_000);
  afterAll(async () => t?.stop());

  const newestFirst = (a: ImageInfo, b: ImageInfo) =>
    b.upload_time.localeCompare(a.upload_time) || b.image_id.localeCompare(a.image_id);

  function expected(filter: { userId?: string; tag?: string; from?: string; to?: string }): string[] {
    const from = filter.from ? Date.parse(filter.from) : -Infinity;
    const to = filter.to ? Date.parse(filter.to) : Infinity;
    return images
      .filter((image) => !filter.userId || image.user_id === filter.userId)
      .filter((image) => !filter.tag || image.tags.includes(filter.tag))
      .filter((image) => Date.parse(image.upload_time) >= from && Date.parse(image.upload_time) <= to)
      .sort(newestFirst)
      .map((image) => image.image_id);
  }

  const RANGE = { from: "2025-03-10T00:00:00.000Z", to: "2026-05-20T23:59:59.999Z" };
  const COMBINATIONS: [string, { userId?: string; tag?: string; from?: string; to?: string }][] = [
    ["none", {}],
    ["user", { userId: "chloe" }],
    ["tag", { tag: "beach" }],
    ["date range", RANGE],
    ["user+tag", { userId: "chloe", tag: "beach" }],
    ["user+range", { userId: "chloe", ...RANGE }],
    ["tag+range", { tag: "beach", ...RANGE }],
    ["user+tag+range", { userId: "chloe", tag: "beach", ...RANGE }],
  ];
  const LIMIT = 7;
  const ratios: string[] = [];
  /** Shards an unsharded filter reads: the owner's listings keep one partition. */
  const shardsOf = (filter: { userId?: string }) => (filter.userId ? 1 : shards);
  /**
   * What one page may read beyond its items: one look-ahead item with one shard. With several
   * (mergeShards), at most round one's S × ceil(want/S), want = LIMIT + 1, and round two's places
   * left under each shard's last item, want - (its rank): the ranks of the shards' last items
   * differ and none is above the share asked, so round two reads at most the sum of want - rank
   * over the S ranks from the share on. Bounded by the page size and the shard count, never by
   * the table.
   */
  const slack = (s: number) => {
    if (s === 1) return 1;
    const want = LIMIT + 1;
    const share = Math.ceil(want / s);
    let secondRound = 0;
    for (let j = 0; j < s; j++) secondRound += Math.max(0, want - (share + j));
    return s * share + secondRound;
  };

  describe.each(COMBINATIONS)("listing with filter: %s", (name, filter) => {
    it("walks page by page to exactly the in-memory answer, reading a bounded look-ahead per page", async () => {
      const want = expected(filter);
      expect(want.length).toBeGreaterThan(LIMIT);
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      let scanned = 0;
      reads.commands.length = 0;
      do {
        const before = reads.scanned;
        const fetchedBefore = reads.fetched;
        const page = await t.store.list({ ...filter, limit: LIMIT, cursor } satisfies ListFilter);
        const read = reads.scanned - before;
        expect(page.items.length).toBeLessThanOrEqual(LIMIT);
        // The sharded listings' index holds keys: a page reads from the table the items it returns, no more.
        expect(reads.fetched - fetchedBefore).toBe(filter.userId ? 0 : page.items.length);
        expect(read).toBeLessThanOrEqual(page.items.length + slack(shardsOf(filter)));
        scanned += read;
        seen.push(...page.items.map((image) => image.image_id));
        for (const { thumbnail_url, placeholder, renditions, ...image } of page.items) {
          expect(image).toEqual(images.find((i) => i.image_id === image.image_id));
          expect(new URL(thumbnail_url).pathname).toContain(`renditions/${keyHash(image.image_id)}/${image.image_id}/`);
          expect(renditions[0]?.url).toBe(thumbnail_url);
          expect(placeholder).toMatch(/^[A-Za-z0-9+/]+=*$/);
        }
        cursor = page.nextCursor ?? undefined;
        pages += 1;
        if (cursor) expect(page.items).toHaveLength(LIMIT);
      } while (cursor);
      expect(seen).toEqual(want);
      expect(new Set(seen).size).toBe(seen.length);
      expect(pages).toBe(Math.ceil(want.length / LIMIT));
      expect(reads.commands.filter((command) => !/^(Query|Get|BatchGetItem)/.test(command))).toEqual([]);
      // In all: the items returned, plus each page's look-ahead (one item with one shard).
      expect(scanned).toBeLessThanOrEqual(want.length + pages * slack(shardsOf(filter)));
      if (shardsOf(filter) === 1) expect(scanned).toBeLessThanOrEqual(want.length + pages);
      ratios.push(
        `S=${shardsOf(filter)} ${name.padEnd(15)} returned ${String(seen.length).padStart(3)}  read ${String(scanned).padStart(3)}  ratio ${(scanned / seen.length).toFixed(3)}`,
      );
    });
  });

  describe("listing edges", () => {
    it("refuses a cursor that was tampered with or made for another filter", async () => {
      const page = await t.store.list({ tag: "beach", limit: 2 });
      const cursor = page.nextCursor!;
      const kindOf = (p: Promise<unknown>) =>
        p.then(
          () => "ok",
          (e: AppError) => e.kind,
        );
      expect(await kindOf(t.store.list({ tag: "city", limit: 2, cursor }))).toBe("invalid");
      const [body, mac] = cursor.split(".");
      const forged = Buffer.from(
        JSON.stringify({ ...JSON.parse(Buffer.from(body!, "base64url").toString()), f: "x" }),
      ).toString("base64url");
      expect(await kindOf(t.store.list({ tag: "beach", limit: 2, cursor: `${forged}.${mac}` }))).toBe("invalid");
      expect(await kindOf(t.store.list({ tag: "beach", limit: 2, cursor: "garbage" }))).toBe("invalid");
      expect(await kindOf(t.store.list({ tag: "beach", limit: 3, cursor }))).toBe("ok");
    });

    it("treats a date alone as the whole UTC day and refuses a reversed range", async () => {
      const day = images[10]!.upload_time.slice(0, 10);
      const page = await t.store.list({ from: day, to: day, limit: 100 });
      expect(page.items.map((i) => i.image_id)).toEqual(
        expected({ from: `${day}T00:00:00.000Z`, to: `${day}T23:59:59.999Z` }),
      );
      expect(page.items.map((i) => i.image_id)).toContain(images[10]!.image_id);
      await expect(t.store.list({ from: "2026-02-02", to: "2026-02-01" })).rejects.toMatchObject({ kind: "invalid" });
      await expect(t.store.list({ from: "2026-02-30" })).rejects.toMatchObject({ kind: "invalid" });
      await expect(t.store.list({ limit: 101 })).rejects.toMatchObject({ kind: "invalid" });
    });

    it("includes an image uploaded exactly at either end of the range", async () => {
      const at = images[50]!.upload_time;
      const ids = (await t.store.list({ from: at, to: at, limit: 100 })).items.map((i) => i.image_id);
      expect(ids).toEqual(expected({ from: at, to: at }));
      expect(ids).toContain(images[50]!.image_id);
    });

    it.each(COMBINATIONS)("reads a range out to the ends of time like no range at all (%s)", async (_, filter) => {
      const { from, to, ...rest } = filter;
      const everything = expected(rest);
      const walk = async (range: { from?: string; to?: string }) => {
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await t.store.list({ ...rest, ...range, limit: 100, cursor });
          seen.push(...page.items.map((image) => image.image_id));
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        return seen;
      };
      expect(await walk({ to: "9999-12-31" })).toEqual(everything);
      expect(await walk({ from: "1970-01-01", to: "9999-12-31" })).toEqual(everything);
      expect(await walk({ from: "0001-01-01T00:00:00Z", to: "9999-12-31T23:59:59.999Z" })).toEqual(everything);
      expect(await walk({ from: "9999-01-01" })).toEqual([]);
      expect(await walk({ to: "1969-12-31" })).toEqual([]);
      if (from && to) expect(await walk({ from, to })).toEqual(expected(filter));
    });

    it("answers an empty page for a filter nothing matches", async () => {
      expect(await t.store.list({ userId: "nobody" })).toEqual({ items: [], nextCursor: null });
      expect(await t.store.list({ from: "2020-01-01", to: "2020-12-31" })).toEqual({ items: [], nextCursor: null });
    });
  });

  afterAll(() => {
    console.log(`\nLISTING_SHARDS=${shards}`);
    console.log(
      `\nItems DynamoDB read per item returned, walking every page at limit ${LIMIT}:\n${ratios.join("\n")}\n`,
    );
  });
});

describe("a change of LISTING_SHARDS", () => {
  it("loses no item: every listing reads each shard any writer of the range used", async () => {
    const t = await startTestStore({ UPLOAD_RATE_LIMIT_PER_MINUTE: "100000" });
    try {
      const png = await tinyPng(3);
      const storeWith = (listingShards: number) =>
        createImageStore({ config: { ...t.config, listingShards }, clients: t.clients, log: () => {} });
      // Written over 1 shard, then 8 (in an older month too, as an import would), then 2.
      const written: string[] = [];
      const plan: [number, string][] = [
        [1, "2026-01-10T10:00:00Z"],
        [8, "2026-02-10T10:00:00Z"],
        [8, "2025-12-10T10:00:00Z"],
        [2, "2026-02-11T10:00:00Z"],
      ];
      for (const [shards, start] of plan) {
        const writer = storeWith(shards);
        for (let i = 0; i < 12; i++) {
          const uploadTime = new Date(Date.parse(start) + i * 60_000);
          written.push(
            (await writer.create({ userId: "ana", title: "s", tags: ["sea"], bytes: png, uploadTime })).image_id,
          );
        }
      }
      const newest = [...written].sort().reverse();
      for (const shards of [1, 2, 4, 8]) {
        const reader = storeWith(shards);
        const filters: { tag?: string; from?: string; to?: string }[] = [
          {},
          { tag: "sea" },
          { from: "2026-02-01" },
          { tag: "sea", to: "2026-01-31" },
        ];
        for (const filter of filters) {
          const seen: string[] = [];
          let cursor: string | undefined;
          do {
            const page = await reader.list({ ...filter, limit: 5, cursor });
            seen.push(...page.items.map((image) => image.image_id));
            cursor = page.nextCursor ?? undefined;
          } while (cursor);
          const from = filter.from ? Date.parse(filter.from) : -Infinity;
          const to = filter.to ? Date.parse(`${filter.to}T23:59:59.999Z`) : Infinity;
          const want = newest.filter((id) => decodeTime(id.slice(4)) >= from && decodeTime(id.slice(4)) <= to);
          expect(seen, `reader over ${shards} shards, ${JSON.stringify(filter)}`).toEqual(want);
        }
      }
    } finally {
      await t.stop();
    }
  });
});
