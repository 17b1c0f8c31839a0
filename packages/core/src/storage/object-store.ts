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
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createLinkSigner } from "./link-signer.ts";

/** Files posted straight to S3 land under this prefix; its ObjectCreated events finish them. */
export const PENDING_UPLOAD_PREFIX = "uploads/";

/**
 * The hash level after each top-level folder: the first two hex digits of the image id's
 * sha256, 256 values. S3 takes 3,500 writes and 5,500 reads a second per partition and splits
 * by the keys' leading bytes; image ids are ULIDs, time-ordered, so right after a bare folder
 * every write of the moment lands on one key range (`images/` capped the service at 3,331
 * uploads a second). Behind the hash level writes spread evenly over 256 ranges S3 can split
 * at: an upload writes about four renditions, so 30,000 uploads a second are some 130,000
 * writes under `renditions/`, 37 partitions' worth; 256 leave room for the hash's uneven spread
 * and years of growth (bench/capacity.ts, bench/RESULTS.md section 7). The folders stay first:
 * the bucket policy, the event filter and the lifecycle rule name them (infra/storage.ts).
 */
export const keyHash = (imageId: string): string => createHash("sha256").update(imageId).digest("hex").slice(0, 2);

/**
 * Where an image's bytes go in the bucket. Readers never rebuild a stored image's keys: its item
 * names them (`objectKey`, `thumbnailKey`, each rendition's `key`; a pending upload's
 * `objectKey`), so images stored under the flat layout keep theirs (flatObjectKeys).
 */
export const objectKeys = {
  /** Where a client posts a large file; a lifecycle rule clears what is left there. */
  pendingUpload: (imageId: string) => `${PENDING_UPLOAD_PREFIX}${keyHash(imageId)}/${imageId}`,
  /** `version` tells apart the files of two runs that finish one upload at once. */
  original: (imageId: string, extension: string, version?: string) =>
    `images/${keyHash(imageId)}/${imageId}${version ? `.${version}` : ""}.${extension}`,
  /**
   * The thumbnail of an image stored before the size ladder, whose item may not name it: flat, as
   * it was written then (nothing writes one now: a new image's thumbnail is its smallest rendition).
   */
  thumbnail: (imageId: string) => `thumbnails/${imageId}.webp`,
  /** One rung of the size ladder; served through the CDN, so its bytes never change under the key. */
  rendition: (imageId: string, width: number, version?: string) =>
    `renditions/${keyHash(imageId)}/${imageId}${version ? `.${version}` : ""}/${width}.webp`,
};

/**
 * The layout before the hash level, which images and pending uploads stored then still carry
 * in their items: for telling their keys apart (finishing an upload started before), never
 * for writing.
 */
export const flatObjectKeys = {
  pendingUpload: (imageId: string) => `${PENDING_UPLOAD_PREFIX}${imageId}`,
  original: (imageId: string, extension: string, version?: string) =>
    `images/${imageId}${version ? `.${version}` : ""}.${extension}`,
  rendition: (imageId: string, width: number, version?: string) =>
    `renditions/${imageId}${version ? `.${version}` : ""}/${width}.webp`,
};

/**
 * The image id a pending upload's key names, in either layout (`uploads/<hh>/<id>`, or
 * `uploads/<id>` for an upload started before the hash level); undefined for any other key.
 */
export function pendingUploadImageId(key: string): string | undefined {
  const imageId = /^uploads\/(?:[0-9a-f]{2}\/)?(img_[0-9A-HJKMNP-TV-Z]{26})$/.exec(key)?.[1];
  if (!imageId) return undefined;
  return key === objectKeys.pendingUpload(imageId) || key === flatObjectKeys.pendingUpload(imageId)
    ? imageId
    : undefined;
}

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
