/**
 * The synthetic table the listing benchmarks read: images from many users over two years, with
 * one busy user and one common tag, so every filter combination has more than a page to return
 * at every size. Seeded straight through the service's own ElectroDB entities with batch writes:
 * the same items an upload's transaction writes, without decoding an image per row.
 */
import { createHash } from "node:crypto";
import { processImage } from "@images/core";
import type { Db } from "@images/core/db/service";
import { shardOf } from "@images/core/image/listing-shards";
import { listingFields, type ImageRecord } from "@images/core/image/records";
import sharp from "sharp";
import { random } from "./support.ts";

export const HOT_USER = "u000";
export const HOT_TAG = "beach";
const USERS = 100;
const OTHER_TAGS = [
  "city",
  "night",
  "food",
  "family",
  "travel",
  "snow",
  "pets",
  "forest",
  "river",
  "portrait",
  "street",
  "sunset",
  "macro",
  "birds",
  "cars",
  "rain",
  "desert",
  "garden",
  "mountain",
  "party",
  "sport",
  "winter",
  "market",
];
const MONTH_MS = 30.44 * 86_400_000;
export const SPAN_MONTHS = 24;

export interface Filter {
  userId?: string;
  tag?: string;
  from?: Date;
  to?: Date;
}

/** The eight combinations of owner, tag and date range (the middle year of the two). */
export function combinations(now: Date): [string, Filter][] {
  const range = {
    from: new Date(now.getTime() - 18 * MONTH_MS),
    to: new Date(now.getTime() - 6 * MONTH_MS),
  };
  const user = { userId: HOT_USER };
  const tag = { tag: HOT_TAG };
  return [
    ["none", {}],
    ["user", user],
    ["tag", tag],
    ["range", range],
    ["user+tag", { ...user, ...tag }],
    ["user+range", { ...user, ...range }],
    ["tag+range", { ...tag, ...range }],
    ["user+tag+range", { ...user, ...tag, ...range }],
  ];
}

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** A ULID-shaped image id (time, then randomness), as the service makes them. */
export function imageIdAt(time: number, next: () => number): string {
  let id = "";
  for (let t = time, i = 0; i < 10; i++, t = Math.floor(t / 32)) id = CROCKFORD[t % 32] + id;
  for (let i = 0; i < 16; i++) id += CROCKFORD[Math.floor(next() * 32)];
  return `img_${id}`;
}

/** What one small real PNG looks like once the service has processed it. */
export interface StoredShape {
  contentType: string;
  sizeBytes: number;
  width: number;
  height: number;
  sha256: string;
}

export async function tinyPngShape(): Promise<StoredShape> {
  const png = await sharp({ create: { width: 8, height: 6, channels: 3, background: { r: 30, g: 80, b: 160 } } })
    .png()
    .toBuffer();
  const processed = await processImage(png, { maxPixels: 50_000_000 });
  return {
    contentType: processed.contentType,
    sizeBytes: processed.body.byteLength,
    width: processed.width,
    height: processed.height,
    sha256: createHash("sha256").update(processed.body).digest("hex"),
  };
}

/**
 * `count` image records, newest up to an hour before `now`, spread over two years, each in its
 * write shard of `shards` (the store's LISTING_SHARDS, as an upload would place it).
 */
export function makeImages(count: number, now: Date, shape: StoredShape, seed = 7, shards = 4): ImageRecord[] {
  const next = random(seed);
  const newest = now.getTime() - 3_600_000;
  const records: ImageRecord[] = [];
  for (let i = 0; i < count; i++) {
    const time = Math.floor(newest - next() * SPAN_MONTHS * MONTH_MS);
    const userId = next() < 0.2 ? HOT_USER : `u${String(1 + Math.floor(next() * (USERS - 1))).padStart(3, "0")}`;
    const tags = new Set<string>();
    if (next() < 0.4) tags.add(HOT_TAG);
    const others = Math.floor(next() * 4);
    for (let k = 0; k < others; k++) tags.add(OTHER_TAGS[Math.floor(next() * OTHER_TAGS.length)]!);
    if (tags.size === 0) tags.add(OTHER_TAGS[i % OTHER_TAGS.length]!);
    const uploadTime = new Date(time).toISOString();
    const imageId = imageIdAt(time, next);
    records.push({
      imageId,
      userId,
      uploadTime,
      month: uploadTime.slice(0, 7),
      shard: shardOf(imageId, shards),
      title: `image ${i}`,
      tags: [...tags].sort(),
      contentType: shape.contentType,
      sizeBytes: shape.sizeBytes,
      width: shape.width,
      height: shape.height,
      sha256: shape.sha256,
      objectKey: `images/${imageId}.png`,
      thumbnailKey: `thumbnails/${imageId}.webp`,
      revision: 1,
    });
  }
  return records;
}

/** Newest first, ties broken by id: the service's listing order. */
export const newestFirst = (a: ImageRecord, b: ImageRecord) =>
  b.uploadTime.localeCompare(a.uploadTime) || b.imageId.localeCompare(a.imageId);

export function matches(record: ImageRecord, filter: Filter): boolean {
  const time = Date.parse(record.uploadTime);
  return (
    (!filter.userId || record.userId === filter.userId) &&
    (!filter.tag || record.tags.includes(filter.tag)) &&
    (!filter.from || time >= filter.from.getTime()) &&
    (!filter.to || time <= filter.to.getTime())
  );
}

/** Runs `task` over `items` with at most `concurrency` in flight. */
export async function eachLimited<T>(items: T[], concurrency: number, task: (item: T) => Promise<void>) {
  let index = 0;
  const worker = async () => {
    while (index < items.length) await task(items[index++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/**
 * Writes the images and their tag items with BatchWriteItem through the entities, 25 items a
 * request, `concurrency` requests in flight, and lowers the catalog's oldest month once.
 */
export async function seedImages(db: Db, records: ImageRecord[], concurrency = 12): Promise<number> {
  const { image, imageTag, catalog } = db.entities;
  const tagItems = records.flatMap((record) => record.tags.map((tag) => ({ ...listingFields(record), tag })));
  // Small jobs, many in flight: the client builds one while the emulator stores another.
  const jobs: (() => Promise<{ unprocessed: unknown[] }>)[] = [];
  const size = 100;
  for (let i = 0; i < records.length; i += size) {
    const slice = records.slice(i, i + size);
    jobs.push(() => image.put(slice).go({ concurrency: 4 }));
  }
  for (let i = 0; i < tagItems.length; i += size) {
    const slice = tagItems.slice(i, i + size);
    jobs.push(() => imageTag.put(slice).go({ concurrency: 4 }));
  }
  await eachLimited(jobs, concurrency, async (job) => {
    const { unprocessed } = await job();
    if (unprocessed.length > 0) throw new Error(`seeding left ${unprocessed.length} items unprocessed`);
  });
  const earliest = records.reduce((min, record) => (record.month < min ? record.month : min), "9999-12");
  // As uploads note them: each month with the shards its images were written over.
  const shards = new Map<string, number>();
  for (const { month, shard } of records) shards.set(month, Math.max(shards.get(month) ?? 0, shard + 1));
  const monthShards = [...shards].map(([month, count]) => `${month}=${count}`);
  await catalog.put({ earliestMonth: earliest, ...(monthShards.length ? { monthShards } : {}) }).go();
  return records.length + tagItems.length;
}
