import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { createPresignedPost } from "@aws-sdk/s3-presigned-post";
import { createWriteStream } from "node:fs";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createLinkSigner } from "./link-signer.ts";

/** Files posted straight to S3 land under this prefix; its ObjectCreated events finish them. */
export const PENDING_UPLOAD_PREFIX = "uploads/";

/** Where an image's bytes live in the bucket. */
export const objectKeys = {
  /** Where a client posts a large file; a lifecycle rule clears what is left there. */
  pendingUpload: (imageId: string) => `${PENDING_UPLOAD_PREFIX}${imageId}`,
  /** `version` tells apart the files of two runs that finish one upload at once. */
  original: (imageId: string, extension: string, version?: string) =>
    `images/${imageId}${version ? `.${version}` : ""}.${extension}`,
  thumbnail: (imageId: string, version?: string) => `thumbnails/${imageId}${version ? `.${version}` : ""}.webp`,
  /** One rung of the size ladder; served through the CDN, so its bytes never change under the key. */
  rendition: (imageId: string, width: number, version?: string) =>
    `renditions/${imageId}${version ? `.${version}` : ""}/${width}.webp`,
};

/**
 * How long caches may keep an object. Originals are reached only through short-lived presigned
 * links; renditions through signed CDN URLs, which the edge checks before it answers from its
 * cache, so shared caches may keep them (`private` would forbid CloudFront to).
 */
export const CACHE_CONTROL = {
  private: "private, max-age=31536000, immutable",
  public: "public, max-age=31536000, immutable",
};

export interface PresignedGet {
  url: string;
  expiresAt: Date;
}

/** The bucket, in the terms the domain needs: put, delete, check, and a short-lived link. */
export function createObjectStore(s3: S3Client, bucket: string) {
  const signGet = createLinkSigner(s3, bucket);
  return {
    bucket,

    async put(
      key: string,
      body: Uint8Array,
      contentType: string,
      cacheControl: string = CACHE_CONTROL.private,
    ): Promise<void> {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType: contentType,
          // Keys never change content: an image edit writes no new bytes.
          CacheControl: cacheControl,
        }),
      );
    },

    /** Streams a body of unknown length in parts, never holding it whole. */
    async putStream(key: string, body: Readable, contentType: string): Promise<void> {
      const upload = new Upload({
        client: s3,
        params: {
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType: contentType,
          CacheControl: CACHE_CONTROL.private,
        },
        queueSize: 2,
        partSize: 5 * 1024 * 1024,
      });
      await upload.done();
    },

    /** Up to `max` keys under a prefix. */
    async listKeys(prefix: string, max = 100): Promise<string[]> {
      const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: max }));
      return (out.Contents ?? []).flatMap((object) => (object.Key ? [object.Key] : []));
    },

    /** The object's size, or null when there is none. */
    async size(key: string): Promise<number | null> {
      try {
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return head.ContentLength ?? 0;
      } catch (error) {
        if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return null;
        throw error;
      }
    },

    /**
     * A form post straight to S3 for one key: its content type fixed, its size bounded by a
     * policy that S3 enforces, and the link dead after `expiresInSeconds`.
     */
    async presignPost(key: string, options: { contentType: string; maxBytes: number; expiresInSeconds: number }) {
      const expiresAt = new Date(Date.now() + options.expiresInSeconds * 1000);
      const { url, fields } = await createPresignedPost(s3, {
        Bucket: bucket,
        Key: key,
        Conditions: [
          ["content-length-range", 1, options.maxBytes],
          ["eq", "$Content-Type", options.contentType],
        ],
        Fields: { "Content-Type": options.contentType },
        Expires: options.expiresInSeconds,
      });
      return { url, fields, expiresAt };
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

    /**
     * Streams the object into a new file at `path`, never holding it whole; false when there is
     * no object. A download that breaks off rejects, and what it wrote stays for the caller to remove.
     */
    async downloadToFile(key: string, path: string): Promise<boolean> {
      let body: Readable | undefined;
      try {
        body = (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body as Readable | undefined;
      } catch (error) {
        if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
        throw error;
      }
      await pipeline(body ?? [], createWriteStream(path, { flags: "wx" }));
      return true;
    },

    /** A GET link that expires, served with the stored content type and a safe file name. */
    async presignGet(
      key: string,
      options: { expiresInSeconds: number; contentType: string; fileName: string },
    ): Promise<PresignedGet> {
      const expiresAt = new Date(Date.now() + options.expiresInSeconds * 1000);
      const url = await signGet(
        key,
        {
          "response-content-type": options.contentType,
          "response-content-disposition": `inline; filename="${options.fileName.replace(/[^A-Za-z0-9._-]/g, "_")}"`,
        },
        options.expiresInSeconds,
      );
      return { url, expiresAt };
    },
  };
}

export type ObjectStore = ReturnType<typeof createObjectStore>;
