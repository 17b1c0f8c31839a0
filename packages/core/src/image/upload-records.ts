import type { UploadRecord } from "./records.ts";
import { epochSeconds, type StoreContext } from "./store-context.ts";

export type { UploadRecord };

/** After the upload link dies, late S3 events still have this long to be finished. */
export const PENDING_GRACE_SECONDS = 3600;
/** How long the owner can read why a failed upload was refused. */
export const FAILED_RECORD_SECONDS = 24 * 3600;
const STALE_REASON = "no file arrived, or it could not be checked, before the upload expired; start a new upload";

/**
 * The upload record if it is still alive; expired ones are ignored before TTL removes them.
 * A pending upload that outlived its link and the grace for late events reads as failed: no
 * file will be finished for it any more (records from before `staleAt` go stale at `expiresAt`).
 */
export async function readUpload(ctx: StoreContext, imageId: string): Promise<UploadRecord | null> {
  const { data } = await ctx.db.entities.upload.get({ imageId }).go({ consistent: true });
  const now = epochSeconds(ctx);
  if (!data || data.expiresAt < now) return null;
  const record = data as UploadRecord;
  if (record.state === "pending" && (record.staleAt ?? record.expiresAt) < now) {
    return { ...record, state: "failed", failureKind: "expired", failureReason: STALE_REASON };
  }
  return record;
}
