import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { createDb } from "@images/core/db/service";
import { entityOf, isTtlRemoval, oldItemOf, type ChangeRecord } from "@images/core/events/change-record";
import { purgeExpired } from "@images/core/events/purge";
import { createObjectStore, flatObjectKeys, keyHash, objectKeys } from "@images/core/storage/object-store";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tinyPng } from "../../core/test/support/fixtures.ts";
import { eventually, postToS3 } from "../../core/test/support/post-upload.ts";
import { sha256, startTestApi, type TestApi } from "./support/test-api.ts";

/**
 * The bucket's layout: new objects behind a hash level after their folder (object-store.ts),
 * images stored under the flat layout before it still served, listed, checked, deleted and
 * purged by the keys their items name.
 */
let t: TestApi;
beforeAll(async () => {
  t = await startTestApi({ UPLOAD_RATE_LIMIT_PER_MINUTE: "1000" });
});
afterAll(async () => t?.stop());

interface Image {
  image_id: string;
  status: string;
  s3_url: string;
  sha256: string;
  download_url?: string;
  thumbnail_url: string;
  renditions: { width: number; url: string }[];
}

let seed = 300;
async function uploaded(user: string, tags: string[]): Promise<{ image: Image; bytes: Uint8Array }> {
  const bytes = await tinyPng(seed++);
  const response = await t.upload(user, bytes, { title: "layout", tags });
  expect(response.status).toBe(201);
  return { image: (await response.json()) as Image, bytes };
}

const objectsOf = async (imageId: string) => (await t.objectKeys()).filter((key) => key.includes(imageId));

const HASHED = /^(images|renditions|uploads)\/([0-9a-f]{2})\//;
/** A key of the layout before the hash level: the same key without it. */
const flat = (key: string) => key.replace(HASHED, "$1/");

/**
 * Moves an image to the flat layout, as if stored before the hash level: its objects (bytes,
 * content type and cache control kept) and every key its items name.
 */
async function storeFlat(imageId: string): Promise<string[]> {
  const { s3, dynamo } = t.clients;
  const Bucket = t.config.bucketName;
  const moved: string[] = [];
  for (const key of await objectsOf(imageId)) {
    const object = await s3.send(new GetObjectCommand({ Bucket, Key: key }));
    const body = await object.Body!.transformToByteArray();
    await s3.send(
      new PutObjectCommand({
        Bucket,
        Key: flat(key),
        Body: body,
        ContentType: object.ContentType,
        CacheControl: object.CacheControl,
      }),
    );
    await s3.send(new DeleteObjectCommand({ Bucket, Key: key }));
    moved.push(flat(key));
  }
  const rewrite = (value: unknown): unknown =>
    typeof value === "string"
      ? flat(value)
      : Array.isArray(value)
        ? value.map(rewrite)
        : value instanceof Set
          ? value
          : typeof value === "object" && value !== null
            ? Object.fromEntries(Object.entries(value).map(([name, inner]) => [name, rewrite(inner)]))
            : value;
  for (const item of await t.itemsOf(imageId)) {
    await dynamo.send(
      new PutCommand({ TableName: t.config.tableName, Item: rewrite(item) as Record<string, unknown> }),
    );
  }
  return moved.sort();
}

/** A GET of a URL the service handed out: the local CDN twin through the app, or S3. */
const fetched = async (url: string) => (url.startsWith("http://localhost/media/") ? t.app.request(url) : fetch(url));

describe("a new image's objects", () => {
  it("lie behind the hash level of its id, under the folders the bucket's rules name", async () => {
    const { image, bytes } = await uploaded("hana", ["layout"]);
    const id = image.image_id;
    const hh = keyHash(id);
    expect(hh).toMatch(/^[0-9a-f]{2}$/);
    const keys = await objectsOf(id);
    expect(keys).toContain(`images/${hh}/${id}.png`);
    expect(keys.filter((key) => key.startsWith(`renditions/${hh}/${id}/`)).length).toBeGreaterThan(0);
    expect(keys.every((key) => HASHED.exec(key)?.[2] === hh)).toBe(true);
    expect(image.s3_url).toBe(`s3://${t.config.bucketName}/images/${hh}/${id}.png`);

    const got = (await (await t.call("GET", `/images/${id}`, { user: "hana" })).json()) as Image;
    const downloaded = new Uint8Array(await (await fetch(got.download_url!)).arrayBuffer());
    expect(sha256(downloaded)).toBe(got.sha256);
    expect(downloaded.byteLength).toBeGreaterThan(0);
    expect(bytes.byteLength).toBeGreaterThan(0);
    for (const rendition of got.renditions) {
      expect(new URL(rendition.url).pathname).toMatch(new RegExp(`^/media/renditions/${hh}/${id}/\\d+\\.webp$`));
      const answer = await fetched(rendition.url);
      expect(answer.status).toBe(200);
      expect(answer.headers.get("content-type")).toBe("image/webp");
    }
    expect(await t.violations()).toEqual([]);
  });

  it("of a large upload: posted under uploads/<hh>/, finished there, the posted file gone", async () => {
    const bytes = await tinyPng(seed++);
    const started = await t.call("POST", "/images/upload", {
      user: "hana",
      json: { title: "large", tags: ["layout"], content_type: "image/png", size_bytes: bytes.byteLength },
    });
    expect(started.status).toBe(201);
    const body = (await started.json()) as { image: Image; upload: Parameters<typeof postToS3>[0] };
    const id = body.image.image_id;
    const hh = keyHash(id);
    expect(body.upload.fields.key).toBe(`uploads/${hh}/${id}`);
    expect((await postToS3(body.upload, bytes)).ok).toBe(true);
    const ready = await eventually(async () => {
      const image = (await (await t.call("GET", `/images/${id}`, { user: "hana" })).json()) as Image;
      return image.status === "ready" ? image : undefined;
    });
    expect(ready.s3_url).toMatch(new RegExp(`^s3://${t.config.bucketName}/images/${hh}/${id}\\.[0-9a-z]{10}\\.png$`));
    // The image is ready once committed; the finishing run removes the posted file after that.
    await Promise.allSettled(t.finished);
    const keys = await objectsOf(id);
    expect(keys.some((key) => key.startsWith("uploads/"))).toBe(false);
    expect(keys.length).toBeGreaterThan(1);
    expect(keys.every((key) => HASHED.exec(key)?.[2] === hh)).toBe(true);
    expect(await t.violations()).toEqual([]);
  });
});

describe("an image stored under the flat layout", () => {
  it("is served, listed and checked by the keys its items name, and deleted whole", async () => {
    const { image } = await uploaded("ivo", ["flatland", "layout"]);
    const id = image.image_id;
    const moved = await storeFlat(id);
    expect(moved).toContain(`images/${id}.png`);
    expect(moved.every((key) => !HASHED.test(key))).toBe(true);
    expect(await objectsOf(id)).toEqual(moved);
    expect(await t.violations()).toEqual([]);

    const got = (await (await t.call("GET", `/images/${id}`, { user: "ivo" })).json()) as Image;
    expect(got.s3_url).toBe(`s3://${t.config.bucketName}/images/${id}.png`);
    expect(sha256(new Uint8Array(await (await fetch(got.download_url!)).arrayBuffer()))).toBe(got.sha256);
    expect(got.renditions.length).toBeGreaterThan(0);
    for (const rendition of got.renditions) {
      expect(new URL(rendition.url).pathname).toMatch(new RegExp(`^/media/renditions/${id}/\\d+\\.webp$`));
      expect((await fetched(rendition.url)).status).toBe(200);
    }

    for (const query of ["?user_id=ivo", "?tag=flatland", "?user_id=ivo&tag=layout", ""]) {
      const page = (await (await t.call("GET", `/images${query}`)).json()) as { items: Image[] };
      const listed = page.items.find((item) => item.image_id === id);
      expect(listed, query).toBeDefined();
      expect(new URL(listed!.thumbnail_url).pathname).toMatch(new RegExp(`^/media/renditions/${id}/`));
      expect((await fetched(listed!.thumbnail_url)).status).toBe(200);
    }

    expect((await t.call("DELETE", `/images/${id}`, { user: "ivo" })).status).toBe(204);
    expect(await objectsOf(id)).toEqual([]);
    expect(await t.itemsOf(id)).toEqual([]);
    expect((await t.call("GET", `/images/${id}`, { user: "ivo" })).status).toBe(404);
    expect(await t.violations()).toEqual([]);
  });

  it("is purged whole by the TTL after the trash", async () => {
    const { image } = await uploaded("ivo", ["flatland"]);
    const id = image.image_id;
    await storeFlat(id);
    const trashed = await t.call("POST", `/images/${id}/trash`, { user: "ivo" });
    expect(trashed.status).toBe(200);
    const { purge_at } = (await trashed.json()) as { purge_at: string };
    expect(await t.violations()).toEqual([]);
    const local = t.localAws!;
    expect(await local.sweepExpired(Date.parse(purge_at) / 1000 + 1)).toBeGreaterThanOrEqual(1);
    // The TTL's removal of the image item, as the stream hands it to the purge.
    const removal = (local.changes.records() as unknown as ChangeRecord[]).find((record) => {
      const item = oldItemOf(record);
      return isTtlRemoval(record) && entityOf(item) === "image" && item?.imageId === id;
    });
    expect(removal).toBeDefined();
    const deps = {
      db: createDb(t.clients.dynamo, t.config.tableName),
      objects: createObjectStore(t.clients.s3, t.config.bucketName),
    };
    expect(await purgeExpired(removal!, deps)).toBe(true);
    expect(await objectsOf(id)).toEqual([]);
    expect(await t.itemsOf(id)).toEqual([]);
    expect(await t.violations()).toEqual([]);
  });
});

describe("a large upload started under the flat layout", () => {
  it("finishes from uploads/<id>; a file at the new key for it is a stray and goes", async () => {
    const bytes = await tinyPng(seed++);
    const started = await t.call("POST", "/images/upload", {
      user: "jon",
      json: { title: "before", tags: ["layout"], content_type: "image/png", size_bytes: bytes.byteLength },
    });
    expect(started.status).toBe(201);
    const id = ((await started.json()) as { image: Image }).image.image_id;
    // The upload record as the service wrote it before the hash level.
    const db = createDb(t.clients.dynamo, t.config.tableName);
    await t.clients.dynamo.send(
      new UpdateCommand({
        TableName: t.config.tableName,
        Key: db.entities.upload.get({ imageId: id }).params().Key,
        UpdateExpression: "SET objectKey = :key",
        ExpressionAttributeValues: { ":key": flatObjectKeys.pendingUpload(id) },
      }),
    );
    const Bucket = t.config.bucketName;
    const put = (Key: string) =>
      t.clients.s3.send(new PutObjectCommand({ Bucket, Key, Body: bytes, ContentType: "image/png" }));

    const finishedBefore = t.finished.length;
    await put(objectKeys.pendingUpload(id));
    await eventually(async () => (t.finished.length > finishedBefore ? true : undefined));
    expect(await t.finished.at(-1)).toBe("ignored");
    expect(await objectsOf(id)).toEqual([]);
    expect(((await (await t.call("GET", `/images/${id}`, { user: "jon" })).json()) as Image).status).toBe("pending");

    await put(flatObjectKeys.pendingUpload(id));
    await eventually(async () => (t.finished.length > finishedBefore + 1 ? true : undefined));
    expect(await t.finished.at(-1)).toBe("ready");
    const ready = (await (await t.call("GET", `/images/${id}`, { user: "jon" })).json()) as Image;
    expect(ready.status).toBe("ready");
    // Finished today: its stored files take the new layout, the posted one is gone.
    const keys = await objectsOf(id);
    expect(keys.some((key) => key.startsWith("uploads/"))).toBe(false);
    expect(keys.every((key) => HASHED.exec(key)?.[2] === keyHash(id))).toBe(true);
    expect(await t.violations()).toEqual([]);
  });
});
