/**
 * Sections 2 and 3: what a 20-item page reads and how long it takes, for every combination of
 * owner, tag and date range, at several table sizes, beside a Scan with a FilterExpression
 * (the design the table's keys exist to avoid) on the same table in the same run.
 *
 * The emulators run in a child process; this process seeds the table through the service's
 * ElectroDB entities and lists through the service's own store (createImageStore), counting
 * what DynamoDB read with a middleware on the store's document client.
 */
import { ScanCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { createAwsClients, createImageStore, loadConfig, type ImageStore } from "@images/core";
import { createDb } from "@images/core/db/service";
import type { ImageRecord } from "@images/core/image/records";
import sharp from "sharp";
import {
  combinations,
  makeImages,
  matches,
  newestFirst,
  seedImages,
  SPAN_MONTHS,
  tinyPngShape,
  type Filter,
} from "./dataset.ts";
import {
  count,
  median,
  ms,
  quantile,
  ratio,
  startEmulators,
  table,
  type SectionResult,
  type TargetCheck,
} from "./support.ts";

const PAGE = 20;
/** Pages walked to count reads beyond the first. */
const WALK_PAGES = 5;
/** One partition (the owner's listings): the page and its look-ahead item. */
const READ_TARGET = 1.1;
/** Over S write shards (all images, a tag): the page and a look-ahead per shard, at best. */
const shardedReadTarget = (shards: number) => 1 + shards / PAGE;
const shardedFilter = (name: string) => !name.includes("user");
const WARM_ROUNDS = 20;
const GROWTH_TARGET = 1.5;

interface ReadCounter {
  requests: number;
  read: number;
}

/**
 * Adds up what DynamoDB says it read: ScannedCount of Query and Scan, one per GetItem hit, one
 * per item a BatchGetItem answers (the items a page of gsi1 reads from the table).
 */
function countReads(client: DynamoDBDocumentClient): ReadCounter {
  const counter = { requests: 0, read: 0 };
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const output = result.output as { ScannedCount?: number; Item?: unknown; Responses?: Record<string, unknown[]> };
      counter.requests += 1;
      const batch = Object.values(output.Responses ?? {}).reduce((sum, items) => sum + items.length, 0);
      counter.read += (output.ScannedCount ?? (output.Item ? 1 : 0)) + batch;
      return result;
    },
    { step: "initialize", name: "benchCountReads" },
  );
  return counter;
}

interface ScanResult {
  read: number;
  returned: string[];
  ms: number;
}

/**
 * The naive listing: Scan the table with the filter as a FilterExpression. Newest first needs
 * every match, so it reads the whole table; with `stopAfter` it stops at that many matches,
 * which is cheaper but not even the right answer (a Scan is in hash order, not time order).
 */
async function scanListing(
  dynamo: DynamoDBDocumentClient,
  tableName: string,
  filter: Filter,
  counter: ReadCounter,
  stopAfter?: number,
): Promise<ScanResult> {
  const conditions = ["#entity = :image"];
  const names: Record<string, string> = { "#entity": "__edb_e__" };
  const values: Record<string, unknown> = { ":image": "image" };
  if (filter.userId) {
    conditions.push("userId = :user");
    values[":user"] = filter.userId;
  }
  if (filter.tag) {
    conditions.push("contains(tags, :tag)");
    values[":tag"] = filter.tag;
  }
  if (filter.from) {
    conditions.push("uploadTime >= :from");
    values[":from"] = filter.from.toISOString();
  }
  if (filter.to) {
    conditions.push("uploadTime <= :to");
    values[":to"] = filter.to.toISOString();
  }
  const before = counter.read;
  const started = performance.now();
  const found: { imageId: string; uploadTime: string }[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: conditions.join(" AND "),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ExclusiveStartKey: startKey,
        ...(stopAfter ? { Limit: 100 } : {}),
      }),
    );
    for (const item of page.Items ?? []) found.push(item as { imageId: string; uploadTime: string });
    startKey = page.LastEvaluatedKey;
  } while (startKey && !(stopAfter && found.length >= stopAfter));
  found.sort((a, b) => b.uploadTime.localeCompare(a.uploadTime) || b.imageId.localeCompare(a.imageId));
  const returned = found.slice(0, PAGE).map((item) => item.imageId);
  return { read: counter.read - before, returned, ms: performance.now() - started };
}

export interface CombinationResult {
  name: string;
  matching: number;
  page1: { returned: number; read: number; requests: number };
  walk: { pages: number; returned: number; read: number; worstPage: number };
  pageMs: { median: number; p90: number; runs: number };
  scan?: { read: number; ms: number; runs: number };
  scanFirstMatches?: { read: number; returned: number };
}

export interface SizeResult {
  images: number;
  /** LISTING_SHARDS of the store that seeded and listed the table (the default). */
  shards: number;
  items: number;
  seedMs: number;
  combinations: CombinationResult[];
  /** store.create, one image at a time, as a client would upload them: ms per image. */
  createMsPerImage?: number;
  createSample?: number;
}

export interface ListingOptions {
  sizes: number[];
  /** Timed runs of each page (after two warm-up runs). */
  pageRuns: number;
  /** The size whose read counts make the read-efficiency table. */
  efficiencySize: number;
  /** Scan runs per combination for a size; 0 skips the Scan there. */
  scanRuns(size: number, combination: string): number;
  /** How many images to upload one by one through store.create, to time that way of seeding. */
  createSample: number;
  log(message: string): void;
}

const sameIds = (actual: string[], expected: string[], what: string) => {
  if (actual.length !== expected.length || actual.some((id, i) => id !== expected[i])) {
    throw new Error(`${what}: the page differs from the in-memory answer`);
  }
};

async function measureCombination(
  store: ImageStore,
  counter: ReadCounter,
  records: ImageRecord[],
  [name, filter]: [string, Filter],
  size: number,
): Promise<CombinationResult> {
  const expected = records
    .filter((record) => matches(record, filter))
    .sort(newestFirst)
    .map((record) => record.imageId);
  const list = (cursor?: string) => store.list({ ...filter, limit: PAGE, cursor });

  // Warm: connections open, the catalog's oldest month cached (read once a minute per instance).
  await list();
  await list();

  // Reads: the first page, then the following pages with their cursors.
  const walked: string[] = [];
  let cursor: string | undefined;
  const perPage: { returned: number; read: number; requests: number }[] = [];
  for (let page = 0; page < WALK_PAGES; page++) {
    const before = { ...counter };
    const result = await list(cursor);
    perPage.push({
      returned: result.items.length,
      read: counter.read - before.read,
      requests: counter.requests - before.requests,
    });
    walked.push(...result.items.map((item) => item.image_id));
    cursor = result.nextCursor ?? undefined;
    if (!cursor) break;
  }
  sameIds(walked, expected.slice(0, walked.length), `${name} at ${size}`);

  const result: CombinationResult = {
    name,
    matching: expected.length,
    page1: perPage[0]!,
    walk: {
      pages: perPage.length,
      returned: perPage.reduce((sum, page) => sum + page.returned, 0),
      read: perPage.reduce((sum, page) => sum + page.read, 0),
      worstPage: Math.max(...perPage.map((page) => page.read / Math.max(1, page.returned))),
    },
    pageMs: { median: Number.NaN, p90: Number.NaN, runs: 0 },
  };

  return result;
}

/** The Scan baseline for one filter, after the timed rounds (it reads the whole table). */
async function scanCombination(table: Table, result: CombinationResult, filter: Filter, options: ListingOptions) {
  const { clients, config, counter, expected, size } = { ...table, expected: table.expected(filter) };
  const scanRuns = options.scanRuns(size, result.name);
  if (scanRuns > 0) {
    const scans: ScanResult[] = [];
    for (let run = 0; run < scanRuns; run++) {
      scans.push(await scanListing(clients.dynamo, config.tableName, filter, counter));
    }
    sameIds(scans[0]!.returned, expected.slice(0, PAGE), `Scan ${result.name} at ${size}`);
    result.scan = { read: scans[0]!.read, ms: median(scans.map((scan) => scan.ms)), runs: scanRuns };
  }
  if (size === options.efficiencySize) {
    const first = await scanListing(clients.dynamo, config.tableName, filter, counter, PAGE);
    result.scanFirstMatches = { read: first.read, returned: Math.min(PAGE, first.returned.length) };
  }
}

/** One seeded table on its own emulators, with the store that lists it. */
interface Table {
  size: number;
  stop(): Promise<void>;
  config: ReturnType<typeof loadConfig>;
  clients: ReturnType<typeof createAwsClients>;
  counter: ReadCounter;
  store: ImageStore;
  records: ImageRecord[];
  filters: [string, Filter][];
  expected(filter: Filter): string[];
  result: SizeResult;
}

async function prepareTable(size: number, options: ListingOptions): Promise<Table> {
  const emulators = await startEmulators(`bench${size}`);
  try {
    // A bulk import, not people uploading: the per-user upload limit does not apply.
    const config = loadConfig({
      ...emulators.env,
      AWS_ENDPOINT_GUARD: "local",
      UPLOAD_RATE_LIMIT_PER_MINUTE: "100000",
    });
    const clients = createAwsClients(config);
    const counter = countReads(clients.dynamo);
    const store = createImageStore({ config, clients, log: () => {} });
    const db = createDb(clients.dynamo, config.tableName);
    const now = new Date();
    const records = makeImages(size, now, await tinyPngShape(), undefined, config.listingShards);

    const seedStarted = performance.now();
    const items = await seedImages(db, records);
    const seedMs = performance.now() - seedStarted;
    options.log(`  ${count(size)} images (${count(items)} items) seeded in ${(seedMs / 1000).toFixed(1)} s`);

    const filters = combinations(now);
    const results: CombinationResult[] = [];
    for (const combination of filters) {
      results.push(await measureCombination(store, counter, records, combination, size));
    }
    return {
      size,
      stop: async () => {
        clients.dynamo.destroy();
        clients.s3.destroy();
        await emulators.stop();
      },
      config,
      clients,
      counter,
      store,
      records,
      filters,
      expected: (filter) =>
        records
          .filter((record) => matches(record, filter))
          .sort(newestFirst)
          .map((record) => record.imageId),
      result: { images: size, shards: config.listingShards, items, seedMs, combinations: results },
    };
  } catch (error) {
    await emulators.stop();
    throw error;
  }
}

/** Times `store.create` one image at a time: what seeding through the service would cost. */
async function timeCreate(table: Table, images: number) {
  const png = await sharp({ create: { width: 8, height: 6, channels: 3, background: "#3070a0" } })
    .png()
    .toBuffer();
  const started = performance.now();
  for (let i = 0; i < images; i++) {
    await table.store.create({ userId: "importer", title: `created ${i}`, tags: ["beach", "city"], bytes: png });
  }
  table.result.createMsPerImage = (performance.now() - started) / images;
  table.result.createSample = images;
}

export async function runListing(options: ListingOptions): Promise<SectionResult[]> {
  const tables: Table[] = [];
  try {
    for (const size of options.sizes) {
      options.log(`listing: seeding ${count(size)} images`);
      tables.push(await prepareTable(size, options));
    }
    // Every size is up at once, so the pages are timed side by side: in rounds, one page of each
    // filter at each size per round, after warm-up rounds. The machine's noise, and the JIT
    // warming up in this process and in the emulators, fall on every size and filter alike.
    options.log(`listing: timing pages in ${options.pageRuns} rounds`);
    const times = tables.map((table) => table.filters.map((): number[] => []));
    for (let round = -WARM_ROUNDS; round < options.pageRuns; round++) {
      for (const [t, table] of tables.entries()) {
        for (const [f, [, filter]] of table.filters.entries()) {
          const started = performance.now();
          await table.store.list({ ...filter, limit: PAGE });
          if (round >= 0) times[t]![f]!.push(performance.now() - started);
        }
      }
    }
    for (const [t, table] of tables.entries()) {
      for (const [f, result] of table.result.combinations.entries()) {
        const runs = times[t]![f]!;
        result.pageMs = { median: median(runs), p90: quantile(runs, 0.9), runs: runs.length };
      }
    }
    options.log("listing: the Scan baseline");
    for (const table of tables) {
      for (const [f, [, filter]] of table.filters.entries()) {
        await scanCombination(table, table.result.combinations[f]!, filter, options);
      }
    }
    // Last, so these extra images change nothing measured above.
    if (options.createSample > 0) await timeCreate(tables[0]!, options.createSample);
  } finally {
    for (const table of tables) await table.stop();
  }
  const sizes = tables.map((table) => table.result);
  return [readEfficiency(sizes, options), growth(sizes, options)];
}

function readEfficiency(sizes: SizeResult[], options: ListingOptions): SectionResult {
  const at = sizes.find((size) => size.images === options.efficiencySize) ?? sizes.at(-1)!;
  const checks: TargetCheck[] = [];
  const rows = at.combinations.map((c) => {
    const page1 = c.page1.read / c.page1.returned;
    const walked = c.walk.read / c.walk.returned;
    const worst = Math.max(page1, c.walk.worstPage);
    const sharded = shardedFilter(c.name) && at.shards > 1;
    const target = sharded ? shardedReadTarget(at.shards) : READ_TARGET;
    checks.push({
      section: "2. Read efficiency",
      what: `${c.name}: items read per item returned (worst page of ${c.walk.pages}${sharded ? `, ${at.shards} shards` : ""})`,
      value: worst.toFixed(3),
      target: `≤ ${+target.toFixed(3)}${sharded ? " (1 + S/20)" : ""}`,
      met: worst <= target,
    });
    const scan = c.scan ? `${count(c.scan.read)} (${(c.scan.read / PAGE).toFixed(0)})` : "not run";
    const first = c.scanFirstMatches
      ? `${count(c.scanFirstMatches.read)} (${(c.scanFirstMatches.read / Math.max(1, c.scanFirstMatches.returned)).toFixed(1)})`
      : "not run";
    return [
      c.name,
      count(c.matching),
      c.page1.returned,
      c.page1.read,
      c.page1.requests,
      page1.toFixed(3),
      `${c.walk.read} / ${c.walk.returned} = ${walked.toFixed(3)}`,
      scan,
      first,
      `≤ ${+target.toFixed(3)}: ${worst <= target ? "met" : "**missed**"}`,
    ];
  });
  const seedLines = sizes
    .map((s) => `${count(s.images)} images = ${count(s.items)} items in ${(s.seedMs / 1000).toFixed(1)} s`)
    .join("; ");
  const create = sizes.find((s) => s.createMsPerImage !== undefined);
  const createLine = create
    ? `Seeding one upload at a time through \`store.create\` (a real tiny PNG: sniff, decode, re-encode, ` +
      `thumbnail, two PutObjects, the rate-limit write, the transaction) took ${ms(create.createMsPerImage!)} ms ` +
      `an image over ${create.createSample} images: ${((create.createMsPerImage! * 10_000) / 1000).toFixed(0)} s for 10,000 and ` +
      `${((create.createMsPerImage! * 100_000) / 60_000).toFixed(0)} min for 100,000. So the table is seeded with ` +
      `BatchWriteItem through the same ElectroDB entities (the image item and one item per tag, exactly what the ` +
      `upload's transaction writes; up to 12 batches of 100 items in flight, each sent as 4 requests of 25): ${seedLines}.`
    : `Seeded with BatchWriteItem through the service's ElectroDB entities: ${seedLines}.`;
  const markdown = [
    `${count(at.images)} images (${count(at.items)} items: each image and one item per tag), from 100 users over ` +
      `${SPAN_MONTHS} months; the filters use the busiest user (20% of images), the most common tag (40%) and the ` +
      `middle 12 months. The all-images and tag listings are spread over LISTING_SHARDS = ${at.shards} write shards ` +
      `(the default), whose pages query every shard: their target is 1 + S/20 items read per item returned (the page ` +
      `and one look-ahead per shard), the owner's listings' (one partition) ${READ_TARGET}. "Read" is DynamoDB's ScannedCount summed over every request a page made (a middleware on ` +
      `the store's document client), and the items a sharded page then reads from the table by BatchGetItem (its ` +
      `index, gsi1, holds keys and the attributes a page is merged by: one item per item returned, counted here); the page is checked against an in-memory answer. The catalog item that bounds ` +
      `the month walk is cached for a minute per instance and is not in these counts (one GetItem a minute).`,
    "",
    table(
      [
        "filter",
        "matching images",
        "returned (page 1)",
        "read (page 1)",
        "requests (page 1)",
        "read / returned",
        `pages 1-${WALK_PAGES}: read / returned`,
        "Scan + filter, newest first: read (per returned)",
        "Scan stopped at 20 matches, unordered, pages of 100: read (per returned)",
        "target",
      ],
      rows,
    ),
    "",
    createLine,
  ].join("\n");
  return { title: "2. Read efficiency", markdown, checks, data: at };
}

function growth(sizes: SizeResult[], options: ListingOptions): SectionResult {
  const smallest = sizes[0]!;
  const largest = sizes.at(-1)!;
  const names = smallest.combinations.map((c) => c.name);
  const checks: TargetCheck[] = [];
  const rows = names.map((name) => {
    const of = (size: SizeResult) => size.combinations.find((c) => c.name === name)!;
    const growthRatio = of(largest).pageMs.median / of(smallest).pageMs.median;
    const evaluated = largest.images >= 100_000;
    checks.push({
      section: "3. Growth",
      what: `${name}: page time at ${count(largest.images)} / at ${count(smallest.images)}`,
      value: ratio(growthRatio),
      target: evaluated
        ? `≤ ${GROWTH_TARGET}× (at 100,000)`
        : `≤ ${GROWTH_TARGET}× at 100,000 (not run here: judged at ${count(largest.images)})`,
      met: growthRatio <= GROWTH_TARGET,
    });
    const scanCell = (size: SizeResult) => {
      const scan = of(size).scan;
      return scan ? ms(scan.ms, 0) : "not run";
    };
    return [
      name,
      ...sizes.map((size) => `${ms(of(size).pageMs.median)} (p90 ${ms(of(size).pageMs.p90)})`),
      ratio(growthRatio),
      ...sizes.map(scanCell),
      ...sizes.slice(1).map((size) => {
        const scan = of(size).scan;
        return scan ? `${(scan.ms / of(size).pageMs.median).toFixed(0)}×` : "n/a";
      }),
      growthRatio <= GROWTH_TARGET ? "met" : "**missed**",
    ];
  });
  const markdown = [
    `Median time of the first 20-item page through \`store.list\`: every size seeded and up at once, then ` +
      `${options.pageRuns} rounds (after ${WARM_ROUNDS} warm-up rounds) each listing one page of every filter at every ` +
      `size, so the sizes are compared side by side (SDK → loopback HTTP → each size's emulators in a process of ` +
      `their own); and of the Scan baseline (whole table, ` +
      `filter, sort, first 20; at 100,000 only for two filters, since it reads the whole table whatever the filter). ` +
      `Milliseconds.`,
    "",
    table(
      [
        "filter",
        ...sizes.map((size) => `page at ${count(size.images)}`),
        `${count(largest.images)} / ${count(smallest.images)}`,
        ...sizes.map((size) => `Scan at ${count(size.images)}`),
        ...sizes.slice(1).map((size) => `Scan / page at ${count(size.images)}`),
        `target ≤ ${GROWTH_TARGET}×`,
      ],
      rows,
    ),
  ].join("\n");
  return {
    title: "3. Growth",
    markdown,
    checks,
    data: sizes.map(({ combinations: c, ...rest }) => ({ ...rest, combinations: c })),
  };
}
