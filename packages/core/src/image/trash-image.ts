import { commitTransaction } from "../db/transaction.ts";
import { moveIntoShard } from "./backfill-shards.ts";
import type { ImageInfo } from "./image.schema.ts";
import { readOwned, withRetryOnRace } from "./read-image.ts";
import { listingKeyFields, toImageInfo, type ImageRecord } from "./records.ts";
import type { StoreContext } from "./store-context.ts";

/**
 * Moves an image to its owner's trash: in one transaction the image item gets `trashedAt` and the
 * table's TTL (`expires_at`, TRASH_DAYS ahead), which takes it out of the listing indexes (their
 * `condition`) and into the owner's trash index; its tag items and its digest's mention go. The
 * bytes stay. When the TTL removes the item, the change stream's consumer purges the rest.
 * Trashing a trashed image answers it as it is.
 */
export async function trashImage(ctx: StoreContext, imageId: string, callerId: string): Promise<ImageInfo> {
  return withRetryOnRace("trashing the image", async () => {
    // An image stored before the write shards is put into its own first (backfill-shards.ts).
    const current = await moveIntoShard(ctx, await readOwned(ctx, imageId, callerId));
    if (current.trashedAt !== undefined) return toImageInfo(current, ctx.config.bucketName);
    const at = ctx.now();
    const next: ImageRecord = {
      ...current,
      trashedAt: at.toISOString(),
      // Whole seconds, as the TTL reads them.
      expiresAt: Math.floor(at.getTime() / 1000) + ctx.config.trashDays * 86_400,
      revision: current.revision + 1,
    };
    await commitTransaction(
      ctx.db.transaction
        .write(({ image: images, imageTag: tags, digest: digests }) => [
          images
            .patch({ imageId })
            .set({
              trashedAt: next.trashedAt,
              trashedBy: current.userId,
              expiresAt: next.expiresAt,
              revision: next.revision,
            })
            // The listing indexes' keys are rebuilt from these, and their condition drops them.
            .composite(listingKeyFields(current))
            .where((attr, op) => op.eq(attr.revision, current.revision))
            .commit(),
          ...current.tags.map((tag) => tags.delete({ imageId, tag }).commit()),
          ...(current.uploadedSha256
            ? [
                digests
                  .update({ userId: current.userId, sha256: current.uploadedSha256 })
                  .delete({ imageIds: [imageId] })
                  .commit(),
              ]
            : []),
        ])
        .go(),
    );
    return toImageInfo(next, ctx.config.bucketName);
  });
}
