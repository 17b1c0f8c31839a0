/**
 * Section 7: a capacity model of the key design. No timing: pure computation over a synthetic
 * workload, so the same code gives the same figures on any machine.
 *
 * Every write and read is the one the service makes: the items and keys come from the params
 * the real ElectroDB entities build (the upload's transaction, the large upload's start and
 * finish, an edit, a delete), and every listing runs through the service's own `createListing`
 * against an in-memory index of those items, so the shards a page queries and the items each
 * Query reads are the service's. From them: the write and read units a second on the hottest
 * partition key of the table and of each index, the highest sustained upload rate and list-page
 * rate before any partition passes DynamoDB's 1,000 WCU or 3,000 RCU a second, and the same for
 * S3 key prefixes (3,500 writes, 5,500 reads a second each), for one shard on the flat key
 * layout (the design before write sharding and the keys' hash level: one partition per month
 * and per tag, `images/<id>`), and the default LISTING_SHARDS and 32 on today's keys
 * (`images/<hh>/<id>`, object-store.ts).
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { loadConfig } from "@images/core";
import { createDb, type Db } from "@images/core/db/service";
import { GLOBAL_INDEXES, TABLE, type IndexProjection } from "@images/core/db/table";
import { createListing } from "@images/core/image/listing";
import { shardOf } from "@images/core/image/listing-shards";
import { listingFields, type ImageRecord } from "@images/core/image/records";
import { flatObjectKeys, keyHash, objectKeys } from "@images/core/storage/object-store";
import { ulid } from "ulid";
import { count, random, table, type SectionResult, type TargetCheck } from "./support.ts";

type Item = Record<string, unknown>;

const PARTITION_WCU = 1_000;
const PARTITION_RCU = 3_000;
const PREFIX_WRITES = 3_500;
const PREFIX_READS = 5_500;
const PAGE = 20;

/** The workload: sizes of the synthetic month, and the mix of operations. */
const WORKLOAD = {
  uploads: 10_000,
  owners: 50_000,
  ownerZipf: 1.0,
  tags: 20_000,
  tagZipf: 0.8,
  /** One tag every tenth upload carries. */
  viralShare: 0.1,
  /** Of uploads: the rest are direct. */
  largeShare: 0.2,
  /** Per upload. */
  edits: 0.1,
  deletes: 0.05,
  pages: 2_000,
  /** Of list pages; the rest is spread over the other filters (see PAGE_MIX). */
  getsPerPage: 2,
  /** Of gets, how many download the original from S3 (renditions come from the CDN). */
  downloadShare: 0.3,
  /** Of listed thumbnails, how many miss the CDN and reach S3. */
  cdnMissShare: 0.05,
  /** Of tag pages, how many ask for the viral tag. */
  viralPageShare: 0.3,
};

/** Which filters a list page uses, and how often; a tenth of pages are second pages. */
const PAGE_MIX: [string, number][] = [
  ["none", 0.3],
  ["tag", 0.3],
  ["user", 0.15],
  ["user+tag", 0.05],
  ["range", 0.05],
  ["tag+range", 0.05],
  ["user+range", 0.05],
  ["user+tag+range", 0.05],
];

/** Ranks 0..n-1 drawn with probability proportional to 1/(rank+1)^s. */
function zipf(n: number, s: number, next: () => number) {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let k = 0; k < n; k++) cdf[k] = total += 1 / (k + 1) ** s;
  return () => {
    const target = next() * total;
    let low = 0;
    let high = n - 1;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (cdf[mid]! < target) low = mid + 1;
      else high = mid;
    }
    return low;
  };
}

/** DynamoDB's item size: attribute names and values in UTF-8, numbers by their digits, list and map overheads. */
function valueBytes(value: unknown): number {
  if (typeof value === "string") return Buffer.byteLength(value);
  if (typeof value === "number") {
    const digits = String(Math.abs(value))
      .replace(/[.-]|e.*$/g, "")
      .replace(/^0+/, "").length;
    return Math.ceil(digits / 2) + 1;
  }
  if (typeof value === "boolean" || value === null || value === undefined) return 1;
  if (value instanceof Set) return [...value].reduce((sum: number, element) => sum + valueBytes(element), 0);
  if (Array.isArray(value)) return 3 + value.reduce((sum: number, element) => sum + 1 + valueBytes(element), 0);
  return (
    3 +
    Object.entries(value as Item).reduce(
      (sum, [name, element]) => sum + 1 + Buffer.byteLength(name) + valueBytes(element),
      0,
    )
  );
}
export const itemBytes = (item: Item) =>
  Object.entries(item).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + valueBytes(value), 0);
const writeUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));

const INDEXES = Object.entries(TABLE.globalIndexes) as [string, { partitionKey: string; sortKey: string }][];
const baseKey = (item: Item) => `${String(item[TABLE.partitionKey])}|${String(item[TABLE.sortKey])}`;

/** Each index's projection: the table's (`TABLE`), or ALL everywhere as before gsi1 held keys only. */
type Projections = Record<string, IndexProjection>;
const TODAY: Projections = Object.fromEntries(
  Object.entries(GLOBAL_INDEXES).map(([name, index]) => [name, index.projection]),
);
const ALL_PROJECTED: Projections = Object.fromEntries(INDEXES.map(([name]) => [name, "all"]));
const INDEX_KEYS = Object.fromEntries(INDEXES) as Record<string, { partitionKey: string; sortKey: string }>;

/** What an index holds of an item: all of it, or the table's and the index's keys and the attributes named. */
function entryOf(item: Item, index: string, projection: IndexProjection): Item {
  if (projection === "all") return item;
  const { partitionKey, sortKey } = INDEX_KEYS[index]!;
  const fields = [TABLE.partitionKey, TABLE.sortKey, partitionKey, sortKey, ...projection];
  return Object.fromEntries(fields.filter((field) => item[field] !== undefined).map((field) => [field, item[field]]));
}
const entryBytes = (item: Item, index: string, projection: IndexProjection) =>
  itemBytes(entryOf(item, index, projection));

/** Adds up units per partition key ("table $images#imageId_…", "gsi1 $images#tag_x#shard_3"). */
class Meter {
  readonly units = new Map<string, number>();
  add(partition: string, units: number) {
    this.units.set(partition, (this.units.get(partition) ?? 0) + units);
  }
}

/**
 * The table as the model's writes leave it, and the write units each one costs: the item's own
 * partition (doubled inside a transaction, as DynamoDB charges it) and one write per index the
 * item is in before or after, at the size of the item the index holds.
 */
class ModelTable {
  readonly items = new Map<string, Item>();
  constructor(
    readonly meter: Meter,
    readonly projections: Projections,
  ) {}

  private charge(before: Item | undefined, after: Item | undefined, transactional: boolean) {
    const item = (after ?? before)!;
    const size = Math.max(before ? itemBytes(before) : 0, after ? itemBytes(after) : 0);
    this.meter.add(`table ${String(item[TABLE.partitionKey])}`, writeUnits(size) * (transactional ? 2 : 1));
    for (const [name, keys] of INDEXES) {
      const keyOf = (version: Item | undefined) =>
        version?.[keys.partitionKey] === undefined
          ? undefined
          : `${String(version[keys.partitionKey])}|${String(version[keys.sortKey])}`;
      const projection = this.projections[name]!;
      // An index entry whose keys stay is rewritten once, if anything it holds changed (under ALL,
      // any write); one whose keys change is removed and added.
      if (keyOf(before) !== undefined && keyOf(before) === keyOf(after)) {
        const [was, is] = [entryOf(before!, name, projection), entryOf(after!, name, projection)];
        if (projection === "all" || JSON.stringify(was) !== JSON.stringify(is)) {
          this.meter.add(
            `${name} ${String(item[keys.partitionKey])}`,
            writeUnits(Math.max(itemBytes(was), itemBytes(is))),
          );
        }
        continue;
      }
      for (const version of [before, after]) {
        if (keyOf(version) === undefined) continue;
        this.meter.add(
          `${name} ${String(version![keys.partitionKey])}`,
          writeUnits(entryBytes(version!, name, projection)),
        );
      }
    }
  }

  put(item: Item, transactional = false) {
    const key = baseKey(item);
    this.charge(this.items.get(key), item, transactional);
    this.items.set(key, item);
  }

  remove(key: Item, transactional = false) {
    const id = baseKey(key);
    const before = this.items.get(id);
    if (before) this.charge(before, undefined, transactional);
    this.items.delete(id);
  }

  /** A TransactWriteItems as ElectroDB builds it: Puts carry their item; Updates and Deletes name a key. */
  transact(params: { TransactItems: Record<string, { Item?: Item; Key?: Item }>[] }, after: Map<string, Item>) {
    for (const action of params.TransactItems) {
      const [kind, body] = Object.entries(action)[0]!;
      if (kind === "Put") this.put(body.Item!, true);
      if (kind === "Delete") this.remove(body.Key!, true);
      if (kind === "Update") this.put(after.get(baseKey(body.Key!))!, true);
    }
  }

  /** One Update outside a transaction on an item whose stored form after it is `item`. */
  update(item: Item) {
    this.put(item, false);
  }
}

/** The bucket's layouts: flat (`images/<id>`, before the hash level) and today's (`images/<hh>/<id>`). */
type Layout = "flat" | "hashed";
const KEYS: Record<Layout, typeof flatObjectKeys> = { flat: flatObjectKeys, hashed: objectKeys };
/** A key part that begins with an image id: a ULID, so time-ordered. */
const TIME_ORDERED = /^img_[0-9A-HJKMNP-TV-Z]{26}/;
/** The hash level's values: two hex digits today. */
const HASH_LEVELS = 16 ** keyHash("img").length;
const HASH_LEVEL = /^([^/]+\/)[0-9a-f]+\/$/;

/**
 * S3 requests per key prefix. S3 partitions a bucket by key ranges and splits a busy one on its
 * keys' leading bytes; keys alike up to a time-ordered part (an image id is a ULID) all fall
 * into one range at any moment, which no split relieves. So a prefix here is the key up to the
 * first part that is time-ordered: `images/` and `renditions/` in the flat layout, `images/3f/`
 * behind the hash level (the key up to its last "/", as this model took before, would make
 * `renditions/<id>/` a prefix of its own, which it is not).
 */
class PrefixMeter {
  readonly writes = new Map<string, number>();
  /** Reads made by uploads (finishing reads the posted file), apart from those of pages. */
  readonly uploadReads = new Map<string, number>();
  readonly reads = new Map<string, number>();
  static prefix(key: string) {
    const parts = key.split("/");
    const first = parts.findIndex((part) => TIME_ORDERED.test(part));
    return `${parts.slice(0, first === -1 ? parts.length - 1 : first).join("/")}/`;
  }
  /** The prefixes a hash level spreads one folder over, as one row: `images/{00..ff}/`. */
  static group(prefix: string) {
    const folder = HASH_LEVEL.exec(prefix)?.[1];
    return folder
      ? { name: `${folder}{00..${(HASH_LEVELS - 1).toString(16)}}/`, levels: HASH_LEVELS }
      : { name: prefix, levels: 1 };
  }
  write(key: string, times = 1) {
    const prefix = PrefixMeter.prefix(key);
    this.writes.set(prefix, (this.writes.get(prefix) ?? 0) + times);
  }
  read(key: string, times = 1, byUpload = false) {
    const prefix = PrefixMeter.prefix(key);
    const reads = byUpload ? this.uploadReads : this.reads;
    reads.set(prefix, (reads.get(prefix) ?? 0) + times);
  }
}

const RENDITION_WIDTHS = [320, 640, 1080, 2048];

/** A plausible stored image: the fields an upload stores, at sizes uploads have. */
function makeRecord(
  next: () => number,
  time: number,
  userId: string,
  tags: string[],
  shards: number,
  large: boolean,
  layout: Layout,
): ImageRecord {
  const keys = KEYS[layout];
  const imageId = `img_${ulid(time, next)}`;
  const version = large ? ulid(time, next).slice(-10).toLowerCase() : undefined;
  const uploadTime = new Date(time).toISOString();
  const words = (n: number) => "lorem ipsum dolor sit amet consectetur".repeat(8).slice(0, n);
  const width = 4032;
  const height = 3024;
  return {
    imageId,
    userId,
    uploadTime,
    month: uploadTime.slice(0, 7),
    shard: shardOf(imageId, shards),
    title: words(10 + Math.floor(next() * 40)),
    description: next() < 0.5 ? words(40 + Math.floor(next() * 160)) : undefined,
    tags,
    contentType: "image/jpeg",
    sizeBytes: 2_000_000 + Math.floor(next() * 4_000_000),
    width,
    height,
    sha256: "9f".repeat(32),
    objectKey: keys.original(imageId, "jpg", version),
    thumbnailKey: keys.rendition(imageId, RENDITION_WIDTHS[0]!, version),
    renditions: RENDITION_WIDTHS.map((w) => ({
      width: w,
      height: Math.round((w * height) / width),
      key: keys.rendition(imageId, w, version),
      sizeBytes: Math.round(w * w * 0.18),
    })),
    placeholder: "3OcRJYB4d3h/iIeHeEh3eIhw+j3A",
    revision: 1,
  };
}

/** An owner id as Cognito makes them (a UUID), one per rank. */
const ownerId = (rank: number) => `${rank.toString(16).padStart(8, "0")}-4c1b-4a6f-9e5d-7c8b9a01f2e3`;
const tagName = (rank: number) => `tag${rank}`;
const VIRAL = "viral";

export interface DesignResult {
  shards: number;
  layout: Layout;
  /** Whether the indexes project as `TABLE` says (today), or every one ALL (the design before). */
  today: boolean;
  /** Of `readPerReturned`: the items a page reads from the table after its Queries (gsi1 not ALL). */
  hydratedPerReturned: number;
  /** Read units a list page costs in all, over every partition (its gets included). */
  readUnitsPerPage: number;
  /** Bytes of an image's and of a tag item's entry in the listing index (gsi1). */
  listingEntryBytes: { image: number; tag: number };
  itemBytes: { image: number; tag: number; imageWcu: number; tagWcu: number };
  /** Per index: the hottest partition, its write units per upload (uploads/s = 1,000 / it). */
  writes: { index: string; partition: string; perUpload: number; ceiling: number; note?: string }[];
  reads: { index: string; partition: string; perPage: number; ceiling: number }[];
  uploadCeiling: number;
  oneTagCeiling: number;
  pageCeiling: number;
  readPerReturned: number;
  firstPageReadPerReturned: number;
  /** Per prefix (a folder's hash levels as one row, `levels` of them): writes on one level. */
  s3: {
    prefix: string;
    levels: number;
    writesPerUpload: number;
    uploadCeiling: number;
    readsPerPage: number;
    pageCeiling: number;
  }[];
  s3UploadCeiling: number;
  s3PageCeiling: number;
  hashSpread: number;
  /** S3 writes on the busiest hash level of a folder over the mean, in the sample (hashed layout). */
  keySpread: number;
}

/** A document client that is never sent anything: the entities only build params here. */
function paramsOnlyDb(): Db {
  const client = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      region: "us-east-1",
      credentials: { accessKeyId: "model", secretAccessKey: "model" },
      // Nothing listens here: a request sent by mistake fails on this machine, never reaches AWS.
      endpoint: "http://127.0.0.1:9",
      maxAttempts: 1,
    }),
  );
  return createDb(client, "images");
}

/**
 * Answers the listing's Queries and its BatchGetItem of a page's images from the model's table,
 * counting what each reads per partition: an index entry by its projection; an item of the
 * batch get (eventually consistent) half a unit up to 4 KB, on its own partition.
 */
function queryEngine(model: ModelTable, meter: Meter, counter: { read: number; fetched: number }) {
  const bytesOf = (index: string, item: Item) => entryBytes(item, index, model.projections[index]!);
  const indexes = new Map<string, Map<string, Item[]>>();
  for (const [name, keys] of INDEXES) {
    const partitions = new Map<string, Item[]>();
    for (const item of model.items.values()) {
      const pk = item[keys.partitionKey];
      if (pk === undefined) continue;
      const list = partitions.get(String(pk)) ?? [];
      list.push(item);
      partitions.set(String(pk), list);
    }
    for (const list of partitions.values()) {
      list.sort((a, b) => (String(a[keys.sortKey]) < String(b[keys.sortKey]) ? -1 : 1));
    }
    indexes.set(name, partitions);
  }
  return {
    async send(command: { input: Record<string, unknown> }) {
      if ("RequestItems" in command.input) {
        const requests = command.input.RequestItems as Record<string, { Keys: Item[] }>;
        const Responses = Object.fromEntries(
          Object.entries(requests).map(([name, { Keys }]) => [
            name,
            Keys.flatMap((key) => model.items.get(baseKey(key)) ?? []),
          ]),
        );
        // The design before read a page's items from gsi1 itself and sent no batch get: the
        // listing's own is answered, but charged only where gsi1 holds less than the items.
        const charged = model.projections.gsi1 !== "all";
        for (const item of charged ? (Object.values(Responses).flat() as Item[]) : []) {
          meter.add(`table ${String(item[TABLE.partitionKey])}`, Math.ceil(itemBytes(item) / 4096) / 2);
          counter.fetched += 1;
        }
        return { Responses, UnprocessedKeys: {} };
      }
      const input = command.input as {
        IndexName: string;
        KeyConditionExpression: string;
        ExpressionAttributeValues: Record<string, string>;
        ScanIndexForward?: boolean;
        Limit?: number;
        ExclusiveStartKey?: Item;
      };
      const keys = TABLE.globalIndexes[input.IndexName as keyof typeof TABLE.globalIndexes];
      const values = input.ExpressionAttributeValues;
      const pk = values[":pk"]!;
      const condition = input.KeyConditionExpression.replace(/^#pk = :pk( and )?/, "");
      const inRange = (sk: string) => {
        if (condition === "") return true;
        let match = /^#sk1 between :sk1 and :sk2$/i.exec(condition);
        if (match) return sk >= values[":sk1"]! && sk <= values[":sk2"]!;
        match = /^begins_with\(#sk1, :sk1\)$/i.exec(condition);
        if (match) return sk.startsWith(values[":sk1"]!);
        match = /^#sk1 (<|<=|>|>=) :sk1$/.exec(condition);
        if (!match) throw new Error(`the model does not know the key condition ${condition}`);
        const bound = values[":sk1"]!;
        return { "<": sk < bound, "<=": sk <= bound, ">": sk > bound, ">=": sk >= bound }[match[1] as "<"];
      };
      if (input.ScanIndexForward !== false) throw new Error("the listing reads newest first");
      // Newest first from the start key (or the end), within the key condition, up to the limit.
      const partition = indexes.get(input.IndexName)?.get(pk) ?? [];
      const start = input.ExclusiveStartKey ? String(input.ExclusiveStartKey[keys.sortKey]) : undefined;
      let low = 0;
      let high = partition.length;
      if (start !== undefined) {
        while (low < high) {
          const mid = (low + high) >> 1;
          if (String(partition[mid]![keys.sortKey]) < start) low = mid + 1;
          else high = mid;
        }
      } else low = partition.length;
      const limit = input.Limit ?? partition.length;
      const items: Item[] = [];
      let position = low - 1;
      for (; position >= 0 && items.length < limit; position--) {
        const item = partition[position]!;
        const sk = String(item[keys.sortKey]);
        if (inRange(sk)) items.push(item);
        else if (items.length > 0 || sk < (values[":sk1"] ?? "")) break;
      }
      let more = false;
      for (let rest = position; rest >= 0; rest--) {
        if (inRange(String(partition[rest]![keys.sortKey]))) {
          more = true;
          break;
        }
        if (String(partition[rest]![keys.sortKey]) < (values[":sk1"] ?? "")) break;
      }
      const bytes = items.reduce((sum, item) => sum + bytesOf(input.IndexName, item), 0);
      // Eventually consistent (every index read is): half a unit per 4 KB, rounded up per Query.
      meter.add(`${input.IndexName} ${pk}`, Math.max(1, Math.ceil(bytes / 4096)) / 2);
      counter.read += items.length;
      const last = items.at(-1);
      return {
        Items: items,
        ScannedCount: items.length,
        LastEvaluatedKey:
          (more || items.length === limit) && last
            ? Object.fromEntries(
                [TABLE.partitionKey, TABLE.sortKey, keys.partitionKey, keys.sortKey].map((field) => [
                  field,
                  last[field],
                ]),
              )
            : undefined,
      };
    },
  };
}

async function modelDesign(shards: number, layout: Layout, today: boolean): Promise<DesignResult> {
  const projections = today ? TODAY : ALL_PROJECTED;
  const keys = KEYS[layout];
  const db = paramsOnlyDb();
  const { image, imageTag, upload, rateWindow, imageDeletion, stagedObjects } = db.entities;
  const next = random(16);
  const owner = zipf(WORKLOAD.owners, WORKLOAD.ownerZipf, next);
  const tag = zipf(WORKLOAD.tags, WORKLOAD.tagZipf, next);
  const writes = new Meter();
  const model = new ModelTable(writes, projections);
  const s3 = new PrefixMeter();
  const ownerUploads = new Map<string, number>();
  const monthStart = Date.UTC(2026, 11, 1);
  const month = 30 * 86_400_000;
  const records: ImageRecord[] = [];
  const storedCache = new WeakMap<ImageRecord, Item[]>();
  const stored = (record: ImageRecord) => {
    const items = storedCache.get(record) ?? [
      image.create(record).params().Item as Item,
      ...record.tags.map((t) => imageTag.create({ ...listingFields(record), tag: t }).params().Item as Item),
    ];
    storedCache.set(record, items);
    return items;
  };

  for (let i = 0; i < WORKLOAD.uploads; i++) {
    const userId = ownerId(owner());
    ownerUploads.set(userId, (ownerUploads.get(userId) ?? 0) + 1);
    const tags = new Set<string>();
    const wanted = 1 + Math.floor(next() * 4);
    if (next() < WORKLOAD.viralShare) tags.add(VIRAL);
    while (tags.size < wanted) tags.add(tagName(tag()));
    const time = monthStart + Math.floor((i / WORKLOAD.uploads) * month);
    const large = next() < WORKLOAD.largeShare;
    const record = makeRecord(next, time, userId, [...tags], shards, large, layout);
    records.push(record);

    // The per-user limit: one conditional update of the owner's minute.
    const window = Math.floor(time / 60_000);
    const slot = rateWindow
      .update({ userId, window })
      .add({ count: 1 })
      .set({ expiresAt: (window + 2) * 60 })
      .params() as { Key: Item };
    model.update({ ...slot.Key, userId, window, count: 1, expiresAt: (window + 2) * 60 });

    // The run names its objects before it writes them; its commit removes that record.
    const run = large ? "finishing" : "direct";
    const staged = stagedObjects
      .put({
        imageId: record.imageId,
        run,
        objectKeys: [record.objectKey, ...record.renditions!.map((rendition) => rendition.key)],
        expiresAt: Math.floor(time / 1000) + 86_400,
      })
      .params() as { Item: Item };
    const commit = db.transaction.write(
      ({ image: images, imageTag: tagItems, upload: uploads, stagedObjects: runs }) => [
        ...(large ? [uploads.delete({ imageId: record.imageId }).commit()] : []),
        images.create(record).commit(),
        ...record.tags.map((t) => tagItems.create({ ...listingFields(record), tag: t }).commit()),
        runs.delete({ imageId: record.imageId, run }).commit(),
      ],
    );
    if (large) {
      // Start: the pending upload's item, and the presigned POST of the file under uploads/.
      const pending = upload
        .create({
          imageId: record.imageId,
          userId,
          uploadTime: record.uploadTime,
          title: record.title,
          description: record.description,
          tags: record.tags,
          contentType: record.contentType,
          declaredBytes: record.sizeBytes,
          objectKey: keys.pendingUpload(record.imageId),
          state: "pending",
          staleAt: Math.floor(time / 1000) + 4200,
          expiresAt: Math.floor(time / 1000) + 90_600,
        })
        .params() as { Item: Item };
      model.put(pending.Item);
      s3.write(keys.pendingUpload(record.imageId));
      // Finish: HEAD and GET of the posted file, the image and renditions put, the posted file deleted.
      s3.read(keys.pendingUpload(record.imageId), 2, true);
      s3.write(keys.pendingUpload(record.imageId));
    }
    model.put(staged.Item);
    model.transact(commit.params() as never, new Map());
    s3.write(record.objectKey);
    for (const rendition of record.renditions!) s3.write(rendition.key);

    // Edits and deletes of images uploaded a little earlier.
    if (next() < WORKLOAD.edits && records.length > 1) {
      const current = records[Math.floor(next() * (records.length - 1))]!;
      const edited = { ...current, title: `${current.title} (edited)`, revision: current.revision + 1 };
      const params = db.transaction
        .write(({ image: images, imageTag: tagItems }) => [
          images
            .patch({ imageId: current.imageId })
            .set({ title: edited.title, revision: edited.revision })
            .where((attr, op) => op.eq(attr.revision, current.revision))
            .commit(),
          ...edited.tags.map((t) => tagItems.put({ ...listingFields(edited), tag: t }).commit()),
        ])
        .params();
      const after = new Map(stored(edited).map((item) => [baseKey(item), item]));
      if (model.items.has(baseKey(stored(current)[0]!))) {
        model.transact(params as never, after);
        records[records.indexOf(current)] = edited;
      }
    }
    if (next() < WORKLOAD.deletes && records.length > 1) {
      const index = Math.floor(next() * (records.length - 1));
      const gone = records[index]!;
      if (model.items.has(baseKey(stored(gone)[0]!))) {
        const keys = [gone.objectKey, ...gone.renditions!.map((rendition) => rendition.key)];
        const params = db.transaction
          .write(({ image: images, imageTag: tagItems, imageDeletion: deletions }) => [
            images.delete({ imageId: gone.imageId }).commit(),
            ...gone.tags.map((t) => tagItems.delete({ imageId: gone.imageId, tag: t }).commit()),
            deletions.put({ imageId: gone.imageId, userId: gone.userId, objectKeys: keys }).commit(),
          ])
          .params();
        model.transact(params as never, new Map());
        model.remove(imageDeletion.delete({ imageId: gone.imageId }).params().Key as Item);
        for (const key of keys) s3.write(key);
        records.splice(index, 1);
      }
    }
  }

  const perUpload = (units: number) => units / WORKLOAD.uploads;
  const sample = records.find((record) => record.tags.length > 0 && record.description)!;
  const [imageItem, tagItem] = stored(sample);
  const sizes = { image: itemBytes(imageItem!), tag: itemBytes(tagItem!) };

  // Hash sharding spreads a partition's items evenly over its shards in the long run: the hottest
  // shard is taken as its partition's share over S (the sample's own spread is shown beside).
  const logical = new Map<string, { units: number; shards: Map<string, number> }>();
  for (const [partition, units] of writes.units) {
    const name = partition.replace(/#shard_\d+$/, "");
    const entry = logical.get(name) ?? { units: 0, shards: new Map() };
    entry.units += units;
    entry.shards.set(partition, units);
    logical.set(name, entry);
  }
  let spread = 1;
  const largest = Math.max(...[...logical.values()].map((entry) => entry.units));
  const hottest = new Map<string, { partition: string; perUpload: number; effective: number; note?: string }>();
  const ownerCap = loadConfig({ TABLE_NAME: "t", BUCKET_NAME: "b" }).uploadRateLimitPerMinute / 60;
  for (const [name, entry] of logical) {
    const index = name.slice(0, name.indexOf(" "));
    const sharded = /#shard_\d+$/.test([...entry.shards.keys()][0]!);
    const partitions = sharded ? shards : 1;
    if (sharded && entry.shards.size > 1 && entry.units === largest) {
      spread = Math.max(...entry.shards.values()) / (entry.units / entry.shards.size);
    }
    const load = perUpload(entry.units) / partitions;
    let effective = load;
    let note: string | undefined;
    const owner = /userId_([^#]+)/.exec(name)?.[1];
    if (owner) {
      // An owner uploads at most UPLOAD_RATE_LIMIT_PER_MINUTE a minute, whatever the total rate.
      const most = (entry.units / (ownerUploads.get(owner) ?? 1)) * ownerCap;
      note = `one owner: at most ${ownerCap} upload/s, ${most.toFixed(1)} WCU/s`;
      if (most <= PARTITION_WCU) effective = 0;
    }
    const label = !sharded ? name : shards === 1 ? `${name}#shard_0` : `${name}#shard_{0..${shards - 1}}`;
    const shown = hottest.get(index);
    if (!shown || effective > shown.effective || (effective === shown.effective && load > shown.perUpload)) {
      hottest.set(index, { partition: label, perUpload: load, effective, note: effective === 0 ? note : undefined });
    }
  }
  const uploadCeiling = Math.min(
    ...[...hottest.values()].map((row) => (row.effective > 0 ? PARTITION_WCU / row.effective : Infinity)),
  );

  // Into one tag: every upload carries it, the tag's partition is its S shards.
  const tagEntry = entryBytes(tagItem!, "gsi1", projections.gsi1!);
  const oneTagCeiling = (PARTITION_WCU * shards) / writeUnits(tagEntry);

  // Reads: list pages through the service's own listing, and gets of one image each.
  const readMeter = new Meter();
  const counter = { read: 0, fetched: 0 };
  const engine = queryEngine(model, readMeter, counter);
  const list = createListing({
    // Its batch gets as its Queries: answered by the model.
    db: createDb(engine as unknown as DynamoDBDocumentClient, "images"),
    dynamo: engine as unknown as DynamoDBDocumentClient,
    cursorSecret: "capacity-model-cursor-secret-0123456789",
    now: () => new Date(monthStart + month),
    shards,
    catalog: async () => ({ earliestMonth: "2026-12", shardsByMonth: new Map([["2026-12", shards]]) }),
  });
  const pageNext = random(61);
  const pageOwner = zipf(WORKLOAD.owners, WORKLOAD.ownerZipf, pageNext);
  const pageTag = zipf(WORKLOAD.tags, WORKLOAD.tagZipf, pageNext);
  const liveImages = records.map((record) => record.imageId);
  const getImage = zipf(liveImages.length, 1.0, pageNext);
  const firstTagOf = new Map<string, string>();
  for (const record of records) if (!firstTagOf.has(record.userId)) firstTagOf.set(record.userId, record.tags[0]!);
  const mixTotal = PAGE_MIX.reduce((sum, [, weight]) => sum + weight, 0);
  let returned = 0;
  let firstRead = 0;
  let firstReturned = 0;
  for (let i = 0; i < WORKLOAD.pages; i++) {
    let pick = pageNext() * mixTotal;
    const [name] = PAGE_MIX.find(([, weight]) => (pick -= weight) < 0) ?? PAGE_MIX[0]!;
    const filter: { userId?: string; tag?: string; from?: string; limit: number } = { limit: PAGE };
    if (name.includes("user")) filter.userId = ownerId(pageOwner());
    if (name.includes("tag")) {
      filter.tag = filter.userId || pageNext() >= WORKLOAD.viralPageShare ? tagName(pageTag()) : VIRAL;
      if (filter.userId) filter.tag = firstTagOf.get(filter.userId) ?? filter.tag;
    }
    if (name.includes("range")) filter.from = new Date(monthStart + month - 7 * 86_400_000).toISOString();
    const before = counter.read + counter.fetched;
    const first = await list(filter);
    returned += first.items.length;
    if (name === "none" || name === "tag") {
      firstRead += counter.read + counter.fetched - before;
      firstReturned += first.items.length;
    }
    if (first.nextCursor && pageNext() < 0.1) {
      const second = await list({ ...filter, cursor: first.nextCursor });
      returned += second.items.length;
    }
    for (let g = 0; g < WORKLOAD.getsPerPage; g++) {
      const id = liveImages[getImage()]!;
      const params = image.get({ imageId: id }).params({ consistent: true }) as { Key: Item };
      const item = model.items.get(baseKey(params.Key));
      // Strongly consistent: a unit per 4 KB.
      readMeter.add(
        `table ${String(params.Key[TABLE.partitionKey])}`,
        Math.max(1, Math.ceil((item ? itemBytes(item) : 1) / 4096)),
      );
      if (pageNext() < WORKLOAD.downloadShare && item) s3.read(String(item.objectKey));
    }
    for (const listed of first.items) {
      if (pageNext() < WORKLOAD.cdnMissShare && listed.thumbnailKey) s3.read(listed.thumbnailKey);
    }
  }
  const readRows = new Map<string, { partition: string; perPage: number }>();
  let pageCeiling = Infinity;
  for (const [partition, units] of readMeter.units) {
    const index = partition.slice(0, partition.indexOf(" "));
    const perPage = units / WORKLOAD.pages;
    pageCeiling = Math.min(pageCeiling, PARTITION_RCU / perPage);
    if ((readRows.get(index)?.perPage ?? 0) < perPage) readRows.set(index, { partition, perPage });
  }

  // Writes go to new keys, each on a level its id's hash picks: even in the long run, so the
  // busiest level takes its folder's share over the levels (the sample's own spread is shown
  // beside). Reads follow the images asked for (Zipf: one image takes a tenth of the gets), so
  // they are the sample's busiest level's.
  const groups = new Map<
    string,
    { levels: number; writes: number; uploadReads: number; reads: number[]; perLevel: number[] }
  >();
  for (const prefix of new Set([...s3.writes.keys(), ...s3.uploadReads.keys(), ...s3.reads.keys()])) {
    const { name, levels } = PrefixMeter.group(prefix);
    const group = groups.get(name) ?? { levels, writes: 0, uploadReads: 0, reads: [], perLevel: [] };
    group.writes += s3.writes.get(prefix) ?? 0;
    group.uploadReads += s3.uploadReads.get(prefix) ?? 0;
    group.reads.push(s3.reads.get(prefix) ?? 0);
    group.perLevel.push(s3.writes.get(prefix) ?? 0);
    groups.set(name, group);
  }
  // The sample's own spread, on the folder written most (as for the shards, on the busiest partition).
  const busiest = [...groups.values()].filter((group) => group.levels > 1).sort((a, b) => b.writes - a.writes)[0];
  const keySpread = busiest ? Math.max(...busiest.perLevel) / (busiest.writes / busiest.levels) : 1;
  const s3Rows = [...groups]
    .map(([prefix, group]) => {
      const writesPerUpload = group.writes / group.levels / WORKLOAD.uploads;
      const readsPerUpload = group.uploadReads / group.levels / WORKLOAD.uploads;
      const readsPerPage = Math.max(...group.reads) / WORKLOAD.pages;
      return {
        prefix,
        levels: group.levels,
        writesPerUpload,
        uploadCeiling: Math.min(
          writesPerUpload > 0 ? PREFIX_WRITES / writesPerUpload : Infinity,
          readsPerUpload > 0 ? PREFIX_READS / readsPerUpload : Infinity,
        ),
        readsPerPage,
        pageCeiling: readsPerPage > 0 ? PREFIX_READS / readsPerPage : Infinity,
      };
    })
    .sort((a, b) => Math.min(a.uploadCeiling, a.pageCeiling) - Math.min(b.uploadCeiling, b.pageCeiling));
  return {
    shards,
    layout,
    itemBytes: { ...sizes, imageWcu: writeUnits(sizes.image), tagWcu: writeUnits(sizes.tag) },
    writes: ["table", ...INDEXES.map(([name]) => name)].flatMap((index) => {
      const row = hottest.get(index);
      return row ? [{ index, ...row, ceiling: row.effective > 0 ? PARTITION_WCU / row.effective : Infinity }] : [];
    }),
    reads: ["table", ...INDEXES.map(([name]) => name)].flatMap((index) => {
      const row = readRows.get(index);
      return row ? [{ index, ...row, ceiling: PARTITION_RCU / row.perPage }] : [];
    }),
    uploadCeiling,
    oneTagCeiling,
    pageCeiling,
    today,
    listingEntryBytes: { image: entryBytes(imageItem!, "gsi1", projections.gsi1!), tag: tagEntry },
    hydratedPerReturned: counter.fetched / returned,
    readUnitsPerPage: [...readMeter.units.values()].reduce((sum, units) => sum + units, 0) / WORKLOAD.pages,
    readPerReturned: (counter.read + counter.fetched) / returned,
    firstPageReadPerReturned: firstRead / firstReturned,
    s3: s3Rows.slice(0, 3),
    s3UploadCeiling: Math.min(...s3Rows.map((row) => row.uploadCeiling)),
    s3PageCeiling: Math.min(...s3Rows.map((row) => row.pageCeiling)),
    hashSpread: spread,
    keySpread,
  };
}

const rate = (value: number) => (Number.isFinite(value) ? count(Math.floor(value)) : "no limit");

export interface CapacityOptions {
  /** LISTING_SHARDS as configured by default. */
  defaultShards: number;
  log(message: string): void;
}

export async function runCapacity(options: CapacityOptions): Promise<SectionResult> {
  // Before sharding: one partition, flat keys, every index ALL; then the default S with every
  // index ALL (as before gsi1 held keys and merge attributes only); then today's design.
  const before: [number, Layout, boolean][] = [
    [1, "flat", false],
    [options.defaultShards, "hashed", false],
  ];
  const today = [...new Set([options.defaultShards, 32])].map((shards): [number, Layout, boolean] => [
    shards,
    "hashed",
    true,
  ]);
  const designs: DesignResult[] = [];
  for (const [shards, layout, now] of [...before, ...today]) {
    options.log(`  capacity: modelling ${shards} shard${shards === 1 ? "" : "s"}${now ? "" : ", every index ALL"}`);
    designs.push(await modelDesign(shards, layout, now));
  }
  const name = (d: DesignResult) =>
    d.shards === 1
      ? "one partition (before sharding)"
      : `S = ${d.shards}${d.shards === options.defaultShards ? " (default)" : ""}${d.today ? "" : ", gsi1 ALL (before)"}`;
  const built = designs.filter((d) => d.today);
  const byDefault = built.find((d) => d.shards === options.defaultShards)!;
  const at32 = built.find((d) => d.shards === 32)!;
  const checks: TargetCheck[] = [
    {
      section: "7. Capacity",
      what: `uploads/s in all before a partition passes 1,000 WCU/s (S = ${byDefault.shards}, modelled)`,
      value: rate(byDefault.uploadCeiling),
      target: "≥ 4,000",
      met: byDefault.uploadCeiling >= 4_000,
    },
    {
      section: "7. Capacity",
      what: `uploads/s into one tag (S = ${byDefault.shards}, modelled)`,
      value: rate(byDefault.oneTagCeiling),
      target: "≥ 4,000",
      met: byDefault.oneTagCeiling >= 4_000,
    },
    {
      section: "7. Capacity",
      what: `20-item page: items read per item returned (S = ${byDefault.shards}, modelled, all-images and tag pages)`,
      value: byDefault.firstPageReadPerReturned.toFixed(3),
      target: "≤ 1.25",
      met: byDefault.firstPageReadPerReturned <= 1.25,
    },
    {
      section: "7. Capacity",
      what: "uploads/s before an S3 prefix passes 3,500 writes/s (today's keys, modelled)",
      value: rate(at32.s3UploadCeiling),
      target: "≥ 30,000",
      met: at32.s3UploadCeiling >= 30_000,
    },
    {
      section: "7. Capacity",
      what: "uploads/s in all with S = 32 (modelled)",
      value: rate(at32.uploadCeiling),
      target: "≥ 30,000",
      met: at32.uploadCeiling >= 30_000,
    },
  ];
  const header = ["", ...designs.map(name)];
  const row = (label: string, cell: (d: DesignResult) => string) => [label, ...designs.map(cell)];
  const summary = table(header, [
    row(
      "image item, tag item (bytes → WCU per index)",
      (d) => `${count(d.itemBytes.image)} → ${d.itemBytes.imageWcu}, ${count(d.itemBytes.tag)} → ${d.itemBytes.tagWcu}`,
    ),
    row("their entries in the listing index gsi1 (bytes → WCU)", (d) =>
      [d.listingEntryBytes.image, d.listingEntryBytes.tag].map((b) => `${count(b)} → ${writeUnits(b)}`).join(", "),
    ),
    row("**uploads/s in all** (DynamoDB, hottest partition at 1,000 WCU/s)", (d) => `**${rate(d.uploadCeiling)}**`),
    row("**uploads/s into one tag**", (d) => `**${rate(d.oneTagCeiling)}**`),
    row("**list pages/s** (hottest partition at 3,000 RCU/s)", (d) => `**${rate(d.pageCeiling)}**`),
    row("items read per item returned, first 20-item pages of all images and of a tag", (d) =>
      d.firstPageReadPerReturned.toFixed(3),
    ),
    row("items read per item returned, every page of the mix", (d) => d.readPerReturned.toFixed(3)),
    row("of which items read from the table after the Queries (gsi1 pages)", (d) => d.hydratedPerReturned.toFixed(3)),
    row("read units a list page costs in all partitions (its 2 gets included)", (d) => d.readUnitsPerPage.toFixed(2)),
    row("S3 keys of an original", (d) => (d.layout === "flat" ? "`images/<id>.jpg`" : "`images/<hh>/<id>.jpg`")),
    row("**uploads/s before an S3 prefix passes 3,500 writes/s**", (d) => `**${rate(d.s3UploadCeiling)}**`),
    row("list pages/s before an S3 prefix passes 5,500 reads/s", (d) => rate(d.s3PageCeiling)),
    row("hash spread in the sample: busiest shard / mean", (d) => (d.shards === 1 ? "n/a" : d.hashSpread.toFixed(3))),
    row("S3 hash spread in the sample: busiest level / mean (writes)", (d) =>
      d.layout === "flat" ? "n/a" : d.keySpread.toFixed(3),
    ),
  ]);
  const writeRows = designs.flatMap((d) =>
    d.writes.map((w) => [
      name(d),
      w.index,
      `\`${w.partition}\``,
      w.perUpload.toFixed(3),
      count(Math.round(w.perUpload * 1_000)),
      w.note ?? rate(w.ceiling),
    ]),
  );
  const readRows = designs.flatMap((d) =>
    d.reads.map((r) => [name(d), r.index, `\`${r.partition}\``, r.perPage.toFixed(3), rate(r.ceiling)]),
  );
  const s3Rows = designs.flatMap((d) =>
    d.s3.map((p) => [
      name(d),
      `\`${p.prefix}\``,
      p.writesPerUpload.toFixed(3),
      rate(p.uploadCeiling),
      p.readsPerPage.toFixed(3),
      rate(p.pageCeiling),
    ]),
  );
  const w = WORKLOAD;
  // What one level must take at 30,000 uploads a second, from the folder written most.
  const folderWrites = Math.max(...designs.flatMap((d) => d.s3.map((p) => p.writesPerUpload * p.levels)));
  const markdown = [
    `A model, not a measurement: ${count(w.uploads)} uploads in one month (${w.largeShare * 100}% straight to S3: start ` +
      `and finish), ${w.edits} edits and ${w.deletes} deletes per upload, from ${count(w.owners)} owners (Zipf ` +
      `${w.ownerZipf}) with 1-4 tags of ${count(w.tags)} (Zipf ${w.tagZipf}) and one viral tag on ${w.viralShare * 100}% ` +
      `of uploads; then ${count(w.pages)} list pages of 20 (${PAGE_MIX.map(([n, s]) => `${n} ${s * 100}%`).join(", ")}; ` +
      `${w.viralPageShare * 100}% of tag pages the viral tag; a tenth followed by a second page) through the service's ` +
      `own listing, with ${w.getsPerPage} gets per page. Items and keys are the params the ElectroDB entities build; ` +
      `an item costs ceil(size / 1 KB) write units in the table (twice in a transaction) and in each index it is in; ` +
      `a Query ceil(bytes / 4 KB) / 2 read units (eventually consistent), a consistent get ceil(size / 4 KB). A rate ` +
      `is the highest at which no partition passes 1,000 WCU or 3,000 RCU a second, nor an S3 prefix 3,500 writes or ` +
      `5,500 reads a second; an owner's partitions are capped by the per-user upload limit. Hash sharding spreads a ` +
      `partition evenly in the long run, so its hottest shard carries 1/S of it. S3 splits a bucket on its keys' ` +
      `leading bytes, and keys alike up to an image id (a ULID: time-ordered) all fall on one range at any moment, so ` +
      `a prefix is the key up to and including the part before the id: \`images/\`, \`renditions/\` and ` +
      `\`uploads/\` on the flat keys of the design before (\`images/<id>.jpg\`, \`renditions/<id>/320.webp\`), ` +
      `one of ${HASH_LEVELS} hash levels (\`images/3f/\`, the first two hex digits of the id's sha256) on today's. ` +
      `New objects take a level by their id's hash, so writes spread over the levels evenly in the long run, as shards ` +
      `do; reads follow the images asked for (Zipf), so a prefix's reads are the sample's busiest level's. ` +
      `Why ${HASH_LEVELS}: the folder written most takes ${folderWrites.toFixed(1)} writes an upload (the renditions), ` +
      `so 30,000 uploads a second need ${Math.ceil((30_000 * folderWrites) / PREFIX_WRITES)} levels at an even ` +
      `spread; ${HASH_LEVELS} leave room for the hash's unevenness (the sample's, at about ` +
      `${Math.round(w.uploads / HASH_LEVELS)} uploads a level, is mostly its own noise), for growth and for the CDN's ` +
      `misses, and 16 would cap uploads near ${count(Math.floor((16 * PREFIX_WRITES) / folderWrites))} a second. ` +
      `An index entry holds what its projection says: today gsi1 (the listings of all images and of a tag) ` +
      `holds the keys and ${(TODAY.gsi1 as readonly string[]).map((a) => `\`${a}\``).join(", ")}, none of which an ` +
      `edit changes, so an edit writes nothing to it, and a page reads its items from the table by BatchGetItem (half ` +
      `a unit an item up to 4 KB, on the image's own partition); gsi2 and gsi3 hold everything. The columns marked ` +
      `"gsi1 ALL (before)" price every index holding everything, as before this change.`,
    "",
    summary,
    "",
    "Hottest partition per index, writes (WCU per upload; at 1,000 uploads/s; the upload rate it allows):",
    "",
    table(["design", "index", "partition key", "WCU / upload", "WCU/s at 1,000 uploads/s", "uploads/s"], writeRows),
    "",
    "Hottest partition per index, reads (RCU per list page of the mix, gets included; the page rate it allows):",
    "",
    table(["design", "index", "partition key", "RCU / page", "pages/s"], readRows),
    "",
    "Busiest S3 prefixes (a folder's hash levels as one row, with one level's figures):",
    "",
    table(["design", "prefix", "writes / upload", "uploads/s", "reads / page", "pages/s"], s3Rows),
  ].join("\n");
  return { title: "7. Capacity", markdown, checks, data: designs };
}
