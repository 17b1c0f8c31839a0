import { DeleteObjectsCommand, GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

/** Where an image's bytes live in the bucket. */
export const objectKeys = {
  original: (imageId: string, extension: string) => `images/${imageId}.${extension}`,
  thumbnail: (imageId: string) => `thumbnails/${imageId}.webp`,
};

export interface PresignedGet {
  url: string;
  expiresAt: Date;
}

/** The bucket, in the terms the domain needs: put, delete, check, and a short-lived link. */
export function createObjectStore(s3: S3Client, bucket: string) {
  return {
    bucket,

    async put(key: string, body: Uint8Array, contentType: string): Promise<void> {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType: contentType,
          // Keys never change content: an image edit writes no new bytes.
          CacheControl: "private, max-age=31536000, immutable",
        }),
      );
    },

    /** Deletes every key in one request; a key already gone counts as deleted. */
    async deleteMany(keys: string[]): Promise<void> {
      if (keys.length === 0) return;
      const result = await s3.send(
        new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
        }),
      );
      const failed = result.Errors ?? [];
      if (failed.length > 0) {
        const error = new Error(`S3 kept ${failed.length} object(s): ${failed[0]?.Code ?? "unknown"}`);
        error.name = failed[0]?.Code === "SlowDown" ? "SlowDown" : "InternalError";
        throw error;
      }
    },

    /** A GET link that expires, served with the stored content type and a safe file name. */
    async presignGet(
      key: string,
      options: { expiresInSeconds: number; contentType: string; fileName: string },
    ): Promise<PresignedGet> {
      const command = new GetObjectCommand({
        Bucket: bucket,
        Key: key,
        ResponseContentType: options.contentType,
        ResponseContentDisposition: `inline; filename="${options.fileName.replace(/[^A-Za-z0-9._-]/g, "_")}"`,
      });
      const expiresAt = new Date(Date.now() + options.expiresInSeconds * 1000);
      const url = await getSignedUrl(s3, command, { expiresIn: options.expiresInSeconds });
      return { url, expiresAt };
    },
  };
}

export type ObjectStore = ReturnType<typeof createObjectStore>;
