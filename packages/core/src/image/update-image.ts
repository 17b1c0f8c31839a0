import { commitTransaction } from "../db/transaction.ts";
import { moveIntoShard } from "./backfill-shards.ts";
import { AppError } from "../errors.ts";
import { ImagePatch, type ImageInfo } from "./image.schema.ts";
import { readOwned, withRetryOnRace } from "./read-image.ts";
import { listingFields, toImageInfo, type ImageRecord } from "./records.ts";
import type { StoreContext } from "./store-context.ts";
import { parseOrThrow } from "./validate.ts";

/** Edits an image's title, description or tags (owner only); every tag item follows in the same transaction. */
export async function updateImage(
  ctx: StoreContext,
  imageId: string,
  callerId: string,
  patch: ImagePatch,
): Promise<ImageInfo> {
  const changes = parseOrThrow(ImagePatch, patch);
  return withRetryOnRace("updating the image", async () => {
    // An image stored before the write shards is put into its own first (backfill-shards.ts).
    const current = await moveIntoShard(ctx, await readOwned(ctx, imageId, callerId));
    if (current.trashedAt !== undefined) {
      throw new AppError("conflict", "the image is in the trash; restore it to edit it");
    }
    const next: ImageRecord = {
      ...current,
      title: changes.title ?? current.title,
      description: changes.description === undefined ? current.description : (changes.description ?? undefined),
      tags: changes.tags ?? current.tags,
      revision: current.revision + 1,
    };
    const removedTags = current.tags.filter((tag) => !next.tags.includes(tag));
    await commitTransaction(
      ctx.db.transaction
        .write(({ image: images, imageTag: tags }) => {
          const set = images.patch({ imageId }).set({
            title: next.title,
            tags: next.tags,
            revision: next.revision,
            ...(next.description ? { description: next.description } : {}),
          });
          const change = next.description ? set : set.remove(["description"]);
          return [
            change.where((attr, op) => op.eq(attr.revision, current.revision)).commit(),
            ...removedTags.map((tag) => tags.delete({ imageId, tag }).commit()),
            // Every tag item carries the listing's fields, so each is rewritten, not only new ones.
            ...next.tags.map((tag) => tags.put({ ...listingFields(next), tag }).commit()),
          ];
        })
        .go(),
    );
    return toImageInfo(next, ctx.config.bucketName);
  });
}
