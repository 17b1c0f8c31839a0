import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startLocalAws, type LocalAws, type ObjectCreatedEvent } from "../src/index.ts";
import { s3Client, uniqueId } from "./clients.ts";

describe("S3 on s3rver", () => {
  let local: LocalAws;
  let s3: S3Client;
  let Bucket: string;
  beforeAll(async () => {
    local = await startLocalAws();
    s3 = s3Client(local);
    Bucket = local.bucketName;
  });
  afterAll(async () => {
    s3?.destroy();
    await local?.stop();
  });

  it("puts, heads, gets and deletes an object", async () => {
    const Key = `originals/${uniqueId()}/photo one.jpg`;
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: "hello image", ContentType: "image/jpeg" }));

    const head = await s3.send(new HeadObjectCommand({ Bucket, Key }));
    expect(head.ContentLength).toBe(11);
    expect(head.ContentType).toBe("image/jpeg");

    const object = await s3.send(new GetObjectCommand({ Bucket, Key }));
    expect(await object.Body?.transformToString()).toBe("hello image");

    await s3.send(new DeleteObjectCommand({ Bucket, Key }));
    await expect(s3.send(new HeadObjectCommand({ Bucket, Key }))).rejects.toMatchObject({ name: "NotFound" });
  });

  it("lists with a prefix and deletes in bulk with DeleteObjects", async () => {
    const prefix = `bulk/${uniqueId()}/`;
    const keys = ["a", "b", "c"].map((name) => prefix + name);
    for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket, Key, Body: Key }));

    const listed = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: prefix }));
    expect(listed.Contents?.map((object) => object.Key).sort()).toEqual(keys);
    expect(listed.KeyCount).toBe(3);

    const deleted = await s3.send(
      new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: false } }),
    );
    expect(deleted.Deleted?.map((object) => object.Key).sort()).toEqual(keys);
    const after = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: prefix }));
    expect(after.Contents ?? []).toEqual([]);
  });

  it("stores a streamed body as sent", async () => {
    // With the SDK's default WHEN_SUPPORTED a stream is sent aws-chunked with a checksum trailer,
    // and s3rver would store the chunk framing as the object's content.
    const Key = `streamed/${uniqueId()}`;
    await s3.send(
      new PutObjectCommand({
        Bucket,
        Key,
        Body: Readable.from([Buffer.from("stream "), Buffer.from("body")]),
        ContentLength: 11,
      }),
    );
    const object = await s3.send(new GetObjectCommand({ Bucket, Key }));
    expect(await object.Body?.transformToString()).toBe("stream body");
    expect(object.ContentEncoding).toBeUndefined();
  });

  it("serves a presigned GET to plain fetch", async () => {
    const Key = `presigned/${uniqueId()}.txt`;
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: "signed body", ContentType: "text/plain" }));
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key }), { expiresIn: 60 });
    expect(url.startsWith(`${local.s3Endpoint}/${Bucket}/`)).toBe(true);

    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("signed body");
  });

  it("accepts a presigned PUT from fetch, storing the body as sent", async () => {
    const Key = `uploads/${uniqueId()}.bin`;
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket, Key, ContentType: "application/octet-stream" }), {
      expiresIn: 60,
    });
    // With the SDK's default WHEN_SUPPORTED the URL would carry x-amz-checksum-crc32 of an empty
    // body, which real S3 rejects for any upload and s3rver silently ignores.
    expect(new URL(url).searchParams.has("x-amz-checksum-crc32")).toBe(false);
    const body = new Uint8Array([0, 1, 2, 3, 250, 251]);
    const response = await fetch(url, { method: "PUT", body, headers: { "content-type": "application/octet-stream" } });
    expect(response.status).toBe(200);

    const object = await s3.send(new GetObjectCommand({ Bucket, Key }));
    expect(await object.Body?.transformToByteArray()).toEqual(body);
  });

  it("allows browser uploads from any origin (CORS preflight)", async () => {
    const response = await fetch(`${local.s3Endpoint}/${Bucket}/uploads/x.jpg`, {
      method: "OPTIONS",
      headers: {
        origin: "http://localhost:5173",
        "access-control-request-method": "PUT",
        "access-control-request-headers": "content-type",
      },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    expect(response.headers.get("access-control-allow-methods")).toMatch(/PUT/);
    expect(response.headers.get("access-control-allow-headers")).toBe("content-type");
  });
});

describe("onObjectCreated", () => {
  it("fires with bucket, key and size for a PutObject", async () => {
    const events: ObjectCreatedEvent[] = [];
    let delivered!: () => void;
    const firstEvent = new Promise<void>((resolve) => (delivered = resolve));
    const local = await startLocalAws({
      bucketName: "events-bucket",
      onObjectCreated: async (event) => {
        events.push(event);
        delivered();
      },
    });
    const s3 = s3Client(local);
    try {
      await s3.send(new PutObjectCommand({ Bucket: "events-bucket", Key: "originals/a b.jpg", Body: "12345" }));
      await firstEvent;
      expect(events).toEqual([{ bucket: "events-bucket", key: "originals/a b.jpg", size: 5 }]);
    } finally {
      s3.destroy();
      await local.stop();
    }
  });

  it("logs a failing callback to stderr and keeps serving", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    let calls = 0;
    const local = await startLocalAws({
      onObjectCreated: (event) => {
        calls++;
        if (event.key === "sync") throw new Error("sync failure");
        return Promise.reject(new Error("async failure"));
      },
    });
    const s3 = s3Client(local);
    try {
      await s3.send(new PutObjectCommand({ Bucket: local.bucketName, Key: "sync", Body: "1" }));
      await s3.send(new PutObjectCommand({ Bucket: local.bucketName, Key: "async", Body: "2" }));
      await vi.waitFor(() => expect(logged).toHaveBeenCalledTimes(2));
      expect(calls).toBe(2);
      expect(logged.mock.calls.map((call) => (call[1] as Error).message)).toEqual(["sync failure", "async failure"]);
      const head = await s3.send(new HeadObjectCommand({ Bucket: local.bucketName, Key: "async" }));
      expect(head.ContentLength).toBe(1);
    } finally {
      logged.mockRestore();
      s3.destroy();
      await local.stop();
    }
  });
});
