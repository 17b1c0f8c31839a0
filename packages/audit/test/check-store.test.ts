import { DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { DeleteCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tinyPng } from "../../core/test/support/fixtures.ts";
import { startTestStore, type TestStore } from "../../core/test/support/local-store.ts";
import { checkStore } from "../src/check-store.ts";

let t: TestStore;
const check = () =>
  checkStore({
    dynamo: t.clients.dynamo,
    s3: t.clients.s3,
    tableName: t.config.tableName,
    bucketName: t.config.bucketName,
  });
const rules = async () => (await check()).violations.map((v) => v.rule).sort();
/** The rules broken about one image (other tests leave their own breakage behind). */
const rulesAbout = async (imageId: string) =>
  (await check()).violations
    .filter((v) => v.detail.includes(imageId))
    .map((v) => v.rule)
    .sort();

beforeAll(async () => {
  t = await startTestStore();
});
afterAll(async () => t?.stop());

describe("the store checker", () => {
  it("finds nothing wrong in a store the service wrote", async () => {
    const a = await t.store.create({ userId: "ann", title: "a", tags: ["x", "y"], bytes: await tinyPng(1) });
    await t.store.create({ userId: "bea", title: "b", tags: ["x"], bytes: await tinyPng(2) });
    await t.store.update(a.image_id, "ann", { tags: ["y", "z"] });
    await t.store.startLargeUpload("ann", { title: "big", contentType: "image/jpeg", sizeBytes: 100 });
    const report = await check();
    // Two originals and their ladders (one rung each, the pictures being small), no thumbnails apart.
    expect(report).toMatchObject({
      images: 2,
      imagesWithoutRenditions: 0,
      tagItems: 3,
      pendingUploads: 1,
      objects: 4,
      violations: [],
    });
  });

  it("finds an image whose object is gone, and an object with no item", async () => {
    const image = await t.store.create({ userId: "cal", title: "c", bytes: await tinyPng(3) });
    const key = image.s3_url.replace(/^s3:\/\/[^/]+\//, "");
    await t.clients.s3.send(new DeleteObjectCommand({ Bucket: t.config.bucketName, Key: key }));
    await t.clients.s3.send(new PutObjectCommand({ Bucket: t.config.bucketName, Key: "images/stray.png", Body: "x" }));
    await t.clients.s3.send(
      new PutObjectCommand({ Bucket: t.config.bucketName, Key: "uploads/img_01ARZ3NDEKTSV4RRFFQ69G5FAV", Body: "x" }),
    );
    expect(await rules()).toEqual([
      "image_without_object",
      "object_without_item",
      "upload_object_without_pending_upload",
    ]);
    await t.store.remove(image.image_id, "cal");
    await t.clients.s3.send(new DeleteObjectCommand({ Bucket: t.config.bucketName, Key: "images/stray.png" }));
    await t.clients.s3.send(
      new DeleteObjectCommand({ Bucket: t.config.bucketName, Key: "uploads/img_01ARZ3NDEKTSV4RRFFQ69G5FAV" }),
    );
    expect(await rules()).toEqual([]);
  });

  it("finds tag items that are missing, stale, or without their image", async () => {
    const image = await t.store.create({ userId: "dan", title: "d", tags: ["p", "q"], bytes: await tinyPng(4) });
    const items = await t.itemsOf(image.image_id);
    const tagP = items.find((item) => item.tag === "p")!;
    const tagQ = items.find((item) => item.tag === "q")!;
    await t.clients.dynamo.send(
      new DeleteCommand({ TableName: t.config.tableName, Key: { pk: tagP.pk, sk: tagP.sk } }),
    );
    await t.clients.dynamo.send(
      new PutCommand({ TableName: t.config.tableName, Item: { ...tagQ, title: "old title" } }),
    );
    await t.clients.dynamo.send(
      new PutCommand({
        TableName: t.config.tableName,
        Item: {
          ...tagQ,
          pk: "$images#imageId_img_01ARZ3NDEKTSV4RRFFQ69G5FAV",
          imageId: "img_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        },
      }),
    );
    expect(await rules()).toEqual(["tag_item_stale", "tag_item_without_image", "tag_without_item"]);
  });

  it("knows renditions and reads the bytes: a missing rung, a stray rung, a ladder lost, bytes that differ", async () => {
    const image = await t.store.create({ userId: "eli", title: "e", bytes: await tinyPng(5) });
    const [item] = (await t.itemsOf(image.image_id)).filter((i) => i.__edb_e__ === "image");
    const rung = (item!.renditions as { key: string }[])[0]!.key;
    const original = image.s3_url.replace(/^s3:\/\/[^/]+\//, "");
    const put = (Key: string, Body: Uint8Array | string) =>
      t.clients.s3.send(new PutObjectCommand({ Bucket: t.config.bucketName, Key, Body }));
    await t.clients.s3.send(new DeleteObjectCommand({ Bucket: t.config.bucketName, Key: rung }));
    await put(`renditions/${image.image_id}/999.webp`, "x");
    expect(await rulesAbout(image.image_id)).toEqual(["image_without_object", "object_without_item"]);
    await t.clients.s3.send(
      new DeleteObjectCommand({ Bucket: t.config.bucketName, Key: `renditions/${image.image_id}/999.webp` }),
    );

    // The same number of bytes, other bytes: only reading them tells.
    const other = Buffer.from(await tinyPng(5));
    other.writeUInt8(other.readUInt8(other.length - 20) ^ 0xff, other.length - 20);
    await put(original, other);
    await put(rung, "restored");
    const digests = await checkStore({
      dynamo: t.clients.dynamo,
      s3: t.clients.s3,
      tableName: t.config.tableName,
      bucketName: t.config.bucketName,
      verifyDigests: true,
    });
    expect(digests.violations.filter((v) => v.detail.includes(image.image_id)).map((v) => v.rule)).toEqual([
      "image_bytes_differ",
    ]);
    await put(original, "short");
    expect(await rulesAbout(image.image_id)).toEqual(["image_bytes_differ"]);

    // A record of today's contract without its ladder is wrong; one from before the ladder is counted.
    const { renditions, ...withoutLadder } = item!;
    expect(renditions).toBeDefined();
    await t.clients.dynamo.send(new PutCommand({ TableName: t.config.tableName, Item: withoutLadder }));
    expect((await rulesAbout(image.image_id)).filter((rule) => rule !== "image_bytes_differ")).toEqual([
      "image_without_renditions",
    ]);
    const { placeholder, ...legacy } = withoutLadder;
    expect(placeholder).toBeDefined();
    await t.clients.dynamo.send(new PutCommand({ TableName: t.config.tableName, Item: legacy }));
    const report = await check();
    expect(report.imagesWithoutRenditions).toBe(1);
    await t.store.remove(image.image_id, "eli");
  });

  it("knows trash: a trashed image keeps its objects, has no tag items, is in no listing index, carries its TTL", async () => {
    const image = await t.store.create({ userId: "fay", title: "f", tags: ["r", "s"], bytes: await tinyPng(6) });
    await t.store.trash(image.image_id, "fay");
    expect(await rulesAbout(image.image_id)).toEqual([]);
    expect((await check()).trashedImages).toBeGreaterThanOrEqual(1);
    const [item] = (await t.itemsOf(image.image_id)).filter((i) => i.__edb_e__ === "image");
    const put = (Item: Record<string, unknown>) =>
      t.clients.dynamo.send(new PutCommand({ TableName: t.config.tableName, Item }));

    // A tag item left behind, listing keys still there, no TTL: each is named.
    await put({ ...item!, gsi2pk: "$images#userId_fay", gsi2sk: "x" });
    const { expires_at: ttl, ...withoutTtl } = item!;
    expect(ttl).toEqual(expect.any(Number));
    expect(await rulesAbout(image.image_id)).toEqual(["trashed_image_listed"]);
    await put(withoutTtl);
    expect(await rulesAbout(image.image_id)).toEqual(["trashed_image_without_ttl"]);
    await put(item!);
    await t.store.restore(image.image_id, "fay");
    const tag = (await t.itemsOf(image.image_id)).find((i) => i.__edb_e__ === "imageTag")!;
    await t.store.trash(image.image_id, "fay");
    await put(tag);
    expect(await rulesAbout(image.image_id)).toEqual(["trashed_image_has_tag_item"]);
    await t.store.remove(image.image_id, "fay");
    await t.clients.dynamo.send(new DeleteCommand({ TableName: t.config.tableName, Key: { pk: tag.pk, sk: tag.sk } }));
    expect(await rulesAbout(image.image_id)).toEqual([]);
  });

  it("knows digests: each names only its owner's images of that file, and each image is named", async () => {
    const image = await t.store.create({ userId: "gil", title: "g", bytes: await tinyPng(7) });
    const [item] = (await t.itemsOf(image.image_id)).filter((i) => i.__edb_e__ === "image");
    const put = (Item: Record<string, unknown>) =>
      t.clients.dynamo.send(new PutCommand({ TableName: t.config.tableName, Item }));
    // The image's file named by another digest: that digest names a file the image is not, and the image is unnamed.
    await put({ ...item!, uploadedSha256: "f".repeat(64) });
    expect(await rulesAbout(image.image_id)).toEqual(["digest_without_image", "image_without_digest"]);
    await put(item!);
    expect(await rulesAbout(image.image_id)).toEqual([]);
    await t.store.remove(image.image_id, "gil");
  });
});
