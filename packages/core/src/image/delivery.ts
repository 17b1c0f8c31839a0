import type { Config } from "../config.ts";
import { createMediaSigner } from "../storage/media-signer.ts";
import { objectKeys, type ObjectStore } from "../storage/object-store.ts";
import type { RenditionInfo } from "./image.schema.ts";
import { RENDITION_TYPE, THUMBNAIL_TYPE } from "./processing.ts";
import type { ListingRecord } from "./records.ts";

export interface Delivery {
  placeholder: string | null;
  renditions: RenditionInfo[];
  /** The smallest rendition's URL; images stored before the ladder keep their thumbnail's link. */
  thumbnail_url: string;
}

/**
 * What a client needs to show an image: the placeholder and the size ladder with URLs that stay
 * the same within a window (signed for the CDN, `MEDIA_*`), so browser and CDN caches can hit.
 * Without media settings (core's own tests) the URLs are presigned S3 links instead.
 */
export function createDelivery(config: Config, objects: ObjectStore) {
  const signer = config.media
    ? createMediaSigner({
        baseUrl: config.media.baseUrl,
        keyPairId: config.media.keyPairId,
        privateKeyPem: config.media.privateKeyPem,
        windowSeconds: config.media.windowSeconds,
      })
    : undefined;

  const presigned = async (key: string, contentType: string, fileName: string) =>
    (await objects.presignGet(key, { expiresInSeconds: config.downloadUrlTtlSeconds, contentType, fileName })).url;

  return async function deliveryOf(record: ListingRecord): Promise<Delivery> {
    const renditions = await Promise.all(
      (record.renditions ?? []).map(async (rendition) => ({
        width: rendition.width,
        height: rendition.height,
        content_type: RENDITION_TYPE,
        size_bytes: rendition.sizeBytes,
        url: signer
          ? signer.urlFor(rendition.key)
          : await presigned(rendition.key, RENDITION_TYPE, `${record.imageId}-${rendition.width}.webp`),
      })),
    );
    const thumbnail_url =
      renditions[0]?.url ??
      (await presigned(
        record.thumbnailKey ?? objectKeys.thumbnail(record.imageId),
        THUMBNAIL_TYPE,
        `${record.imageId}-thumbnail.webp`,
      ));
    return { placeholder: record.placeholder ?? null, renditions, thumbnail_url };
  };
}
