import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../../src/errors.ts";
import { createImageStore } from "../../src/image/image-store.ts";
import type { ImageInfo } from "../../src/image/image.schema.ts";
import { objectKeys } from "../../src/storage/object-store.ts";
import { fixture, tinyPng } from "../support/fixtures.ts";
import { startTestStore, type TestStore } from "../support/local-store.ts";
import { eventually, postToS3 } from "../support/post-upload.ts";

let t: TestStore;
beforeAll(async () => {
  t = await startTestStore();
});
afterAll(async () => t?.stop());

const elephants = fixture("Elephants_3840x2160.jpg");
const settled = (imageId: string, owner: string) =>
  eventually(async () => {
    const image = await t.store.get(imageId, owner);
    return image.status === "pending" ? undefined : image;
  });
/** Waits for every finishing step the bucket's events started. */
const finishing = () => Promise.allSettled(t.finished);

async function start(user: string, declared: { contentType: string; sizeBytes: number }, extra: object = {}) {
  return t.store.startLargeUpload(user, { title: "Big", tags: ["Safari"], ...declared, ...extra });
}

describe("a large upload straight to S3", () => {
  it("takes the 8 MB JPEG from request to ready and download, with no call beyond the form post", async () => {
    const started = await start("alice", { contentType: "image/jpeg", sizeBytes: elephants.length });
    expect(started.image).toMatchObject({
      status: "pending",
      user_id: "alice",
      tags: ["safari"],
      width: null,
      sha256: null,
    });
    expect(started.upload).toMatchObject({ method: "POST", max_bytes: elephants.length });
    expect(started.upload.fields.key).toBe(objectKeys.pendingUpload(started.image.image_id));
    expect(Date.parse(started.upload.expires_at) - Date.now()).toBeLessThanOrEqual(15 * 60_000);

    // Pending: its owner sees it, nobody else does, and no listing shows it.
    expect((await t.store.get(started.image.image_id, "alice")).status).toBe("pending");
    await expect(t.store.get(started.image.image_id, "bob")).rejects.toMatchObject({ kind: "not_found" });
    expect((await t.store.list({ userId: "alice" })).items).toEqual([]);

    const posted = await postToS3(started.upload, elephants);
    expect(posted.status).toBeLessThan(300);
    const ready = await settled(started.image.image_id, "alice");
    expect(ready).toMatchObject({ status: "ready", width: 3840, height: 2160, content_type: "image/jpeg" });

    const links = await t.store.getWithLinks(started.image.image_id, "bob");
    const bytes = new Uint8Array(await (await fetch(links.download_url!)).arrayBuffer());
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(ready.sha256);
    expect(bytes.length).toBe(ready.size_bytes);
    const meta = await sharp(bytes).metadata();
    expect([meta.width, meta.height, meta.exif]).toEqual([3840, 2160, undefined]);
    expect((await t.store.list({ tag: "safari" })).items.map((i) => i.image_id)).toEqual([ready.image_id]);
    expect(await t.objectKeys()).not.toContain(objectKeys.pendingUpload(ready.image_id));

    // A duplicate or late event changes nothing.
    const before = await t.snapshot();
    expect(await t.store.finishUpload(objectKeys.pendingUpload(ready.image_id))).toBe("ignored");
    expect(await t.snapshot()).toEqual(before);
  });
});

describe("refused large uploads leave no object and no image, and tell the owner why", () => {
  async function refusedAfterPost(
    declared: { contentType: string; sizeBytes: number },
    bytes: Uint8Array,
    reason: RegExp,
  ) {
    const started = await start("carol", declared);
    await postToS3(started.upload, bytes);
    const failed = (await settled(started.image.image_id, "carol")) as ImageInfo;
    expect(failed.status).toBe("failed");
    expect(failed.failure_reason).toMatch(reason);
    await expect(t.store.get(started.image.image_id, "dave")).rejects.toMatchObject({ kind: "not_found" });
    await finishing();
    expect((await t.objectKeys()).filter((key) => key.includes(started.image.image_id))).toEqual([]);
    const items = await t.itemsOf(started.image.image_id);
    expect(items.map((item) => item.__edb_e__)).toEqual(["upload"]);
    expect((await t.store.list({ userId: "carol" })).items).toEqual([]);
    // Its owner may clear it at once.
    await t.store.remove(started.image.image_id, "carol");
    expect(await t.itemsOf(started.image.image_id)).toEqual([]);
  }

  it("a file larger than declared", async () => {
    await refusedAfterPost(
      { contentType: "image/jpeg", sizeBytes: 1000 },
      fixture("FreshFlower.jpg"),
      /more than the 1000 declared/,
    );
  });

  it("a file of another type than declared", async () => {
    const png = fixture("Spring.png");
    await refusedAfterPost(
      { contentType: "image/jpeg", sizeBytes: png.length },
      png,
      /image\/png, not the declared image\/jpeg/,
    );
  });

  it("a file that is not an image", async () => {
    const svg = fixture("oceans.svg");
    await refusedAfterPost({ contentType: "image/png", sizeBytes: svg.length }, svg, /accepted formats/);
  });

  it("an image whose data is damaged", async () => {
    const cut = fixture("FreshFlower.jpg").subarray(0, 40_000);
    await refusedAfterPost({ contentType: "image/jpeg", sizeBytes: cut.length }, cut, /could not be decoded/);
  });
});

describe("starting a large upload", () => {
  const kindOf = (promise: Promise<unknown>) =>
    promise.then(
      () => "ok",
      (e: AppError) => e.kind,
    );

  it("refuses a type that is not accepted, a size over the limit, and bad metadata, storing nothing", async () => {
    const before = await t.snapshot();
    expect(await kindOf(start("erin", { contentType: "image/svg+xml", sizeBytes: 100 }))).toBe("unsupported_type");
    expect(await kindOf(start("erin", { contentType: "image/jpeg", sizeBytes: 50 * 1024 * 1024 + 1 }))).toBe(
      "too_large",
    );
    expect(await kindOf(start("erin", { contentType: "image/jpeg", sizeBytes: 0 }))).toBe("invalid");
    expect(await kindOf(start("erin", { contentType: "image/jpeg", sizeBytes: 10 }, { title: "" }))).toBe("invalid");
    expect(await t.snapshot()).toEqual(before);
  });

  it("ends failed, with a reason, once its link and grace period have passed; a late file is removed", async () => {
    const earlier = createImageStore({
      config: t.config,
      clients: t.clients,
      now: () => new Date(Date.now() - 3 * 3600_000),
    });
    const started = await earlier.startLargeUpload("fay", { title: "late", contentType: "image/png", sizeBytes: 1000 });
    expect(await t.itemsOf(started.image.image_id)).toHaveLength(1);
    const stale = await t.store.get(started.image.image_id, "fay");
    expect(stale).toMatchObject({ status: "failed", failure_reason: expect.stringMatching(/before the upload expired/) });
    await expect(t.store.get(started.image.image_id, "gus")).rejects.toMatchObject({ kind: "not_found" });
    // Its file, arriving late, is removed by the finishing step and no image appears.
    await postToS3(started.upload, await tinyPng(4));
    await eventually(async () =>
      (await t.objectKeys()).includes(objectKeys.pendingUpload(started.image.image_id)) ? undefined : true,
    );
    expect((await t.store.get(started.image.image_id, "fay")).status).toBe("failed");
    expect((await t.store.list({ userId: "fay" })).items).toEqual([]);
    // A day after it went stale, it is forgotten even before TTL removes its record.
    const later = createImageStore({ config: t.config, clients: t.clients, now: () => new Date(Date.now() + 86_400_000) });
    await expect(later.get(started.image.image_id, "fay")).rejects.toMatchObject({ kind: "not_found" });
  });

  it("ignores keys outside the pending uploads", async () => {
    expect(await t.store.finishUpload("images/whatever.jpg")).toBe("ignored");
    expect(await t.store.finishUpload("uploads/../images/x")).toBe("ignored");
  });

  it("answers conflict to an edit while pending", async () => {
    const started = await start("gil", { contentType: "image/png", sizeBytes: 100 });
    await expect(t.store.update(started.image.image_id, "gil", { title: "x" })).rejects.toMatchObject({
      kind: "conflict",
    });
    await expect(t.store.update(started.image.image_id, "hal", { title: "x" })).rejects.toMatchObject({
      kind: "not_found",
    });
  });
});

describe("a store whose first image arrives straight to S3", () => {
  it("lists it with no filter at all", async () => {
    const fresh = await startTestStore({}, { autoFinish: false });
    try {
      const png = await tinyPng(21);
      const started = await fresh.store.startLargeUpload("ivy", {
        title: "first",
        contentType: "image/png",
        sizeBytes: png.length,
      });
      expect((await postToS3(started.upload, png)).status).toBeLessThan(300);
      expect(await fresh.store.finishUpload(started.upload.fields.key!)).toBe("ready");
      expect((await fresh.store.list({})).items.map((image) => image.image_id)).toEqual([started.image.image_id]);
    } finally {
      await fresh.stop();
    }
  });
});

describe("a large upload is normalised as a direct one is", () => {
  it("turns a sideways JPEG upright and drops its orientation; an animated GIF keeps its frames", async () => {
    const fresh = await startTestStore({}, { autoFinish: false });
    try {
      const finished = async (bytes: Uint8Array, contentType: string) => {
        const started = await fresh.store.startLargeUpload("lee", { title: "t", contentType, sizeBytes: bytes.length });
        expect((await postToS3(started.upload, bytes)).status).toBeLessThan(300);
        expect(await fresh.store.finishUpload(started.upload.fields.key!)).toBe("ready");
        return fresh.store.getWithLinks(started.image.image_id, "lee");
      };
      const sideways = await sharp({ create: { width: 40, height: 20, channels: 3, background: "blue" } })
        .jpeg()
        .withMetadata({ orientation: 6 })
        .toBuffer();
      const upright = await finished(sideways, "image/jpeg");
      expect([upright.width, upright.height]).toEqual([20, 40]);
      const stored = Buffer.from(await (await fetch(upright.download_url!)).arrayBuffer());
      const meta = await sharp(stored).metadata();
      expect([meta.width, meta.height, meta.orientation, meta.exif]).toEqual([20, 40, undefined, undefined]);

      const frames = await Promise.all(
        ["red", "green", "blue"].map((background) =>
          sharp({ create: { width: 30, height: 10, channels: 3, background } })
            .png()
            .toBuffer(),
        ),
      );
      const gif = await sharp(frames, { join: { animated: true } })
        .gif()
        .toBuffer();
      const animated = await finished(gif, "image/gif");
      expect([animated.width, animated.height]).toEqual([30, 10]);
      const frameCount = await fetch(animated.download_url!)
        .then((response) => response.arrayBuffer())
        .then((bytes) => sharp(Buffer.from(bytes), { animated: true }).metadata());
      expect(frameCount.pages).toBe(3);
    } finally {
      await fresh.stop();
    }
  });
});

describe("the finishing step's files in the temp folder", () => {
  it("are there while it works and gone after a ready image, a damaged file and a failing S3", async () => {
    const fresh = await startTestStore({}, { autoFinish: false });
    const tempDir = await mkdtemp(join(tmpdir(), "images-finish-test-"));
    try {
      const store = createImageStore({ config: fresh.config, clients: fresh.clients, tempDir, log: () => {} });
      // What the temp folder held each time the re-encoded image was sent; S3 fails it on demand.
      const held: string[][] = [];
      let failStoring = false;
      fresh.clients.s3.middlewareStack.add(
        (next, context) => async (args) => {
          const key = String((args.input as { Key?: string }).Key);
          if (context.commandName === "PutObjectCommand" && key.startsWith("images/")) {
            held.push((await readdir(tempDir, { recursive: true })).map((path) => path.replace(/^[^/]+/, "…")));
            if (failStoring) {
              throw Object.assign(new Error("slow down"), { name: "SlowDown", $metadata: { httpStatusCode: 503 } });
            }
          }
          return next(args);
        },
        { step: "initialize", name: "watchTempFolder" },
      );
      const pending = async (bytes: Uint8Array, contentType: string) => {
        const started = await fresh.store.startLargeUpload("kim", { title: "t", contentType, sizeBytes: bytes.length });
        expect((await postToS3(started.upload, bytes)).status).toBeLessThan(300);
        return started.upload.fields.key!;
      };

      expect(await store.finishUpload(await pending(await tinyPng(31), "image/png"))).toBe("ready");
      expect(held.pop()?.sort()).toEqual(["…", "…/normalised.png", "…/original"]);
      expect(await readdir(tempDir)).toEqual([]);

      const cut = fixture("FreshFlower.jpg").subarray(0, 40_000);
      expect(await store.finishUpload(await pending(cut, "image/jpeg"))).toBe("failed");
      expect(await readdir(tempDir)).toEqual([]);

      const key = await pending(await tinyPng(32), "image/png");
      failStoring = true;
      await expect(store.finishUpload(key)).rejects.toMatchObject({ kind: "unavailable" });
      expect(held).toHaveLength(1);
      expect(await readdir(tempDir)).toEqual([]);
      failStoring = false;
      expect(await store.finishUpload(key)).toBe("ready");
      expect(await readdir(tempDir)).toEqual([]);
    } finally {
      await rm(tempDir, { recursive: true, force: true });
      await fresh.stop();
    }
  });

  it("sweeps what a crashed run left, once it is older than any run, and nothing else", async () => {
    const fresh = await startTestStore({}, { autoFinish: false });
    const tempDir = await mkdtemp(join(tmpdir(), "images-finish-test-"));
    try {
      const store = createImageStore({ config: fresh.config, clients: fresh.clients, tempDir, log: () => {} });
      const hourAgo = new Date(Date.now() - 3600_000);
      for (const name of ["images-finish-crashed", "images-finish-running", "someone-else"]) {
        await mkdir(join(tempDir, name));
        await writeFile(join(tempDir, name, "original"), "bytes");
        if (name !== "images-finish-running") await utimes(join(tempDir, name), hourAgo, hourAgo);
      }
      const bytes = await tinyPng(33);
      const started = await fresh.store.startLargeUpload("lee", {
        title: "t",
        contentType: "image/png",
        sizeBytes: bytes.length,
      });
      expect((await postToS3(started.upload, bytes)).status).toBeLessThan(300);
      expect(await store.finishUpload(started.upload.fields.key!)).toBe("ready");
      expect((await readdir(tempDir)).sort()).toEqual(["images-finish-running", "someone-else"]);
    } finally {
      await rm(tempDir, { recursive: true, force: true });
      await fresh.stop();
    }
  });
});
