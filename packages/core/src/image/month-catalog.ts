import type { Db } from "../db/service.ts";
import { isConditionFailure } from "../errors.ts";

const CACHE_MS = 60_000;

/**
 * The oldest month bucket that holds an image, so a listing of all images knows where to stop
 * walking back. It only ever moves back (imports, the first upload), so this process caches it
 * for a minute and writes only when an image lands before it.
 */
export function createMonthCatalog(db: Db) {
  const { catalog } = db.entities;
  let earliest: { month: string | null; readAt: number } | undefined;

  async function earliestMonth(): Promise<string | null> {
    if (earliest && Date.now() - earliest.readAt < CACHE_MS) return earliest.month;
    const { data } = await catalog.get({}).go({ consistent: true });
    earliest = { month: data?.earliestMonth ?? null, readAt: Date.now() };
    return earliest.month;
  }

  /** Records that `month` holds an image; before the image is written, so no reader misses it. */
  async function noteMonth(month: string): Promise<void> {
    if (earliest?.month && earliest.month <= month) return;
    try {
      await catalog
        .update({})
        .set({ earliestMonth: month })
        .where((attr, op) => `${op.notExists(attr.earliestMonth)} OR ${op.gt(attr.earliestMonth, month)}`)
        .go();
      earliest = { month, readAt: Date.now() };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      earliest = undefined;
    }
  }

  return { earliestMonth, noteMonth };
}

export type MonthCatalog = ReturnType<typeof createMonthCatalog>;
