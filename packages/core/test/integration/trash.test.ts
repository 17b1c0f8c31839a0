import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TABLE } from "../../src/db/table.ts";
import { createImageStore } from "../../src/image/image-store.ts";
import { tinyPng } from "../support/fixtures.ts";
import { startTestStore, type TestStore } from "../support/local-store.ts";

/** Recently deleted: trash and restore on the embedded emulators, checked in what is stored. */
let t: TestStore;
beforeAll(async () => {
  t = await startTestStore({ UPLOAD_RATE_LIMIT_PER_MINUTE: "1000", TRASH_DAYS: "30" });
});
afterAll(async () => t?.stop());

let seed = 100;
const stored = async (userId: string, tags: string[] = ["beach", "sea"]) =>
  t.store.create({ userId, title: "t", tags, bytes: await tinyPng(seed++) });

const ids = (page: { items: { image_id: string }[] }) => page.items.map((item) => item.image_id);
const imageItem = async (imageId: string) =>
  (await t.itemsOf(imageId)).find((item) => item.__edb_e__ === "image") as Record<string, unknown>;
const tagItems = async (imageId: string) => (await t.itemsOf(imageId)).filter((item) => item.__edb_e__ === "imageTag");

describe("trashing an image", () => {
  it("takes it out of every listing and its tag items away, sets trashedAt and the TTL, keeps its bytes", async () => {
    const image = await stored("tia");
    const objectsBefore = (await t.objectKeys()).filter((key) => key.includes(image.image_id));
    const before = Date.now();
    const trashed = await t.store.trash(image.image_id, "tia");
    expect(trashed).toMatchObject({ image_id: image.image_id, status: "trashed", tags: ["beach", "sea"] });
    const trashedAt = Date.parse(trashed.trashed_at!);
    expect(trashedAt).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(trashed.purge_at!) - trashedAt).toBeGreaterThanOrEqual(30 * 86_400_000 - 1000);
    expect(Date.parse(trashed.purge_at!) - trashedAt).toBeLessThanOrEqual(30 * 86_400_000 + 1000);

    const item = await imageItem(image.image_id);
    expect(item.trashedAt).toBe(trashed.trashed_at);
    expect(item[TABLE.ttlAttribute]).toBe(Date.parse(trashed.purge_at!) / 1000);
    // The listing indexes' keys are gone (sparse), the trash index's are there.
    for (const index of ["gsi1", "gsi2"] as const) {
      expect(item[TABLE.globalIndexes[index].partitionKey]).toBeUndefined();
      expect(item[TABLE.globalIndexes[index].sortKey]).toBeUndefined();
    }
    expect(item[TABLE.globalIndexes.gsi3.partitionKey]).toEqual(expect.stringContaining("tia"));
    expect(await tagItems(image.image_id)).toEqual([]);
    expect((await t.objectKeys()).filter((key) => key.includes(image.image_id))).toEqual(objectsBefore);

    expect(ids(await t.store.list({ userId: "tia" }))).not.toContain(image.image_id);
    expect(ids(await t.store.list({ tag: "beach" }))).not.toContain(image.image_id);
    expect(ids(await t.store.list({ userId: "tia", tag: "sea" }))).not.toContain(image.image_id);
    expect(ids(await t.store.list({}))).not.toContain(image.image_id);
    expect(ids(await t.store.listTrash({ userId: "tia" }))).toEqual([image.image_id]);
    expect(await t.violations()).toEqual([]);
  });

  it("is its owner's alone: 404 to everyone else, who cannot trash, restore or see it", async () => {
    const image = await stored("uma");
    await expect(t.store.trash(image.image_id, "val")).rejects.toMatchObject({ kind: "not_found" });
    await t.store.trash(image.image_id, "uma");
    await expect(t.store.get(image.image_id, "val")).rejects.toMatchObject({ kind: "not_found" });
    await expect(t.store.getWithLinks(image.image_id)).rejects.toMatchObject({ kind: "not_found" });
    await expect(t.store.restore(image.image_id, "val")).rejects.toMatchObject({ kind: "not_found" });
    expect(await t.store.getWithLinks(image.image_id, "uma")).toMatchObject({ status: "trashed" });
    expect(ids(await t.store.listTrash({ userId: "val" }))).toEqual([]);
    // A trashed image is not edited; a second trash answers it as it is.
    await expect(t.store.update(image.image_id, "uma", { title: "x" })).rejects.toMatchObject({ kind: "conflict" });
    const again = await t.store.trash(image.image_id, "uma");
    expect(again.trashed_at).toBe((await t.store.get(image.image_id, "uma")).trashed_at);
  });

  it("lists the owner's trash most recently trashed first, a page at a time, with a cursor for this listing only", async () => {
    let clock = Date.now();
    const ticking = createImageStore({ config: t.config, clients: t.clients, now: () => new Date((clock += 1000)) });
    const images = [await stored("wes"), await stored("wes"), await stored("wes")];
    for (const image of images) await ticking.trash(image.image_id, "wes");
    const first = await t.store.listTrash({ userId: "wes", limit: 2 });
    expect(ids(first)).toEqual([images[2]!.image_id, images[1]!.image_id]);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await t.store.listTrash({ userId: "wes", limit: 2, cursor: first.nextCursor! });
    expect(ids(second)).toEqual([images[0]!.image_id]);
    expect(second.nextCursor).toBeNull();
    await expect(t.store.listTrash({ userId: "xia", cursor: first.nextCursor! })).rejects.toMatchObject({
      kind: "invalid",
    });
    await expect(t.store.list({ userId: "wes", cursor: first.nextCursor! })).rejects.toMatchObject({ kind: "invalid" });
    await expect(t.store.listTrash({ userId: "wes", limit: 0 })).rejects.toMatchObject({ kind: "invalid" });
  });
});

describe("restoring an image", () => {
  it("makes it ready again with every tag item, in every listing, and clears trashedAt and the TTL", async () => {
    const image = await stored("yan", ["alps", "snow", "ski"]);
    await t.store.trash(image.image_id, "yan");
    const restored = await t.store.restore(image.image_id, "yan");
    expect(restored).toMatchObject({ image_id: image.image_id, status: "ready", tags: ["alps", "snow", "ski"] });
    expect(restored).not.toHaveProperty("trashed_at");
    const item = await imageItem(image.image_id);
    expect(item.trashedAt).toBeUndefined();
    expect(item[TABLE.ttlAttribute]).toBeUndefined();
    expect(item[TABLE.globalIndexes.gsi3.partitionKey]).toBeUndefined();
    expect((await tagItems(image.image_id)).map((tag) => tag.tag).sort()).toEqual(["alps", "ski", "snow"]);
    expect(ids(await t.store.list({ userId: "yan" }))).toContain(image.image_id);
    expect(ids(await t.store.list({ tag: "snow" }))).toContain(image.image_id);
    expect(ids(await t.store.list({}))).toContain(image.image_id);
    expect(ids(await t.store.listTrash({ userId: "yan" }))).toEqual([]);
    const links = await t.store.getWithLinks(image.image_id);
    expect(links.renditions.length).toBeGreaterThan(0);
    expect((await fetch(links.download_url!)).status).toBe(200);
    // Restoring a ready image answers it as it is.
    expect(await t.store.restore(image.image_id, "yan")).toMatchObject({ status: "ready" });
    expect(await t.violations()).toEqual([]);
  });

  it("is refused once the purge time has passed, before the TTL removed the item", async () => {
    const image = await stored("zed");
    const longAgo = createImageStore({
      config: t.config,
      clients: t.clients,
      now: () => new Date(Date.now() - 31 * 86_400_000),
    });
    await longAgo.trash(image.image_id, "zed");
    await expect(t.store.restore(image.image_id, "zed")).rejects.toMatchObject({ kind: "not_found" });
    expect(ids(await t.store.listTrash({ userId: "zed" }))).toEqual([]);
  });
});

describe("deleting a trashed image", () => {
  it("deletes it at once: item, objects, nothing left", async () => {
    const image = await stored("abe");
    await t.store.trash(image.image_id, "abe");
    await t.store.remove(image.image_id, "abe");
    expect(await t.itemsOf(image.image_id)).toEqual([]);
    expect((await t.objectKeys()).filter((key) => key.includes(image.image_id))).toEqual([]);
    expect(ids(await t.store.listTrash({ userId: "abe" }))).toEqual([]);
    expect(await t.violations()).toEqual([]);
  });
});

describe("trash, restore, edit and delete at once on one image", () => {
  it("ends in one consistent state whatever wins, which the store checker confirms", async () => {
    for (let round = 0; round < 4; round++) {
      const image = await stored("bo", ["one", "two"]);
      const changes = [
        () => t.store.trash(image.image_id, "bo"),
        () => t.store.update(image.image_id, "bo", { tags: ["three"] }),
        () => t.store.restore(image.image_id, "bo"),
        ...(round % 2 === 0 ? [() => t.store.remove(image.image_id, "bo")] : []),
      ];
      const outcomes = await Promise.allSettled(changes.map((change) => change()));
      for (const outcome of outcomes) {
        if (outcome.status === "rejected") {
          expect(["conflict", "not_found"]).toContain((outcome.reason as { kind: string }).kind);
        }
      }
      const now = await t.store.get(image.image_id, "bo").catch(() => null);
      const listed = ids(await t.store.list({ userId: "bo" })).includes(image.image_id);
      const inTrash = ids(await t.store.listTrash({ userId: "bo" })).includes(image.image_id);
      if (!now) expect([listed, inTrash]).toEqual([false, false]);
      else expect([listed, inTrash]).toEqual([now.status === "ready", now.status === "trashed"]);
      expect(await t.violations()).toEqual([]);
    }
  });
});
