import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixture, tinyPng } from "../support/fixtures.ts";
import { startTestStore, type TestStore } from "../support/local-store.ts";
import { eventually, postToS3 } from "../support/post-upload.ts";

/** Duplicates: the sha256 of each file as uploaded, per owner, and what uploads do with one. */
let t: TestStore;
beforeAll(async () => {
  t = await startTestStore({ UPLOAD_RATE_LIMIT_PER_MINUTE: "1000" });
});
afterAll(async () => t?.stop());

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
let seed = 300;
const fresh = () => tinyPng(seed++);

/** Everything stored but per-user rate counters (bookkeeping, not what a request stored). */
const snapshot = async () => {
  const all = await t.snapshot();
  return { ...all, items: all.items.filter((item) => item.__edb_e__ !== "rateWindow") };
};

describe("checking digests", () => {
  it("names the caller's images of the files as uploaded, not the re-encoded bytes, and only the caller's", async () => {
    const bytes = fixture("FreshFlowerGPS.jpg");
    const image = await t.store.create({ userId: "cat", title: "flower", bytes });
    expect(image.sha256).not.toBe(sha256(bytes)); // stored re-encoded, without EXIF
    const other = await fresh();
    expect(await t.store.checkDigests("cat", [sha256(bytes), sha256(other), image.sha256!])).toEqual([
      { sha256: sha256(bytes), imageId: image.image_id },
    ]);
    expect(await t.store.checkDigests("dan", [sha256(bytes)])).toEqual([]);
  });

  it("answers the oldest of several copies, forgets trashed and deleted ones, and remembers restored ones", async () => {
    const bytes = await fresh();
    const first = await t.store.create({ userId: "eli", title: "a", bytes });
    const second = await t.store.create({ userId: "eli", title: "b", bytes });
    const digest = sha256(bytes);
    expect(await t.store.checkDigests("eli", [digest])).toEqual([{ sha256: digest, imageId: first.image_id }]);
    await t.store.trash(first.image_id, "eli");
    expect(await t.store.checkDigests("eli", [digest])).toEqual([{ sha256: digest, imageId: second.image_id }]);
    await t.store.remove(second.image_id, "eli");
    expect(await t.store.checkDigests("eli", [digest])).toEqual([]);
    await t.store.restore(first.image_id, "eli");
    expect(await t.store.checkDigests("eli", [digest])).toEqual([{ sha256: digest, imageId: first.image_id }]);
    expect(await t.violations()).toEqual([]);
  });

  it("takes up to 100 digests, in any case, and refuses more or malformed ones", async () => {
    const bytes = await fresh();
    const image = await t.store.create({ userId: "fin", title: "a", bytes });
    const many = Array.from({ length: 99 }, (_, i) => sha256(new Uint8Array([i])));
    const known = await t.store.checkDigests("fin", [...many, sha256(bytes).toUpperCase()]);
    expect(known).toEqual([{ sha256: sha256(bytes), imageId: image.image_id }]);
    await expect(t.store.checkDigests("fin", [...many, "a", "b"])).rejects.toMatchObject({ kind: "invalid" });
    await expect(t.store.checkDigests("fin", ["not hex"])).rejects.toMatchObject({ kind: "invalid" });
  });
});

describe("an upload of a file the owner already has", () => {
  it("is stored again by default, refused with on_duplicate=reject, answered with on_duplicate=return", async () => {
    const bytes = await fresh();
    const first = await t.store.create({ userId: "gus", title: "a", bytes });
    const again = await t.store.create({ userId: "gus", title: "b", bytes });
    expect(again.image_id).not.toBe(first.image_id);

    const before = await snapshot();
    await expect(t.store.create({ userId: "gus", title: "c", bytes }, { onDuplicate: "reject" })).rejects.toMatchObject(
      { kind: "conflict", details: { existingImageId: first.image_id } },
    );
    const returned = await t.store.uploadDirect({ userId: "gus", title: "d", bytes }, { onDuplicate: "return" });
    expect(returned).toMatchObject({ existing: true, image: { image_id: first.image_id, title: "a" } });
    expect(await snapshot()).toEqual(before);
    // Another owner's copy is no duplicate of this one's.
    expect(await t.store.uploadDirect({ userId: "hal", title: "e", bytes }, { onDuplicate: "reject" })).toMatchObject({
      existing: false,
    });
  });

  it("uploaded by many at once with on_duplicate=reject is stored exactly once", async () => {
    const bytes = await fresh();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        t.store.create({ userId: "ida", title: `${i}`, bytes }, { onDuplicate: "reject" }),
      ),
    );
    const stored = outcomes.filter((outcome) => outcome.status === "fulfilled");
    expect(stored).toHaveLength(1);
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") expect(outcome.reason).toMatchObject({ kind: "conflict" });
    }
    expect((await t.store.list({ userId: "ida" })).items).toHaveLength(1);
    expect(await t.violations()).toEqual([]);
  });

  it("straight to S3: answered at the start when the digest comes with it, refused at the finish otherwise", async () => {
    const bytes = await fresh();
    const first = await t.store.create({ userId: "jon", title: "a", bytes });
    const request = { title: "big", contentType: "image/png", sizeBytes: bytes.length };
    await expect(
      t.store.startLargeUpload("jon", { ...request, sha256: sha256(bytes) }, { onDuplicate: "reject" }),
    ).rejects.toMatchObject({ kind: "conflict", details: { existingImageId: first.image_id } });
    expect(
      await t.store.uploadLarge("jon", { ...request, sha256: sha256(bytes) }, { onDuplicate: "return" }),
    ).toMatchObject({
      existing: true,
      value: { image_id: first.image_id },
    });

    const started = await t.store.startLargeUpload("jon", request, { onDuplicate: "reject" });
    if (!("upload" in started)) throw new Error("expected a started upload");
    expect((await postToS3(started.upload, bytes)).status).toBeLessThan(300);
    const failed = await eventually(async () => {
      const image = await t.store.get(started.image.image_id, "jon");
      return image.status === "pending" ? undefined : image;
    });
    expect(failed).toMatchObject({ status: "failed", failure_reason: expect.stringContaining(first.image_id) });
    expect((await t.objectKeys()).filter((key) => key.includes(started.image.image_id))).toEqual([]);

    // Stored by default; the finished image is known by the file as posted.
    const stored = await t.store.startLargeUpload("jon", { ...request, title: "kept" });
    expect((await postToS3(stored.upload, await fresh())).status).toBeLessThan(300);
    const ready = await eventually(async () => {
      const image = await t.store.get(stored.image.image_id, "jon");
      return image.status === "ready" ? image : undefined;
    });
    expect(ready.status).toBe("ready");
    // The image reads ready once committed; the finishing run deletes the posted file after that.
    await Promise.allSettled(t.finished);
    expect(await t.violations()).toEqual([]);
  });
});
