import { QueryCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Db } from "../db/service.ts";
import { TABLE, type GlobalIndexName } from "../db/table.ts";
import { toAppError } from "../errors.ts";
import { decodeCursor, encodeCursor, filterDigest } from "./cursor.ts";
import { ListFilter, type ParsedListFilter } from "./image.schema.ts";
import type { ListingRecord } from "./records.ts";
import { parseOrThrow } from "./validate.ts";

type RawItem = Record<string, unknown>;
/** An ElectroDB query chain before its sort-key condition; loosely typed across entities. */
interface QueryChain {
  between(from: object, to: object): QueryChain;
  gte(from: object): QueryChain;
  lt(to: object): QueryChain;
  params(options: object): Record<string, unknown>;
}

/** One way to answer a filter: the index it reads and the partitions it walks, newest first. */
interface Plan {
  index: GlobalIndexName;
  partitions: string[];
  query(partition: string): QueryChain;
  parse(items: RawItem[]): ListingRecord[];
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
  /** The oldest month that holds an image, or null when there is none. */
  earliestMonth: () => Promise<string | null>;
}

/**
 * Lists images newest first with any combination of owner, tag and date range. Every
 * combination is a Query on an index keyed for it, with the range as a key condition; a page
 * reads its items plus one look-ahead item that tells whether another page exists.
 */
export function createListing(deps: ListingDeps) {
  const { image, imageTag } = deps.db.entities;

  async function plan(f: ParsedListFilter, range: Range): Promise<Plan> {
    const parseImages = (items: RawItem[]) => image.parse({ Items: items }).data as ListingRecord[];
    const parseTags = (items: RawItem[]) => imageTag.parse({ Items: items }).data as ListingRecord[];
    const { userId, tag } = f;
    if (userId !== undefined && tag !== undefined) {
      return {
        index: "gsi2",
        partitions: [""],
        bucketed: false,
        parse: parseTags,
        query: () => imageTag.query.byUserTag({ userId, tag }) as unknown as QueryChain,
      };
    }
    if (tag !== undefined) {
      return {
        index: "gsi1",
        partitions: [""],
        bucketed: false,
        parse: parseTags,
        query: () => imageTag.query.byTag({ tag }) as unknown as QueryChain,
      };
    }
    if (userId !== undefined) {
      return {
        index: "gsi2",
        partitions: [""],
        bucketed: false,
        parse: parseImages,
        query: () => image.query.byUser({ userId }) as unknown as QueryChain,
      };
    }
    const earliest = await deps.earliestMonth();
    const oldestWanted = range.from ? monthOf(range.from.toISOString()) : "0000-00";
    const oldest = earliest && earliest > oldestWanted ? earliest : oldestWanted;
    return {
      index: "gsi1",
      partitions: earliest === null ? [] : monthsBetween(oldest, monthOf(range.to.toISOString())),
      bucketed: true,
      parse: parseImages,
      query: (month) => image.query.byMonth({ month }) as unknown as QueryChain,
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

  return async function list(input: ListFilter): Promise<{ items: ListingRecord[]; nextCursor: string | null }> {
    const f = parseOrThrow(ListFilter, input);
    const digest = filterDigest([f.userId, f.tag, f.from?.toISOString(), f.to?.toISOString()]);
    const position = f.cursor ? decodeCursor(deps.cursorSecret, digest, f.cursor) : undefined;
    const range = rangeOf(f);
    if (!range) return { items: [], nextCursor: null };
    const p = await plan(f, range);
    const keyFields = [TABLE.partitionKey, TABLE.sortKey, ...Object.values(TABLE.globalIndexes[p.index])];

    let partitions = p.partitions;
    if (position && p.bucketed) {
      const month = position.month ?? "";
      partitions = partitions.filter((candidate) => candidate <= month);
      if (partitions[0] !== month) partitions = [];
    }

    const want = f.limit + 1;
    const found: RawItem[] = [];
    for (const [i, partition] of partitions.entries()) {
      if (found.length >= want) break;
      let startKey: Record<string, unknown> | undefined = i === 0 ? position?.key : undefined;
      do {
        const params = withRange(p.query(partition), range).params({ order: "desc", limit: want - found.length });
        const page = await deps.dynamo
          .send(new QueryCommand({ ...params, ExclusiveStartKey: startKey } as never))
          .catch((error: unknown) => Promise.reject(toAppError(error, "listing images")));
        found.push(...((page.Items ?? []) as RawItem[]));
        startKey = page.LastEvaluatedKey;
      } while (startKey && found.length < want);
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
    return { items: p.parse(returned), nextCursor };
  };
}
