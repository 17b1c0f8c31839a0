import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { toAppError } from "../errors.ts";

/** What S3 says about a stored object, as an HTTP answer needs it. */
export interface StoredObjectHead {
  contentType: string;
  /** As S3 gives it, quotes included: `"9b2cf535f27731c974343645a3985328"`. */
  etag: string;
  size: number;
  /** The Cache-Control the object was stored with, if any. */
  cacheControl?: string;
  lastModified?: Date;
}

export interface StoredObject extends StoredObjectHead {
  /** The bytes, streamed: read it or cancel it. */
  body: ReadableStream<Uint8Array>;
}

const isMissing = (error: unknown) =>
  (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404;

function headOf(out: {
  ContentType?: string;
  ETag?: string;
  ContentLength?: number;
  CacheControl?: string;
  LastModified?: Date;
}): StoredObjectHead {
  return {
    // S3's own default for an object stored without a type.
    contentType: out.ContentType ?? "binary/octet-stream",
    etag: out.ETag ?? "",
    size: out.ContentLength ?? 0,
    ...(out.CacheControl ? { cacheControl: out.CacheControl } : {}),
    ...(out.LastModified ? { lastModified: out.LastModified } : {}),
  };
}

/**
 * Whole objects with their stored headers, for serving them over HTTP (the local media twin).
 * null when there is no such object; S3 failing or throttling becomes `unavailable`.
 */
export function createObjectReader(s3: S3Client, bucket: string) {
  return {
    async head(key: string): Promise<StoredObjectHead | null> {
      try {
        return headOf(await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
      } catch (error) {
        if (isMissing(error)) return null;
        throw toAppError(error, "reading the object");
      }
    },

    async get(key: string): Promise<StoredObject | null> {
      try {
        const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        if (!out.Body) throw new Error(`S3 answered no body for ${key}`);
        return { ...headOf(out), body: out.Body.transformToWebStream() };
      } catch (error) {
        if (isMissing(error)) return null;
        throw toAppError(error, "reading the object");
      }
    },
  };
}

export type ObjectReader = ReturnType<typeof createObjectReader>;
