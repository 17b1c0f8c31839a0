import { toAppError } from "../errors.ts";
import type { ObjectStore } from "../storage/object-store.ts";
import type { StoreContext } from "./store-context.ts";

/**
 * The write-ahead side of an upload (and of a renditions backfill): a run names the objects it is about to write before it
 * writes any (db/staged-objects.entity.ts), and the transaction that commits the image removes
 * that record. A run that stops anywhere in between leaves the record, and its TTL purge
 * (events/purge.ts) deletes what no image names. So no path, a crash included, leaves an object
 * that nothing will ever remove.
 */
export interface StagedRun {
  imageId: string;
  /** "direct" for a direct upload (each try has an id of its own); the key version for finishing and backfills. */
  run: string;
  keys: string[];
}

/** What staging works with: the store's, or an operator tool's own (backfill-renditions.ts). */
export type StagingDeps = Pick<StoreContext, "db" | "objects" | "now" | "log">;

/** A day: long after the run that wrote the record has ended, when nothing can commit its objects any more. */
export const STAGED_RECORD_SECONDS = 86_400;

/** Names the run's objects before the first of them is written; a failure here has written nothing. */
export async function stageObjects(ctx: StagingDeps, staged: StagedRun): Promise<void> {
  await ctx.db.entities.stagedObjects
    .put({
      imageId: staged.imageId,
      run: staged.run,
      objectKeys: staged.keys,
      expiresAt: Math.floor(ctx.now().getTime() / 1000) + STAGED_RECORD_SECONDS,
    })
    .go()
    .catch((error: unknown) => Promise.reject(toAppError(error, "storing the image")));
}

/**
 * After a run that will not commit: its objects go (retried), then its record. Never fails the
 * caller: what it cannot remove now, the record's TTL purge removes later.
 */
export async function discardStaged(ctx: StagingDeps, staged: StagedRun, reason: string): Promise<void> {
  try {
    await deleteLeftovers(ctx.objects, staged.keys);
  } catch (error) {
    ctx.log("objects_left_for_purge", { keys: staged.keys, reason, error: String(error) });
    return;
  }
  // Its objects are gone: a record left here only makes its purge delete nothing.
  await ctx.db.entities.stagedObjects
    .delete({ imageId: staged.imageId, run: staged.run })
    .go()
    .catch(() => undefined);
}

/**
 * Deletes what a failed run wrote, tried a few times: the run's own failure and a failure of
 * this clean-up in one request would otherwise leave the objects to the purge, a day later.
 */
async function deleteLeftovers(objects: ObjectStore, keys: string[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await objects.deleteMany(keys);
    } catch (error) {
      if (attempt >= CLEAN_UP_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, CLEAN_UP_BACKOFF_MS * attempt));
    }
  }
}
const CLEAN_UP_ATTEMPTS = 4;
const CLEAN_UP_BACKOFF_MS = 50;
