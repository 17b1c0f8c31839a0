import type { ImageInfo, ImageWithLinks } from "./image.schema.ts";
import { readImageOrUpload } from "./read-image.ts";
import { toImageInfo } from "./records.ts";
import type { StoreContext } from "./store-context.ts";

/** A ready image for anyone; a pending, failed or trashed one only for its owner (`viewerId`). */
export async function getImage(ctx: StoreContext, imageId: string, viewerId?: string): Promise<ImageInfo> {
  const found = await readImageOrUpload(ctx, imageId, viewerId);
  return "imageId" in found ? toImageInfo(found, ctx.config.bucketName) : found;
}

/** The image with short-lived links to its bytes and thumbnail, served with their real types. */
export async function getImageWithLinks(
  ctx: StoreContext,
  imageId: string,
  viewerId?: string,
): Promise<ImageWithLinks> {
  const record = await readImageOrUpload(ctx, imageId, viewerId);
  if (!("imageId" in record)) {
    const upload = record;
    return {
      ...upload,
      download_url: null,
      download_expires_at: null,
      thumbnail_url: null,
      placeholder: null,
      renditions: [],
    };
  }
  const extension = record.objectKey.slice(record.objectKey.lastIndexOf(".") + 1);
  const [original, delivered] = await Promise.all([
    ctx.objects.presignGet(record.objectKey, {
      expiresInSeconds: ctx.config.downloadUrlTtlSeconds,
      contentType: record.contentType,
      fileName: `${record.imageId}.${extension}`,
    }),
    ctx.deliveryOf(record),
  ]);
  return {
    ...toImageInfo(record, ctx.config.bucketName),
    download_url: original.url,
    download_expires_at: original.expiresAt.toISOString(),
    ...delivered,
  };
}
