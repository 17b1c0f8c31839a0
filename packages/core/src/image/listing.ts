import { QueryCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { batchGetAll } from "../db/batch-get.ts";
import type { Db } from "../db/service.ts";
import { indexKeyFields, TABLE, type GlobalIndexName } from "../db/table.ts";
import { toAppError } from "../errors.ts";
import { decodeCursor, encodeCursor, filterDigest } from "./cursor.ts";
import { ListFilter, type ParsedListFilter } from "./image.schema.ts";
import type { CatalogView } from "./month-catalog.ts";
import type { ListingRecord } from "./records.ts";
import { parseOrThrow } from "./validate.ts";

type RawItem = Record<string, unknown>;
type Key = Record<string, unknown>;
/** An ElectroDB query chain before its sort-key condition; loosely typed across entities. */
interface QueryChain {
  between(from: object, to: object): QueryChain;
  gt(from: object): QueryChain;
  gte(from: object): QueryChain;
  lt(to: object): QueryChain;
  params(options: object): Record<string, unknown>;
}

/** One partition of a listing, stored over `shards` write shards (listing-shards.ts). */
interface Partition {
  /** The month of the all-images listing; "" elsewhere. */
  name: string;
  shards: number;
  query(shard: number): QueryChain;
}

/** One way to answer a filter: the index it reads and the partitions it walks, newest first. */
interface Plan {
  index: GlobalIndexName;
  partitions: Partition[];
  /** The records of a page's index entries, in their order. */
  read(entries: RawItem[]): Promise<ListingRecord[]>;
  /** The all-images listing is spread over month partitions; the others have one. */
  bucketed: boolean;
}

/** The times a listing reads: `to` is always set (`bounded` when the filter gave it), `from` when the filter has one. */
interface Range {
  from?: Date;
  to: Date;
  bounded: boolean;
}

export const monthOf = (iso: string) => iso.slice(0, 7);

/** Every month from `newest` back to `oldest` inclusive, as "YYYY-MM". */
export function monthsBetween(oldest: string, newest: string): string[] {
  const months: string[] = [];
  let [year, month] = newest.split("-").map(Number) as [number, number];
  for (let current = newest; current >= oldest;) {
    months.push(current);
    month -= 1;
    if (month === 0) [year, month] = [year - 1, 12];
    current = `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}`;
  }
  return months;
}

export interface ListingDeps {
  db: Db;
  dynamo: DynamoDBDocumentClient;
  cursorSecret: string;
  now: () => Date;
  /** LISTING_SHARDS: the shards this process writes over, read in every sharded partition at least. */
  shards: number;
  /** The catalog item: the oldest month holding an image, the shards each month was written over. */
  catalog: () => Promise<CatalogView>;
}

/**
 * Lists images newest first with any combination of owner, tag and date range. Every
 * combination is a Query on an index keyed for it, with the range as a key condition; a page
 * reads its items plus a look-ahead that tells whether another page exists.
 *
 * The all-images listing (by month) and the tag listing are spread over write shards: a page
 * queries each shard in parallel, merges them newest first, and in a second round asks the
 * shards whose items might still belong to the page for just those (`mergeShards`): at most two
 * rounds of parallel Queries a partition. Their index (gsi1) holds keys and the attributes a
 * page is merged by, nothing an edit changes (table.ts), so a page then reads the images it
 * returns from the table (`readListed`). A cursor is the key of the last item returned: every
 * shard continues from that place, since none holds an unreturned item newer than it.
 */
export function createListing(deps: ListingDeps) {
  const { image, imageTag } = deps.db.entities;

  /**
   * The images of a page of gsi1 entries, from the table in one batch get, in the entries' order.
   * The index follows the table a moment late: an image deleted, trashed or untagged since is
   * left out (the page is then shorter; its cursor still continues after its last entry).
   */
  async function readListed(entries: RawItem[], tag: string | undefined): Promise<ListingRecord[]> {
    if (entries.length === 0) return [];
    const found = await batchGetAll(
      (keys) => image.get([...keys]).go(),
      entries.map((entry) => ({ imageId: String(entry.imageId) })),
      "listing images",
    );
    const byId = new Map(found.map((record) => [record.imageId, record]));
    return entries.flatMap((entry) => {
      const record = byId.get(String(entry.imageId));
      const listed = record && record.trashedAt === undefined && (tag === undefined || record.tags.includes(tag));
      return listed ? [record as ListingRecord] : [];
    });
  }

  async function plan(f: ParsedListFilter, range: Range): Promise<Plan> {
    const parseImages = async (items: RawItem[]) => image.parse({ Items: items }).data as ListingRecord[];
    const parseTags = async (items: RawItem[]) => imageTag.parse({ Items: items }).data as ListingRecord[];
    const { userId, tag } = f;
    if (userId !== undefined && tag !== undefined) {
      const query = () => imageTag.query.byUserTag({ userId, tag }) as unknown as QueryChain;
      return { index: "gsi2", partitions: [{ name: "", shards: 1, query }], bucketed: false, read: parseTags };
    }
    if (userId !== undefined) {
      const query = () => image.query.byUser({ userId }) as unknown as QueryChain;
      return { index: "gsi2", partitions: [{ name: "", shards: 1, query }], bucketed: false, read: parseImages };
    }
    const catalog = await deps.catalog();
    const oldestWanted = range.from ? monthOf(range.from.toISOString()) : "0000-00";
    const newestWanted = monthOf(range.to.toISOString());
    const shardsIn = (month: string) => Math.max(deps.shards, catalog.shardsByMonth.get(month) ?? 0);
    if (tag !== undefined) {
      // A tag's partition holds every month: each shard any month in the range was written over.
      let shards = deps.shards;
      for (const [month, count] of catalog.shardsByMonth) {
        if (month >= oldestWanted && month <= newestWanted) shards = Math.max(shards, count);
      }
      const query = (shard: number) => imageTag.query.byTag({ tag, shard }) as unknown as QueryChain;
      const read = (entries: RawItem[]) => readListed(entries, tag);
      return { index: "gsi1", partitions: [{ name: "", shards, query }], bucketed: false, read };
    }
    const earliest = catalog.earliestMonth;
    const oldest = earliest && earliest > oldestWanted ? earliest : oldestWanted;
    // Only months the catalog knows images of, and this month on: every image's month is noted
    // before the image is written, so a month absent from the catalog (read at most a minute ago)
    // holds only what came since: uploads, which land in this month (or the next, by a clock a
    // little fast), and for at most that minute another process's import into an older month.
    const current = monthOf(deps.now().toISOString());
    const months =
      earliest === null
        ? []
        : monthsBetween(oldest, newestWanted).filter((month) => month >= current || catalog.shardsByMonth.has(month));
    return {
      index: "gsi1",
      partitions: months.map((month) => ({
        name: month,
        shards: shardsIn(month),
        query: (shard) => image.query.byMonth({ month, shard }) as unknown as QueryChain,
      })),
      bucketed: true,
      read: (entries) => readListed(entries, undefined),
    };
  }

  /**
   * The filter's range cut to the times an image can have: none before the epoch (ids are
   * ULIDs), none after the clock plus a day (so a writer whose clock runs a little fast is still
   * seen). Null when nothing is left of it.
   */
  function rangeOf(f: ParsedListFilter): Range | null {
    const latest = deps.now().getTime() + 86_400_000;
    const from = f.from && new Date(Math.max(f.from.getTime(), 0));
    const to = f.to && f.to.getTime() < latest ? f.to : new Date(latest);
    if (to.getTime() < (from?.getTime() ?? 0)) return null;
    return { from, to, bounded: f.to !== undefined };
  }

  function withRange(chain: QueryChain, range: Range): QueryChain {
    const from = range.from?.toISOString();
    // Sort keys continue past the time with the id, so "up to and including `to`" is "below `to` + 1 ms".
    const below = range.bounded ? new Date(range.to.getTime() + 1).toISOString() : undefined;
    if (from && below) return chain.between({ uploadTime: from }, { uploadTime: below });
    if (from) return chain.gte({ uploadTime: from });
    if (below) return chain.lt({ uploadTime: below });
    return chain;
  }

  async function send(params: Record<string, unknown>, startKey: Key | undefined) {
    return deps.dynamo
      .send(new QueryCommand({ ...params, ExclusiveStartKey: startKey } as never))
      .catch((error: unknown) => Promise.reject(toAppError(error, "listing images")));
  }

  /**
   * The newest `want` items of one partition after `after` (the key of the last item a page
   * returned), newest first; fewer when the partition holds fewer. One shard: one Query (more
   * only when DynamoDB stops at its 1 MB page); several: `mergeShards`, each shard continuing
   * from `after` under its own partition key.
   */
  async function readPartition(
    p: Plan,
    partition: Partition,
    range: Range,
    after: Key | undefined,
    want: number,
  ): Promise<RawItem[]> {
    const { partitionKey, sortKey } = TABLE.globalIndexes[p.index];
    const paramsOf = (shard: number, limit: number) =>
      withRange(partition.query(shard), range).params({ order: "desc", limit });
    if (partition.shards === 1) {
      const found: RawItem[] = [];
      let startKey = after;
      do {
        const page = await send(paramsOf(0, want - found.length), startKey);
        found.push(...((page.Items ?? []) as RawItem[]));
        startKey = page.LastEvaluatedKey;
      } while (startKey && found.length < want);
      return found;
    }

    // A shard's first Query starts where the page starts (the cursor's key under that shard's
    // partition key); a second one continues from its own last item, no further than `floor`.
    return mergeShards(partition.shards, want, sortKey, async (shard, limit, startKey, floor) => {
      const chain = floor ? partition.query(shard).gt(floor) : withRange(partition.query(shard), range);
      const page = await send(
        chain.params({ order: "desc", limit }),
        startKey ?? (after && { ...after, [partitionKey]: partitionKeyOf(paramsOf(shard, 1)) }),
      );
      return { items: (page.Items ?? []) as RawItem[], next: page.LastEvaluatedKey };
    });
  }

  return async function list(input: ListFilter): Promise<{ items: ListingRecord[]; nextCursor: string | null }> {
    const f = parseOrThrow(ListFilter, input);
    const digest = filterDigest([f.userId, f.tag, f.from?.toISOString(), f.to?.toISOString()]);
    const position = f.cursor ? decodeCursor(deps.cursorSecret, digest, f.cursor) : undefined;
    const range = rangeOf(f);
    if (!range) return { items: [], nextCursor: null };
    const p = await plan(f, range);
    const keyFields = indexKeyFields(p.index);

    let partitions = p.partitions;
    if (position && p.bucketed) {
      const month = position.month ?? "";
      partitions = partitions.filter((candidate) => candidate.name <= month);
      if (partitions[0]?.name !== month) partitions = [];
    }

    const want = f.limit + 1;
    const found: RawItem[] = [];
    for (const [i, partition] of partitions.entries()) {
      if (found.length >= want) break;
      found.push(
        ...(await readPartition(p, partition, range, i === 0 ? position?.key : undefined, want - found.length)),
      );
    }

    const returned = found.slice(0, f.limit);
    const last = returned.at(-1);
    let nextCursor: string | null = null;
    if (found.length > f.limit && last) {
      const key = Object.fromEntries(keyFields.map((field) => [field, String(last[field])]));
      nextCursor = encodeCursor(deps.cursorSecret, digest, {
        month: p.bucketed ? String(last.month) : undefined,
        key,
      });
    }
    return { items: await p.read(returned), nextCursor };
  };
}

/** The partition key value of an ElectroDB query's params (its key condition is `#pk = :pk`). */
function partitionKeyOf(params: Record<string, unknown>): string {
  return String((params.ExpressionAttributeValues as Record<string, unknown>)[":pk"]);
}

/**
 * One Query of one shard: its items, and where it stopped when it did not reach the end.
 * `floor`: the sort key's composite attributes of an item the shard need not read down to (it
 * reads only items newer than it).
 */
export type ShardFetch = (
  shard: number,
  limit: number,
  startKey: Key | undefined,
  floor?: Record<string, string>,
) => Promise<{ items: RawItem[]; next?: Key }>;

/**
 * The newest `want` items over `shards` shards of one partition, newest first by `sortKey`, in
 * at most two rounds of parallel Queries (a shard's round goes on only where DynamoDB stops a
 * Query at 1 MB before its limit).
 *
 * Round one asks each shard for its share of `want` (hash sharding spreads items evenly). Of
 * what came back, the `want`-th newest item is the floor: at least `want` items are at or above
 * it, so nothing older can belong to the page. A shard whose last item lies above the floor may
 * hold more that do; round two asks each such shard for exactly those, with the floor as a key
 * condition (DynamoDB reads nothing below it) and at most as many as places are left under its
 * last item. After it every shard is read down to the floor, or far enough that `want` items
 * are known above where it stopped: the merge is exact. With fewer than `want` items from round
 * one there is no floor, and round two asks the shards that stopped for the places left.
 */
export async function mergeShards(
  shards: number,
  want: number,
  sortKey: string,
  fetch: ShardFetch,
): Promise<RawItem[]> {
  const newestFirst = (a: RawItem, b: RawItem) => (String(a[sortKey]) < String(b[sortKey]) ? 1 : -1);
  const first = await Promise.all(
    Array.from({ length: shards }, (_, shard) => fetch(shard, Math.ceil(want / shards), undefined)),
  );
  const merged = first.flatMap((page) => page.items).sort(newestFirst);
  const floorItem = merged.length >= want ? merged[want - 1] : undefined;
  const floor = floorItem && { uploadTime: String(floorItem.uploadTime), imageId: String(floorItem.imageId) };

  const second = await Promise.all(
    first.map(async (page, shard) => {
      const last = page.items.at(-1);
      if (!page.next || !last) return [];
      const above = merged.indexOf(last) + 1;
      if (above >= want) return [];
      // One Query unless DynamoDB stops it at 1 MB first: then it goes on from there.
      const found: RawItem[] = [];
      let startKey: Key | undefined = page.next;
      while (startKey && found.length < want - above) {
        const more = await fetch(shard, want - above - found.length, startKey, floor);
        found.push(...more.items);
        startKey = more.next;
      }
      return found;
    }),
  );
  return [...merged, ...second.flat()].sort(newestFirst).slice(0, want);
}
