import type { S3Client } from "@aws-sdk/client-s3";
import { createObjectReader } from "@images/core/storage/object-reader";
import { DEVELOPMENT_MEDIA_KEY } from "@images/local";
import type { Hono } from "hono";
import { createMediaRoutes } from "./media-routes.ts";

/**
 * The settings that point rendition URLs at the local twin of the CDN, signed with the
 * development key pair: for the dev server and the tests, never the Lambda (the key is public).
 */
export const localMediaSettings = (baseUrl: string) => ({
  MEDIA_BASE_URL: `${baseUrl}/media`,
  MEDIA_KEY_PAIR_ID: DEVELOPMENT_MEDIA_KEY.keyPairId,
  MEDIA_PRIVATE_KEY: DEVELOPMENT_MEDIA_KEY.privateKeyPem,
});

/** Mounts the twin at /media: it checks each URL as CloudFront does and answers the bytes from S3. */
export function mountLocalMedia(app: Hono<any>, s3: S3Client, bucketName: string): void {
  app.route(
    "/",
    createMediaRoutes({
      publicKeyPem: DEVELOPMENT_MEDIA_KEY.publicKeyPem,
      keyPairId: DEVELOPMENT_MEDIA_KEY.keyPairId,
      objects: createObjectReader(s3, bucketName),
    }),
  );
}
