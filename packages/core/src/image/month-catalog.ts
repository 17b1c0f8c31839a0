import type { Db } from "../db/service.ts";
import { isConditionFailure } from "../errors.ts";

const CACHE_MS = 60_000;

/** What the catalog item says: the oldest month holding an image, and each month's write shards. */
export interface CatalogView {
  earliestMonth: string | null;
  /** The most shards any image of the month was written over; months absent hold none that says so. */
  shardsByMonth: ReadonlyMap<string, number>;
}

const entry = (month: string, shards: number) => `${month}=${shards}`;

function shardsByMonth(entries: readonly string[] | undefined): Map<string, number> {
  const months = new Map<string, number>();
  for (const text of entries ?? []) {
    const [month = "", count] = text.split("=");
    months.set(month, Math.max(months.get(month) ?? 0, Number(count)));
  }
  return months;
}

/**
 * The catalog item: the oldest month bucket that holds an image, so a listing of all images
 * knows where to stop walking back, and the shard counts each month was written with, so a
 * listing queries every shard that may hold an item. Both only ever grow (imports, the first
 * upload, a larger LISTING_SHARDS), so this process caches the item for a minute and writes only
 * when an image brings something new. So another process's news reaches a reader within the
 * cache's minute: an import into a month it did not know of, or a larger LISTING_SHARDS (a
 * reader always reads at least its own configured count, so only one configured with fewer
 * shards than a writer can miss that writer's newest items, and for at most that minute).
 */
export function createMonthCatalog(db: Db) {
  const { catalog } = db.entities;
  let cached:
    { view: { earliestMonth: string | null; shardsByMonth: Map<string, number> }; readAt: number } | undefined;

  async function read(): Promise<CatalogView> {
    if (cached && Date.now() - cached.readAt < CACHE_MS) return cached.view;
    const { data } = await catalog.get({}).go({ consistent: true });
    cached = {
      view: { earliestMonth: data?.earliestMonth ?? null, shardsByMonth: shardsByMonth(data?.monthShards) },
      readAt: Date.now(),
    };
    return cached.view;
  }

  async function earliestMonth(): Promise<string | null> {
    return (await read()).earliestMonth;
  }

  /**
   * Records that `month` holds an image written over `shards` shards; before the image is
   * written, so no reader misses it.
   */
  async function noteMonth(month: string, shards: number): Promise<void> {
    const view = await read();
    if ((view.shardsByMonth.get(month) ?? 0) < shards) {
      // A set only grows and adding is idempotent: no condition, no lost update between writers.
      await catalog
        .update({})
        .add({ monthShards: [entry(month, shards)] })
        .go();
      if (cached) cached.view.shardsByMonth.set(month, shards);
    }
    if (view.earliestMonth && view.earliestMonth <= month) return;
    try {
      await catalog
        .update({})
        .set({ earliestMonth: month })
        .where((attr, op) => `${op.notExists(attr.earliestMonth)} OR ${op.gt(attr.earliestMonth, month)}`)
        .go();
      if (cached) cached.view.earliestMonth = month;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      cached = undefined;
    }
  }

  return { read, earliestMonth, noteMonth };
}

export type MonthCatalog = ReturnType<typeof createMonthCatalog>;
