import type { Db } from "../db/service.ts";
import { AppError, isConditionFailure, toAppError } from "../errors.ts";

const RECORD_TTL_SECONDS = 24 * 3600;
/** A claim older than this belongs to a request that died; another may take it over. */
const ABANDONED_CLAIM_SECONDS = 120;

export interface IdempotentScope {
  userId: string;
  key: string;
  requestHash: string;
}

/**
 * Runs an operation at most once per (user, key): the first request claims the key, a retry
 * gets the first answer back, and the same key with another request is a conflict. A failed
 * operation releases the key, so the client can try again with it.
 */
export function createIdempotency(db: Db, now: () => Date) {
  const records = db.entities.idempotency;
  const seconds = () => Math.floor(now().getTime() / 1000);

  async function claim(scope: IdempotentScope): Promise<boolean> {
    const at = seconds();
    try {
      await records
        .put({ ...scope, state: "in_progress", claimedAt: at, expiresAt: at + RECORD_TTL_SECONDS })
        .where(
          (attr, op) =>
            `${op.notExists(attr.requestHash)} OR ${op.lt(attr.expiresAt, at)} OR ` +
            `(${op.eq(attr.state, "in_progress")} AND ${op.lt(attr.claimedAt, at - ABANDONED_CLAIM_SECONDS)})`,
        )
        .go();
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw toAppError(error, "checking the Idempotency-Key");
    }
  }

  return async function once<T>(
    scope: IdempotentScope,
    operation: () => Promise<T>,
  ): Promise<{ value: T; replayed: boolean }> {
    if (!(await claim(scope))) {
      const { data } = await records
        .get({ userId: scope.userId, key: scope.key })
        .go({ consistent: true })
        .catch((error) => Promise.reject(toAppError(error, "checking the Idempotency-Key")));
      if (data && data.requestHash !== scope.requestHash) {
        throw new AppError("conflict", "this Idempotency-Key was used for a different request");
      }
      if (data?.state === "done") return { value: data.response as T, replayed: true };
      throw new AppError("conflict", "a request with this Idempotency-Key is still in progress", {
        retryAfterSeconds: 1,
      });
    }
    let value: T;
    try {
      value = await operation();
    } catch (error) {
      await records
        .delete({ userId: scope.userId, key: scope.key })
        .go()
        .catch(() => undefined);
      throw error;
    }
    await records
      .patch({ userId: scope.userId, key: scope.key })
      .set({ state: "done", response: value })
      .go()
      // The work is done: if its answer cannot be kept, a retry sees the key in progress (409)
      // until the claim counts as abandoned.
      .catch(() => undefined);
    return { value, replayed: false };
  };
}
