import { isConditionFailure, toAppError } from "../errors.ts";
import type { StoreContext } from "./store-context.ts";
import { readUpload } from "./upload-records.ts";

/** What discarding an upload found: removed, none of the caller's, or already turned into an image. */
export type DiscardOutcome = "discarded" | "none" | "finished";

/**
 * Removes a pending or failed upload of the caller's. The record goes first, on the condition
 * that it is still there: that is the commit point a finishing run races against (its own
 * commit needs the record pending), so exactly one of them wins. "finished" means the finishing
 * step won: the image exists now, and deleting it is the image's own delete.
 */
export async function discardUpload(ctx: StoreContext, imageId: string, callerId: string): Promise<DiscardOutcome> {
  const upload = await readUpload(ctx, imageId).catch((error) =>
    Promise.reject(toAppError(error, "deleting the upload")),
  );
  if (!upload || upload.userId !== callerId) return "none";
  try {
    await ctx.db.entities.upload
      .delete({ imageId })
      .where((attr, op) => op.eq(attr.userId, callerId))
      .go();
  } catch (error) {
    if (isConditionFailure(error)) return "finished";
    throw toAppError(error, "deleting the upload");
  }
  // The record is gone, so no run can commit this file any more; a failure here leaves only
  // bytes under the pending prefix, which the bucket's lifecycle rule clears.
  await ctx.objects
    .deleteMany([upload.objectKey])
    .catch((error: unknown) =>
      ctx.log("orphaned_objects", { keys: [upload.objectKey], reason: "discarding an upload", error: String(error) }),
    );
  return "discarded";
}
