import { commitTransaction } from "../db/transaction.ts";
import { toAppError } from "../errors.ts";
import { discardUpload } from "./discard-upload.ts";
import { ImageId } from "./image.schema.ts";
import { notFound, readOwned, readRecord, withRetryOnRace } from "./read-image.ts";
import { objectKeysOf } from "./records.ts";
import { epochSeconds, type StoreContext } from "./store-context.ts";

/** How long a deletion record waits for a retry to finish removing its objects before TTL drops it. */
const DELETION_RECORD_DAYS = 7;

/** Removes the bytes named by a deletion record, then the record. */
async function finishDeletion(ctx: StoreContext, imageId: string, keys: string[]): Promise<void> {
  try {
    await ctx.objects.deleteMany(keys);
    await ctx.db.entities.imageDeletion.delete({ imageId }).go();
  } catch (error) {
    throw toAppError(error, "deleting the image's files");
  }
}

/**
 * Deletes an image at once, trashed or not, or a pending or failed upload (owner only): its items
 * in one transaction that also leaves a deletion record naming its objects, then the objects.
 */
export async function deleteImage(ctx: StoreContext, imageId: string, callerId: string): Promise<void> {
  const record = await readRecord(ctx, imageId);
  if (!record) {
    if (!ImageId.safeParse(imageId).success) throw notFound();
    const discarded = await discardUpload(ctx, imageId, callerId);
    if (discarded === "discarded") return;
    // Finishing committed the image while this delete looked: deleting it is an image delete.
    if (discarded === "finished") return deleteImage(ctx, imageId, callerId);
    // A delete that failed halfway left a deletion record: a retry by the owner finishes it.
    const pending = await ctx.db.entities.imageDeletion
      .get({ imageId })
      .go({ consistent: true })
      .catch((error) => Promise.reject(toAppError(error, "deleting the image")));
    if (!pending.data || pending.data.userId !== callerId) throw notFound();
    return finishDeletion(ctx, imageId, pending.data.objectKeys);
  }
  if (record.userId !== callerId) throw notFound();
  const keys = await withRetryOnRace("deleting the image", async (attemptNumber) => {
    const current = attemptNumber === 1 ? record : await readOwned(ctx, imageId, callerId);
    const keys = objectKeysOf(current);
    // Trashing already took the tag items and the digest's mention of the image.
    const listed = current.trashedAt === undefined;
    await commitTransaction(
      ctx.db.transaction
        .write(({ image: images, imageTag: tags, imageDeletion: deletions, digest: digests }) => [
          images
            .delete({ imageId })
            .where((attr, op) => op.eq(attr.revision, current.revision))
            .commit(),
          ...(listed ? current.tags.map((tag) => tags.delete({ imageId, tag }).commit()) : []),
          ...(listed && current.uploadedSha256
            ? [
                digests
                  .update({ userId: current.userId, sha256: current.uploadedSha256 })
                  .delete({ imageIds: [imageId] })
                  .commit(),
              ]
            : []),
          deletions
            .put({
              imageId,
              userId: current.userId,
              objectKeys: keys,
              expiresAt: epochSeconds(ctx) + DELETION_RECORD_DAYS * 86_400,
            })
            .commit(),
        ])
        .go(),
    );
    return keys;
  });
  await finishDeletion(ctx, imageId, keys);
}
