import { PutCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../../core/src/db/service.ts";
import { backfillShards, moveIntoShard } from "../../core/src/image/backfill-shards.ts";
import { createImageStore } from "../../core/src/image/image-store.ts";
import type { ListFilter } from "../../core/src/image/image.schema.ts";
import { shardOf } from "../../core/src/image/listing-shards.ts";
import { createMonthCatalog } from "../../core/src/image/month-catalog.ts";
import type { ImageRecord } from "../../core/src/image/records.ts";
import { tinyPng } from "../../core/test/support/fixtures.ts";
import { startTestStore, type TestStore } from "../../core/test/support/local-store.ts";
import { checkStore } from "../src/check-store.ts";
import { imagesWithoutShards } from "../src/images-without-shards.ts";

const SHARDS = 4;
let t: TestStore;
type Item = Record<string, unknown>;

const check = () =>
  checkStore({
    dynamo: t.clients.dynamo,
    s3: t.clients.s3,
    tableName: t.config.tableName,
    bucketName: t.config.bucketName,
  });
const backfill = () =>
  backfillShards({
    config: t.config,
    clients: t.clients,
    imagePages: imagesWithoutShards(t.clients.dynamo, t.config.tableName),
  });
/** A store as a freshly started function has it: its catalog read now, not cached from before. */
const freshStore = () => createImageStore({ config: t.config, clients: t.clients, log: () => {} });
const idsOf = async (filter: ListFilter) =>
  (await freshStore().list({ limit: 100, ...filter })).items.map((i) => i.image_id);
const put = (Item: Item) => t.clients.dynamo.send(new PutCommand({ TableName: t.config.tableName, Item }));
const imageItem = async (imageId: string) => (await t.itemsOf(imageId)).find((item) => item.__edb_e__ === "image")!;
const tagItems = async (imageId: string) => (await t.itemsOf(imageId)).filter((item) => item.__edb_e__ === "imageTag");

/**
 * Stores an image back as ElectroDB wrote it before the write shards (44390a7^): no `shard` on
 * the image or its tag items, the month key `$images#month_<month>` and the tag key
 * `$images#tag_<tag>`. With `uploadTime`, it is moved to that time (and month) too.
 */
async function makeLegacy(imageId: string, uploadTime?: string): Promise<void> {
  for (const item of await t.itemsOf(imageId)) {
    const { shard: _shard, ...old } = item;
    const time = uploadTime ?? String(item.uploadTime);
    const month = time.slice(0, 7);
    const after = `uploadTime_${time}#imageId_${imageId}`;
    const keys: Item = { uploadTime: time };
    if (item.gsi2sk !== undefined) keys.gsi2sk = `$${String(item.__edb_e__)}_1#${after}`;
    if (item.__edb_e__ === "image") {
      Object.assign(keys, { month });
      if (item.gsi1pk !== undefined)
        Object.assign(keys, { gsi1pk: `$images#month_${month}`, gsi1sk: `$image_1#${after}` });
    } else {
      Object.assign(keys, { gsi1pk: `$images#tag_${String(item.tag)}`, gsi1sk: `$imageTag_1#${after}` });
    }
    await put({ ...old, ...keys });
  }
}

/** The catalog item as a deployment of before the shards has it (its oldest month only), plus `monthShards`. */
async function legacyCatalog(earliestMonth: string, monthShards: string[] = []): Promise<void> {
  const out = await t.clients.dynamo.send(new ScanCommand({ TableName: t.config.tableName, ConsistentRead: true }));
  const { monthShards: _shards, ...catalog } = (out.Items ?? []).find((item) => item.__edb_e__ === "catalog")!;
  await put({ ...catalog, earliestMonth, ...(monthShards.length ? { monthShards: new Set(monthShards) } : {}) });
}

beforeAll(async () => {
  t = await startTestStore({ LISTING_SHARDS: String(SHARDS) });
});
afterAll(async () => t?.stop());

describe("npm run listings:backfill", () => {
  it("puts images stored before the write shards into theirs: every listing finds them; again, it does nothing", async () => {
    const create = async (userId: string, title: string, tags: string[], seed: number) =>
      (await t.store.create({ userId, title, tags, bytes: await tinyPng(seed) })).image_id;
    const today = await create("ann", "today", ["spring", "garden"], 1);
    const bea = await create("bea", "bea's", ["spring"], 2);
    const march = await create("ann", "march", ["spring", "snow"], 3);
    const trashed = await create("ann", "trashed", ["spring"], 4);
    // One whose shard out of 8 is not its shard out of 4: its month's count must be the catalog's.
    let june = "";
    for (let seed = 5; !june || shardOf(june, 8) < SHARDS; seed++) {
      if (june) await t.store.remove(june, "bea");
      june = await create("bea", "june", ["snow"], seed);
    }
    const modern = await create("cid", "after the upgrade", ["spring"], 40);
    await t.store.trash(trashed, "ann");
    for (const id of [today, bea, trashed]) await makeLegacy(id);
    await makeLegacy(march, "2025-03-10T08:00:00.000Z");
    await makeLegacy(june, "2025-06-20T08:00:00.000Z");
    await legacyCatalog("2025-03", ["2025-06=8"]);
    const modernBefore = await t.itemsOf(modern);

    const legacy = await check();
    expect(legacy).toMatchObject({ images: 6, imagesWithoutShards: 5, trashedImages: 1, violations: [] });
    // The month and tag listings do not find them; the owner's do (one partition, no shard).
    expect(await idsOf({})).toEqual([modern]);
    expect(await idsOf({ tag: "spring" })).toEqual([modern]);
    expect(await idsOf({ tag: "snow" })).toEqual([]);
    expect(await idsOf({ userId: "ann" })).toEqual([today, march]);
    // Editing one works, and moves it into its shard.
    await freshStore().update(bea, "bea", { title: "bea's, edited" });
    expect(await idsOf({ tag: "spring" })).toEqual([modern, bea]);

    const seen: string[] = [];
    const report = await backfillShards({
      config: t.config,
      clients: t.clients,
      imagePages: imagesWithoutShards(t.clients.dynamo, t.config.tableName),
      onImage: ({ imageId, outcome }) => seen.push(`${outcome} ${imageId}`),
    });
    expect(report).toMatchObject({ done: 4, skipped: 0, failed: 0 });
    expect(seen.sort()).toEqual([today, march, trashed, june].map((id) => `done ${id}`).sort());

    // Its shard: of the catalog's count for its month, else LISTING_SHARDS (which it notes).
    for (const [id, count] of [
      [today, SHARDS],
      [bea, SHARDS],
      [march, SHARDS],
      [june, 8],
      [trashed, SHARDS],
    ] as const) {
      const item = await imageItem(id);
      expect(item.shard, id).toBe(shardOf(id, count));
      for (const tag of await tagItems(id)) expect(tag.shard).toBe(item.shard);
    }
    const catalog = await createMonthCatalog(createDb(t.clients.dynamo, t.config.tableName)).read();
    expect(catalog.shardsByMonth.get("2025-03")).toBe(SHARDS);
    expect(catalog.shardsByMonth.get("2025-06")).toBe(8);
    // The trashed one got no tag items; it is still in the trash only.
    expect(await tagItems(trashed)).toEqual([]);
    expect(await t.itemsOf(modern)).toEqual(modernBefore);

    const after = await check();
    expect(after).toMatchObject({ images: 6, imagesWithoutShards: 0, violations: [] });
    expect(await idsOf({})).toEqual([modern, bea, today, june, march]);
    expect(await idsOf({ tag: "spring" })).toEqual([modern, bea, today, march]);
    expect(await idsOf({ tag: "snow" })).toEqual([june, march]);
    expect(await idsOf({ tag: "garden" })).toEqual([today]);
    expect(await idsOf({ from: "2025-01-01", to: "2025-12-31" })).toEqual([june, march]);
    expect(await idsOf({ from: "2025-06-01", to: "2025-06-30" })).toEqual([june]);
    expect(await idsOf({ tag: "snow", from: "2025-01-01", to: "2025-04-01" })).toEqual([march]);
    expect(await idsOf({ userId: "bea", tag: "snow" })).toEqual([june]);
    expect(await idsOf({ userId: "ann", from: "2025-01-01" })).toEqual([today, march]);
    // Page by page, one at a time: the cursor carries on over every shard and month.
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await freshStore().list({ limit: 1, ...(cursor ? { cursor } : {}) });
      paged.push(...page.items.map((i) => i.image_id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(paged).toEqual([modern, bea, today, june, march]);

    // Restored, the trashed one is in its shard of every tag.
    await freshStore().restore(trashed, "ann");
    expect(await idsOf({ tag: "spring" })).toEqual([modern, trashed, bea, today, march]);
    expect(await check()).toMatchObject({ imagesWithoutShards: 0, violations: [] });

    const before = await t.snapshot();
    expect(await backfill()).toMatchObject({ done: 0, skipped: 0, failed: 0 });
    expect(await t.snapshot()).toEqual(before);
  });

  it("edits, trashes, restores and deletes an image not backfilled yet", async () => {
    const create = async (title: string, tags: string[], seed: number) =>
      (await t.store.create({ userId: "dee", title, tags, bytes: await tinyPng(seed) })).image_id;
    const edited = await create("to edit", ["old", "kept"], 60);
    const binned = await create("to trash", ["bin"], 61);
    const gone = await create("to delete", ["gone"], 62);
    for (const id of [edited, binned, gone]) await makeLegacy(id);
    const store = freshStore();

    const answer = await store.update(edited, "dee", { title: "edited", tags: ["kept", "new"] });
    expect(answer).toMatchObject({ title: "edited", tags: ["kept", "new"] });
    expect((await imageItem(edited)).shard).toBe(shardOf(edited, SHARDS));
    expect((await tagItems(edited)).map((item) => [item.tag, item.shard])).toEqual([
      ["kept", shardOf(edited, SHARDS)],
      ["new", shardOf(edited, SHARDS)],
    ]);
    expect(await idsOf({ tag: "new" })).toEqual([edited]);
    expect(await idsOf({ tag: "old" })).toEqual([]);

    await store.trash(binned, "dee");
    expect(await tagItems(binned)).toEqual([]);
    expect(await idsOf({ tag: "bin" })).toEqual([]);
    await store.restore(binned, "dee");
    expect(await idsOf({ tag: "bin" })).toEqual([binned]);
    expect((await imageItem(binned)).shard).toBe(shardOf(binned, SHARDS));

    await store.remove(gone, "dee");
    expect(await t.itemsOf(gone)).toEqual([]);
    expect(await check()).toMatchObject({ imagesWithoutShards: 0, violations: [] });
  });

  it("a move that lost its race with an edit changes nothing, and the backfill skips an image gone since the scan", async () => {
    const id = (await t.store.create({ userId: "eve", title: "raced", tags: ["race"], bytes: await tinyPng(70) }))
      .image_id;
    await makeLegacy(id);
    const db = createDb(t.clients.dynamo, t.config.tableName);
    const stale = (await db.entities.image.get({ imageId: id }).go({ consistent: true })).data as ImageRecord;
    await put({ ...(await imageItem(id)), revision: stale.revision + 1 });
    const before = await t.itemsOf(id);
    await expect(moveIntoShard({ config: t.config, db, months: createMonthCatalog(db) }, stale)).rejects.toMatchObject({
      name: "TransactionCanceledException",
    });
    expect(await t.itemsOf(id)).toEqual(before);

    // Deleting one not backfilled works; the backfill then skips it, and an id that is none.
    await t.store.remove(id, "eve");
    expect(await t.itemsOf(id)).toEqual([]);
    const pages = async function* () {
      yield [id, "img_00000000000000000000000000"];
    };
    const report = await backfillShards({ config: t.config, clients: t.clients, imagePages: pages() });
    expect(report).toMatchObject({ done: 0, skipped: 2, failed: 0 });
  });
});

describe("the store checker's shard rules", () => {
  it("names a tag item in another shard than its image, and an image keyed in a shard without one", async () => {
    const id = (await t.store.create({ userId: "fay", title: "checked", tags: ["one"], bytes: await tinyPng(80) }))
      .image_id;
    expect((await check()).violations).toEqual([]);
    const [tag] = await tagItems(id);
    const other = (Number(tag!.shard) + 1) % SHARDS;
    await put({ ...tag!, shard: other, gsi1pk: `$images#tag_one#shard_${other}` });
    expect((await check()).violations).toEqual([
      { rule: "tag_item_shard_differs", detail: expect.stringContaining(`${id}/one: shard ${other}`) },
    ]);
    await put(tag!);
    const { shard: _shard, ...image } = await imageItem(id);
    await put(image);
    expect((await check()).violations).toEqual([{ rule: "image_without_shard", detail: expect.stringContaining(id) }]);
    await put({ ...image, shard: "2" });
    expect((await check()).violations).toEqual([
      { rule: "image_without_shard", detail: expect.stringContaining("is not one") },
    ]);
    await put({ ...image, shard: (Number(tag!.shard) + 1) % SHARDS });
    expect((await check()).violations.map((v) => v.rule)).toEqual([
      "image_shard_key_differs",
      "tag_item_shard_differs",
    ]);
    await put({ ...image, shard: tag!.shard });
    expect((await check()).violations).toEqual([]);
  });
});
