import type { Db } from "../db/service.ts";
import { AppError, isConditionFailure, toAppError } from "../errors.ts";

/**
 * A per-user limit on uploads started per minute, counted in the table so that every Lambda
 * instance sees the same count: one conditional write per upload.
 */
export function createUploadRateLimit(db: Db, limitPerMinute: number, now: () => Date) {
  const windows = db.entities.rateWindow;
  return async function takeUploadSlot(userId: string): Promise<void> {
    const seconds = Math.floor(now().getTime() / 1000);
    const window = Math.floor(seconds / 60);
    try {
      await windows
        .update({ userId, window })
        .add({ count: 1 })
        .set({ expiresAt: (window + 2) * 60 })
        .where((attr, op) => `${op.notExists(attr.count)} OR ${op.lt(attr.count, limitPerMinute)}`)
        .go();
    } catch (error) {
      if (!isConditionFailure(error)) throw toAppError(error, "counting uploads");
      throw new AppError("rate_limited", `at most ${limitPerMinute} uploads a minute; try again shortly`, {
        retryAfterSeconds: (window + 1) * 60 - seconds,
      });
    }
  };
}
