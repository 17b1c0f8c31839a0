import { GetObjectCommand, HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { AppError } from "../../src/errors.ts";
import { createObjectReader } from "../../src/storage/object-reader.ts";

/** What the reader makes of S3's answers; the emulator's real ones are in packages/api/test/media.test.ts. */
const client = new S3Client({ region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "y" } });
const s3 = mockClient(client);
const reader = createObjectReader(client, "bucket");
const awsError = (name: string, status: number) =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

beforeEach(() => s3.reset());

describe("createObjectReader", () => {
  it("gives the stored headers, and S3's default type for an object stored without one", async () => {
    const lastModified = new Date("2026-11-25T12:00:00Z");
    s3.on(HeadObjectCommand).resolves({
      ETag: '"abc"',
      ContentLength: 5,
      CacheControl: "public",
      LastModified: lastModified,
    });
    expect(await reader.head("k")).toEqual({
      contentType: "binary/octet-stream",
      etag: '"abc"',
      size: 5,
      cacheControl: "public",
      lastModified,
    });
  });

  it("answers null for a missing object, unavailable when S3 throttles or fails", async () => {
    s3.on(HeadObjectCommand).rejects(awsError("NotFound", 404));
    s3.on(GetObjectCommand).rejects(awsError("NoSuchKey", 404));
    expect(await reader.head("k")).toBeNull();
    expect(await reader.get("k")).toBeNull();
    s3.on(HeadObjectCommand).rejects(awsError("SlowDown", 503));
    s3.on(GetObjectCommand).rejects(awsError("InternalError", 500));
    for (const read of [reader.head("k"), reader.get("k")]) {
      await expect(read).rejects.toSatisfy((error) => error instanceof AppError && error.kind === "unavailable");
    }
  });

  it("does not hide an answer without a body", async () => {
    s3.on(GetObjectCommand).resolves({ ETag: '"abc"' });
    await expect(reader.get("k")).rejects.toThrow(/no body/);
  });
});
