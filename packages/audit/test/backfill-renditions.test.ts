import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAwsClients } from "../../core/src/aws/clients.ts";
import { backfillRenditions, type BackfillOptions } from "../../core/src/image/backfill-renditions.ts";
import { createImageEventConsumer } from "../../core/src/events/consumer.ts";
import { STAGED_RECORD_SECONDS } from "../../core/src/image/staged-objects.ts";
import { imagesWithoutRenditions } from "../src/images-without-renditions.ts";
import { fixture, tinyPng } from "../../core/test/support/fixtures.ts";
import { startTestStore, type TestStore } from "../../core/test/support/local-store.ts";
import { checkStore } from "../src/check-store.ts";

let t: TestStore;
const check = (verifyDigests = false) =>
  checkStore({
    dynamo: t.clients.dynamo,
    s3: t.clients.s3,
    tableName: t.config.tableName,
    bucketName: t.config.bucketName,
    verifyDigests,
  });
const backfill = (options: Partial<BackfillOptions> = {}) =>
  backfillRenditions({
    config: t.config,
    clients: t.clients,
    log: () => undefined,
    imagePages: imagesWithoutRenditions(t.clients.dynamo, t.config.tableName),
    ...options,
  });
const imageItem = async (imageId: string) => (await t.itemsOf(imageId)).find((item) => item.__edb_e__ === "image")!;

/**
 * Turns a stored image back into one from before the ladder, on the image item and every tag
 * item: no renditions, no placeholder, its thumbnail at the old fixed key (the smallest rung's
 * bytes, a real WebP), no rendition objects.
 */
async function makeLegacy(imageId: string): Promise<void> {
  const items = await t.itemsOf(imageId);
  const image = items.find((item) => item.__edb_e__ === "image")!;
  const rungs = image.renditions as { key: string }[];
  const smallest = await t.clients.s3.send(new GetObjectCommand({ Bucket: t.config.bucketName, Key: rungs[0]!.key }));
  await t.clients.s3.send(
    new PutObjectCommand({
      Bucket: t.config.bucketName,
      Key: `thumbnails/${imageId}.webp`,
      Body: await smallest.Body!.transformToByteArray(),
      ContentType: "image/webp",
    }),
  );
  for (const item of items) {
    const { renditions: _renditions, placeholder: _placeholder, ...legacy } = item;
    await t.clients.dynamo.send(
      new PutCommand({
        TableName: t.config.tableName,
        Item: { ...legacy, thumbnailKey: `thumbnails/${imageId}.webp` },
      }),
    );
  }
  for (const { key } of rungs) {
    await t.clients.s3.send(new DeleteObjectCommand({ Bucket: t.config.bucketName, Key: key }));
  }
}

beforeAll(async () => {
  t = await startTestStore();
});
afterAll(async () => t?.stop());

describe("npm run renditions:backfill", () => {
  let flower: string;
  let tiny: string;
  let modern: string;

  it("gives images stored before the ladder their renditions, placeholder and thumbnail; again, it does nothing", async () => {
    flower = (
      await t.store.create({
        userId: "ann",
        title: "flower",
        tags: ["spring", "garden"],
        bytes: fixture("FreshFlower.jpg"),
      })
    ).image_id;
    tiny = (await t.store.create({ userId: "bea", title: "tiny", bytes: await tinyPng(1) })).image_id;
    modern = (await t.store.create({ userId: "bea", title: "today's", tags: ["spring"], bytes: await tinyPng(2) }))
      .image_id;
    const modernBefore = await t.itemsOf(modern);
    await makeLegacy(flower);
    await makeLegacy(tiny);

    const legacy = await check();
    expect(legacy).toMatchObject({ images: 3, imagesWithoutRenditions: 2, violations: [] });
    expect(await t.store.getWithLinks(flower)).toMatchObject({ placeholder: null, renditions: [] });

    // Past the pixel limit: refused, and nothing stored.
    const objectsBefore = await t.objectKeys();
    const limited = await backfill({ config: { ...t.config, maxImagePixels: 1000 } });
    expect(limited).toMatchObject({ done: 1, skipped: 0, failed: 1 });
    expect(limited.outcomes.find((o) => o.imageId === flower)).toMatchObject({
      outcome: "failed",
      detail: expect.stringMatching(/more than the limit of 1000/),
    });
    expect((await t.objectKeys()).filter((key) => key.includes(flower))).toEqual(
      objectsBefore.filter((key) => key.includes(flower)),
    );

    const seen: string[] = [];
    const report = await backfill({ onImage: ({ imageId, outcome }) => seen.push(`${outcome} ${imageId}`) });
    expect(report).toMatchObject({ done: 1, skipped: 0, failed: 0 });
    expect(seen).toEqual([`done ${flower}`]);

    const after = await check(true);
    expect(after).toMatchObject({ images: 3, imagesWithoutRenditions: 0, violations: [] });
    // The old thumbnails are gone; each image's thumbnail is now its smallest rendition.
    const keys = await t.objectKeys();
    expect(keys.filter((key) => key.startsWith("thumbnails/"))).toEqual([]);
    for (const id of [flower, tiny]) {
      const item = await imageItem(id);
      expect(item.revision).toBe(2);
      expect(item.thumbnailKey).toBe((item.renditions as { key: string }[])[0]!.key);
      expect(typeof item.placeholder).toBe("string");
    }

    const got = await t.store.getWithLinks(flower);
    expect(got.renditions.map((r) => [r.width, r.height])).toEqual([
      [320, 241],
      [640, 481],
      [1080, 812],
    ]);
    expect(got.placeholder).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(got.thumbnail_url).toBe(got.renditions[0]!.url);
    const fetched = await fetch(got.renditions[1]!.url);
    expect(fetched.status).toBe(200);
    expect((await fetched.arrayBuffer()).byteLength).toBe(got.renditions[1]!.size_bytes);
    // The tag items carry them too: a tag listing answers them.
    const listed = await t.store.list({ tag: "garden" });
    expect(listed.items.map((item) => [item.image_id, item.renditions.length])).toEqual([[flower, 3]]);
    const tinyGot = await t.store.getWithLinks(tiny);
    expect(tinyGot.renditions).toHaveLength(1);
    // An image of today's contract is not touched.
    expect(await t.itemsOf(modern)).toEqual(modernBefore);

    const before = await t.snapshot();
    expect(await backfill()).toMatchObject({ done: 0, skipped: 0, failed: 0, outcomes: [] });
    expect(await t.snapshot()).toEqual(before);
  });

  /** Clients whose first rendition put runs `hook` first: the moment between decoding and committing. */
  function clientsRacing(hook: () => Promise<unknown>) {
    const clients = createAwsClients(t.config);
    let ran = false;
    clients.s3.middlewareStack.add(
      (next, context) => async (args) => {
        const key = (args.input as { Key?: string }).Key ?? "";
        if (!ran && context.commandName === "PutObjectCommand" && key.startsWith("renditions/")) {
          ran = true;
          await hook();
        }
        return next(args);
      },
      { step: "initialize" },
    );
    return clients;
  }

  it("keeps an edit made while it worked, on the image and its tag items", async () => {
    const id = (await t.store.create({ userId: "cal", title: "before", tags: ["a", "b"], bytes: await tinyPng(3) }))
      .image_id;
    await makeLegacy(id);
    const report = await backfill({
      clients: clientsRacing(() => t.store.update(id, "cal", { title: "edited", tags: ["b", "c"] })),
    });
    expect(report).toMatchObject({ done: 1, skipped: 0, failed: 0 });
    expect(await check(true)).toMatchObject({ imagesWithoutRenditions: 0, stagedRuns: 0, violations: [] });
    const item = await imageItem(id);
    expect(item).toMatchObject({ title: "edited", tags: ["b", "c"], revision: 3 });
    expect((await t.store.list({ tag: "c" })).items.map((image) => [image.title, image.renditions.length])).toEqual([
      ["edited", 1],
    ]);
  });

  it("leaves nothing behind when the image is deleted while it works", async () => {
    const id = (await t.store.create({ userId: "dan", title: "doomed", tags: ["z"], bytes: await tinyPng(4) }))
      .image_id;
    await makeLegacy(id);
    const report = await backfill({ clients: clientsRacing(() => t.store.remove(id, "dan")) });
    expect(report).toMatchObject({ done: 0, skipped: 1, failed: 0 });
    expect(report.outcomes[0]).toMatchObject({ imageId: id, detail: "deleted while it was being done" });
    expect((await t.objectKeys()).filter((key) => key.includes(id))).toEqual([]);
    expect(await check(true)).toMatchObject({ imagesWithoutRenditions: 0, stagedRuns: 0, violations: [] });
  });

  it("a run that stops before its commit leaves its renditions to the staged record's purge", async () => {
    const id = (await t.store.create({ userId: "gil", title: "stopped", bytes: await tinyPng(7) })).image_id;
    await makeLegacy(id);
    const legacyKeys = (await t.objectKeys()).filter((key) => key.includes(id));
    // Its commit is throttled and no read can tell whether it happened: the run stops there.
    const clients = createAwsClients(t.config);
    let stopped = false;
    clients.dynamo.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "TransactWriteItemsCommand" || context.commandName === "GetItemCommand") {
          const committing = context.commandName === "TransactWriteItemsCommand";
          if (committing || stopped) {
            stopped = true;
            throw Object.assign(new Error("injected throttling"), { name: "ThrottlingException", $metadata: {} });
          }
        }
        return next(args);
      },
      { step: "initialize" },
    );
    const report = await backfill({
      clients,
      imagePages: (async function* () {
        yield [id];
      })(),
    });
    expect(report).toMatchObject({ done: 0, skipped: 0, failed: 1 });
    expect((await t.objectKeys()).filter((key) => key.includes(id)).length).toBeGreaterThan(legacyKeys.length);
    expect(await check(true)).toMatchObject({ imagesWithoutRenditions: 1, stagedRuns: 1, violations: [] });

    // A day later the TTL removes the staged record, and the stream consumer's purge its renditions.
    const local = t.localAws!;
    const from = local.changes.records().length;
    await local.sweepExpired(Date.now() / 1000 + STAGED_RECORD_SECONDS + 60);
    const consume = createImageEventConsumer({ config: t.config, clients: t.clients, publish: async () => {} });
    expect(await consume(local.changes.records().slice(from) as never)).toEqual({ batchItemFailures: [] });
    expect((await t.objectKeys()).filter((key) => key.includes(id)).sort()).toEqual(legacyKeys.sort());
    expect(await check(true)).toMatchObject({ imagesWithoutRenditions: 1, stagedRuns: 0, violations: [] });
    await t.store.remove(id, "gil");
  });

  it("reports an image whose original is gone as failed, and stores nothing for it", async () => {
    const id = (await t.store.create({ userId: "eli", title: "lost", bytes: await tinyPng(5) })).image_id;
    await makeLegacy(id);
    const original = String((await imageItem(id)).objectKey);
    await t.clients.s3.send(new DeleteObjectCommand({ Bucket: t.config.bucketName, Key: original }));
    const report = await backfill();
    expect(report).toMatchObject({ done: 0, skipped: 0, failed: 1 });
    expect(report.outcomes[0]!.detail).toContain(`its original ${original} is missing`);
    expect((await t.objectKeys()).filter((key) => key.includes(id))).toEqual([`thumbnails/${id}.webp`]);
    await t.store.remove(id, "eli");
    expect(await check()).toMatchObject({ imagesWithoutRenditions: 0, violations: [] });
  });

  it("backfills a trashed image without writing its tag items back; restoring it lists it with its ladder", async () => {
    const id = (await t.store.create({ userId: "fay", title: "trashed", tags: ["y"], bytes: await tinyPng(6) }))
      .image_id;
    await makeLegacy(id);
    await t.store.trash(id, "fay");
    const report = await backfill();
    expect(report).toMatchObject({ done: 1, failed: 0 });
    expect((await t.itemsOf(id)).filter((item) => item.__edb_e__ === "imageTag")).toEqual([]);
    expect(await check(true)).toMatchObject({ imagesWithoutRenditions: 0, violations: [] });
    await t.store.restore(id, "fay");
    const [listed] = (await t.store.list({ tag: "y" })).items;
    expect(listed).toMatchObject({ image_id: id, status: "ready" });
    expect(listed!.renditions.length).toBeGreaterThan(0);
    expect(await check(true)).toMatchObject({ violations: [] });
    await t.store.remove(id, "fay");
  });
});
