import { GetObjectCommand } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../../src/errors.ts";
import { objectKeys } from "../../src/storage/object-store.ts";
import { fixture, pngDeclaring, tinyPng } from "../support/fixtures.ts";
import { startTestStore, type TestStore } from "../support/local-store.ts";

let t: TestStore;
beforeAll(async () => {
  t = await startTestStore();
});
afterAll(async () => t?.stop());

async function storedBytes(key: string): Promise<Buffer> {
  const out = await t.clients.s3.send(new GetObjectCommand({ Bucket: t.config.bucketName, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}
const keyOf = (s3Url: string) => s3Url.replace(/^s3:\/\/[^/]+\//, "");

async function expectKind(promise: Promise<unknown>, kind: string): Promise<AppError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).kind).toBe(kind);
  return error as AppError;
}

describe("real images", () => {
  it("stores the JPEG with GPS without any EXIF, and its sha256 is that of the stored bytes", async () => {
    const original = fixture("FreshFlowerGPS.jpg");
    expect((await sharp(original).metadata()).exif).toBeDefined();
    const image = await t.store.create({ userId: "alice", title: "Flower", tags: ["Flowers"], bytes: original });
    const stored = await storedBytes(keyOf(image.s3_url));
    const meta = await sharp(stored).metadata();
    expect(meta.exif).toBeUndefined();
    expect(meta.xmp).toBeUndefined();
    expect(meta.icc).toBeUndefined();
    expect(stored.includes(Buffer.from("GPS"))).toBe(false);
    expect(image).toMatchObject({ content_type: "image/jpeg", width: 1600, height: 1203, tags: ["flowers"] });
    const { createHash } = await import("node:crypto");
    expect(createHash("sha256").update(stored).digest("hex")).toBe(image.sha256);
    expect(image.size_bytes).toBe(stored.length);
  });

  it.each([
    ["Spring.png", "image/png", 1600, 1200],
    ["wood-d.webp", "image/webp", 4096, 4096],
  ])("accepts %s with its true dimensions", async (name, type, width, height) => {
    const image = await t.store.create({ userId: "bob", title: name, bytes: fixture(name) });
    expect(image).toMatchObject({ content_type: type, width, height, status: "ready" });
    const thumbnail = await sharp(await storedBytes(objectKeys.rendition(image.image_id, 320))).metadata();
    expect(thumbnail.format).toBe("webp");
    expect(Math.max(thumbnail.width ?? 0, thumbnail.height ?? 0)).toBe(320);
  });

  it("refuses the SVG as an unsupported type and stores nothing", async () => {
    const before = await t.objectKeys();
    await expectKind(t.store.create({ userId: "bob", title: "svg", bytes: fixture("oceans.svg") }), "unsupported_type");
    expect(await t.objectKeys()).toEqual(before);
  });

  it("never lets libvips parse a format it is not asked to accept: TIFF is refused, a bad PNG header is damaged", async () => {
    const tiff = await sharp({ create: { width: 30, height: 10, channels: 3, background: "red" } })
      .tiff()
      .toBuffer();
    const before = await t.objectKeys();
    const refused = await expectKind(t.store.create({ userId: "bob", title: "tiff", bytes: tiff }), "unsupported_type");
    expect(refused.message).toMatch(/not a recognised image; accepted formats are JPEG, PNG, WebP, GIF and AVIF/);
    const png = await sharp({ create: { width: 30, height: 10, channels: 3, background: "red" } })
      .png()
      .toBuffer();
    const damaged = await expectKind(
      t.store.create({ userId: "bob", title: "cut", bytes: png.subarray(0, 20) }),
      "undecodable",
    );
    expect(damaged.message).toMatch(/header is damaged/);
    expect(await t.objectKeys()).toEqual(before);
    // The block is libvips-wide in this process: the TIFF loader is refused even to a direct caller.
    await expect(sharp(tiff).metadata()).rejects.toThrow(/unsupported image format/);
  });

  it("keeps the picture upright: EXIF orientation is applied, then dropped", async () => {
    const sideways = await sharp({ create: { width: 40, height: 20, channels: 3, background: "blue" } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const image = await t.store.create({ userId: "carol", title: "Rotated", bytes: sideways });
    expect([image.width, image.height]).toEqual([20, 40]);
    const meta = await sharp(await storedBytes(keyOf(image.s3_url))).metadata();
    expect(meta.orientation).toBeUndefined();
  });

  it("accepts GIF and AVIF, and refuses HTML, a PDF and an empty file", async () => {
    const gif = await sharp({ create: { width: 30, height: 10, channels: 3, background: "red" } })
      .gif()
      .toBuffer();
    const avif = await sharp({ create: { width: 30, height: 10, channels: 3, background: "red" } })
      .avif()
      .toBuffer();
    expect((await t.store.create({ userId: "dan", title: "g", bytes: gif })).content_type).toBe("image/gif");
    expect((await t.store.create({ userId: "dan", title: "a", bytes: avif })).content_type).toBe("image/avif");
    const before = await t.objectKeys();
    await expectKind(
      t.store.create({ userId: "dan", title: "h", bytes: Buffer.from("<!doctype html><p>hi") }),
      "unsupported_type",
    );
    await expectKind(
      t.store.create({ userId: "dan", title: "p", bytes: Buffer.from("%PDF-1.7\n%\xe2\xe3\n1 0 obj") }),
      "unsupported_type",
    );
    await expectKind(t.store.create({ userId: "dan", title: "e", bytes: new Uint8Array() }), "invalid");
    expect(await t.objectKeys()).toEqual(before);
  });

  it("refuses a decompression bomb from its header, and a truncated JPEG after decoding", async () => {
    const bomb = await pngDeclaring(20000, 20000);
    expect(bomb.length).toBeLessThan(200);
    const error = await expectKind(t.store.create({ userId: "eve", title: "bomb", bytes: bomb }), "undecodable");
    expect(error.message).toContain("400000000 pixels");
    const jpeg = fixture("FreshFlower.jpg");
    await expectKind(
      t.store.create({ userId: "eve", title: "cut", bytes: jpeg.subarray(0, jpeg.length / 2) }),
      "undecodable",
    );
  });

  it("holds each format to its own pixel limit, from the header, before decoding", async () => {
    // Tiny files of one colour that decode to many pixels, each just over its format's limit.
    const over = {
      avif: sharp({ create: { width: 3000, height: 2001, channels: 3, background: "#0a0" } }).avif({ effort: 0 }),
      webp: sharp({ create: { width: 5000, height: 3361, channels: 3, background: "#0a0" } }).webp({ lossless: true }),
      // With alpha, libwebp's decode and re-encode cost more: a lower limit, read from the header.
      "webp with alpha": sharp({ create: { width: 4000, height: 2001, channels: 4, background: "#0a08" } }).webp({
        lossless: true,
      }),
      gif: sharp({ create: { width: 6000, height: 3667, channels: 3, background: "#0a0" } }).gif(),
      png: sharp({ create: { width: 7000, height: 4001, channels: 3, background: "#0a0" } }).png(),
      jpeg: sharp({ create: { width: 8000, height: 5501, channels: 3, background: "#0a0" } }).jpeg(),
    };
    const before = await t.snapshot();
    const messages: string[] = [];
    for (const [format, image] of Object.entries(over)) {
      const bytes = await image.toBuffer();
      expect(bytes.length, format).toBeLessThan(1_000_000);
      messages.push((await expectKind(t.store.create({ userId: "eve", title: format, bytes }), "undecodable")).message);
    }
    expect(messages).toEqual([
      "the image has 6003000 pixels, more than the limit of 6000000 for AVIF",
      "the image has 16805000 pixels, more than the limit of 16800000 for WEBP",
      "the image has 8004000 pixels, more than the limit of 8000000 for WEBP with alpha or frames",
      "the image has 22002000 pixels, more than the limit of 22000000 for GIF",
      "the image has 28007000 pixels, more than the limit of 28000000 for PNG",
      "the image has 44008000 pixels, more than the limit of 44000000 for JPEG",
    ]);
    expect(await t.snapshot()).toEqual(before);
    // Just under its limit, an AVIF is stored.
    const fits = await sharp({ create: { width: 3000, height: 2000, channels: 3, background: "#0a0" } })
      .avif({ quality: 30, effort: 0 })
      .toBuffer();
    expect((await t.store.create({ userId: "eve", title: "fits", bytes: fits })).width).toBe(3000);
    // An opaque WebP keeps the higher limit: 4096x4096 (wood-d.webp) is stored above.
  });

  it("refuses a file over the direct upload limit before decoding it", async () => {
    await expectKind(
      t.store.create({ userId: "eve", title: "big", bytes: fixture("Elephants_3840x2160.jpg") }),
      "too_large",
    );
  });

  it("refuses bad metadata with every problem named", async () => {
    const error = await expectKind(
      t.store.create({ userId: "eve", title: " ", tags: ["ok", "not ok", "x".repeat(65)], bytes: await tinyPng() }),
      "invalid",
    );
    expect(error.details.issues?.map((issue) => issue.path)).toEqual(["title", "tags.1", "tags.2"]);
    await expectKind(
      t.store.create({
        userId: "eve",
        title: "t",
        tags: Array.from({ length: 21 }, (_, i) => `t${i}`),
        bytes: await tinyPng(),
      }),
      "invalid",
    );
  });
});

describe("an image's life", () => {
  it("creates, reads, links, edits its tags and deletes every trace", async () => {
    const image = await t.store.create({
      userId: "frank",
      title: "  Sunset ",
      description: "At the beach",
      tags: ["Beach", "holiday", "beach"],
      bytes: fixture("FreshFlower.jpg"),
    });
    expect(image).toMatchObject({ title: "Sunset", description: "At the beach", tags: ["beach", "holiday"] });
    expect(await t.store.get(image.image_id)).toEqual(image);

    const links = await t.store.getWithLinks(image.image_id);
    expect(links).toMatchObject(image);
    const download = await fetch(links.download_url!);
    expect(download.status).toBe(200);
    expect(download.headers.get("content-type")).toBe("image/jpeg");
    const { createHash } = await import("node:crypto");
    expect(
      createHash("sha256")
        .update(Buffer.from(await download.arrayBuffer()))
        .digest("hex"),
    ).toBe(image.sha256);
    expect(Date.parse(links.download_expires_at!) - Date.now()).toBeLessThanOrEqual(900_000);
    expect((await fetch(links.thumbnail_url!)).headers.get("content-type")).toBe("image/webp");

    const edited = await t.store.update(image.image_id, "frank", {
      title: "Dusk",
      description: null,
      tags: ["holiday", "Sea"],
    });
    expect(edited).toMatchObject({ title: "Dusk", description: null, tags: ["holiday", "sea"] });
    expect(await t.store.get(image.image_id)).toEqual(edited);
    const byTag = async (tag: string) => (await t.store.list({ tag })).items.map((i) => i.image_id);
    expect(await byTag("beach")).not.toContain(image.image_id);
    expect(await byTag("sea")).toContain(image.image_id);
    const [holiday] = (await t.store.list({ tag: "holiday", userId: "frank" })).items;
    expect(holiday).toMatchObject(edited);
    expect(holiday!.thumbnail_url).toContain(objectKeys.rendition(image.image_id, 320));

    await expectKind(t.store.update(image.image_id, "mallory", { title: "mine" }), "not_found");
    await expectKind(t.store.remove(image.image_id, "mallory"), "not_found");
    await expectKind(t.store.update(image.image_id, "frank", {}), "invalid");

    await t.store.remove(image.image_id, "frank");
    await expectKind(t.store.get(image.image_id), "not_found");
    expect(await t.itemsOf(image.image_id)).toEqual([]);
    const keys = await t.objectKeys();
    expect(keys.filter((key) => key.includes(image.image_id))).toEqual([]);
    await expectKind(t.store.remove(image.image_id, "frank"), "not_found");
  });

  it("answers not_found for ids that cannot exist", async () => {
    await expectKind(t.store.get("img_../../etc/passwd"), "not_found");
    await expectKind(t.store.get("img_01ARZ3NDEKTSV4RRFFQ69G5FAV"), "not_found");
    await expectKind(t.store.getWithLinks("nope"), "not_found");
  });

  it("keeps both edits consistent when two run at once", async () => {
    const image = await t.store.create({ userId: "gina", title: "x", tags: ["a"], bytes: await tinyPng(3) });
    await Promise.all([
      t.store.update(image.image_id, "gina", { tags: ["b", "c"] }),
      t.store.update(image.image_id, "gina", { tags: ["d"] }),
    ]);
    const final = await t.store.get(image.image_id);
    const tagItems = (await t.itemsOf(image.image_id)).filter((item) => item.tag).map((item) => item.tag);
    expect(tagItems.sort()).toEqual([...final.tags].sort());
  });
});

describe("failures leave nothing half done", () => {
  /** Makes the next `times` calls whose command name starts with `commandName` fail as a 500. */
  function failNext(client: "dynamo" | "s3", commandName: string, times = 1) {
    let left = times;
    const name = `fail-${commandName}-${Math.random()}`;
    const stack: { add: Function; remove: (name: string) => boolean } = t.clients[client].middlewareStack;
    stack.add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName: string }) => async (args: unknown) => {
        if (context.commandName.startsWith(commandName) && left > 0) {
          left -= 1;
          throw Object.assign(new Error("injected"), {
            name: "InternalServerError",
            $metadata: { httpStatusCode: 500 },
          });
        }
        return next(args);
      },
      { step: "initialize", name },
    );
    return () => stack.remove(name);
  }

  it("a DynamoDB failure after the S3 write leaves no object behind", async () => {
    const before = await t.objectKeys();
    const restore = failNext("dynamo", "TransactWrite");
    await expectKind(t.store.create({ userId: "hank", title: "lost", bytes: await tinyPng(7) }), "unavailable");
    restore();
    expect(await t.objectKeys()).toEqual(before);
    expect((await t.store.list({ userId: "hank" })).items).toEqual([]);
  });

  it("a failed delete transaction leaves the image whole", async () => {
    const image = await t.store.create({ userId: "ivy", title: "keep", tags: ["k"], bytes: await tinyPng(8) });
    const restore = failNext("dynamo", "TransactWrite");
    await expectKind(t.store.remove(image.image_id, "ivy"), "unavailable");
    restore();
    expect(await t.store.get(image.image_id)).toEqual(image);
    expect((await t.store.list({ tag: "k" })).items.map((i) => i.image_id)).toContain(image.image_id);
    expect(await t.objectKeys()).toEqual(
      expect.arrayContaining([keyOf(image.s3_url), objectKeys.rendition(image.image_id, 11)]),
    );
  });

  it("a failed S3 delete leaves the image gone to readers, and a retry removes its bytes", async () => {
    const image = await t.store.create({ userId: "jack", title: "go", tags: ["j"], bytes: await tinyPng(9) });
    const restore = failNext("s3", "DeleteObjects", 10);
    await expectKind(t.store.remove(image.image_id, "jack"), "unavailable");
    restore();
    await expectKind(t.store.get(image.image_id), "not_found");
    expect((await t.store.list({ tag: "j" })).items).toEqual([]);
    expect(await t.objectKeys()).toContain(keyOf(image.s3_url));
    await expectKind(t.store.remove(image.image_id, "someone-else"), "not_found");
    await t.store.remove(image.image_id, "jack");
    expect((await t.objectKeys()).filter((key) => key.includes(image.image_id))).toEqual([]);
    expect(await t.itemsOf(image.image_id)).toEqual([]);
  });
});
