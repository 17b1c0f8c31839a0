import { commitTransaction } from "../db/transaction.ts";
import { moveIntoShard } from "./backfill-shards.ts";
import type { ImageInfo } from "./image.schema.ts";
import { notFound, readOwned, withRetryOnRace } from "./read-image.ts";
import { listingFields, listingKeyFields, toImageInfo, type ImageRecord } from "./records.ts";
import { epochSeconds, type StoreContext } from "./store-context.ts";

/**
 * Takes an image out of its owner's trash: in one transaction `trashedAt` and the TTL go (the
 * listing indexes' keys come back, the trash index's go), every tag item is written again and
 * the digest names the image again. Its renditions never left. Restoring an image that is not
 * trashed answers it as it is; one whose purge time has passed is gone (404), whether or not the
 * TTL has removed it yet, and the condition keeps a restore from racing that removal.
 */
export async function restoreImage(ctx: StoreContext, imageId: string, callerId: string): Promise<ImageInfo> {
  return withRetryOnRace("restoring the image", async () => {
    // An image stored before the write shards is put into its own first (backfill-shards.ts).
    const current = await moveIntoShard(ctx, await readOwned(ctx, imageId, callerId));
    if (current.trashedAt === undefined) return toImageInfo(current, ctx.config.bucketName);
    const now = epochSeconds(ctx);
    if (current.expiresAt !== undefined && current.expiresAt <= now) throw notFound();
    const next: ImageRecord = {
      ...current,
      trashedAt: undefined,
      expiresAt: undefined,
      revision: current.revision + 1,
    };
    await commitTransaction(
      ctx.db.transaction
        .write(({ image: images, imageTag: tags, digest: digests }) => [
          images
            .patch({ imageId })
            .remove(["trashedAt", "trashedBy", "expiresAt"])
            .set({ revision: next.revision })
            .composite(listingKeyFields(current))
            .where((attr, op) => `${op.eq(attr.revision, current.revision)} AND ${op.gt(attr.expiresAt, now)}`)
            .commit(),
          ...next.tags.map((tag) => tags.put({ ...listingFields(next), tag }).commit()),
          ...(current.uploadedSha256
            ? [
                digests
                  .update({ userId: current.userId, sha256: current.uploadedSha256 })
                  .add({ imageIds: [imageId] })
                  .commit(),
              ]
            : []),
        ])
        .go(),
    );
    return toImageInfo(next, ctx.config.bucketName);
  });
}
