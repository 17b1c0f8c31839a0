import sharp from "sharp";
import { thumbHashToApproximateAspectRatio } from "thumbhash";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixture } from "../../core/test/support/fixtures.ts";
import { startTestApi, type TestApi } from "./support/test-api.ts";

/**
 * Delivery through the app and its local CDN twin: the size ladder and placeholder on every ready
 * image, rendition URLs that stay the same within a window, and the bytes behind them served as
 * CloudFront serves them (long-lived public caching, an ETag, 304, 403 for a bad signature).
 */
let t: TestApi;
beforeAll(async () => {
  t = await startTestApi();
});
afterAll(async () => t?.stop());

interface Rendition {
  width: number;
  height: number;
  content_type: string;
  size_bytes: number;
  url: string;
}

async function uploaded(name = "Elephants_3840x2160.jpg") {
  // The 8 MB photo shrunk under the direct limit keeps its 3840x2160.
  const bytes = await sharp(fixture(name)).jpeg({ quality: 70 }).toBuffer();
  const response = await t.upload("alice", bytes, { title: "Elephants", tags: ["safari"], fileType: "image/jpeg" });
  expect(response.status).toBe(201);
  return (await response.json()) as { image_id: string };
}

describe("delivery", () => {
  it("gives a ready image its ladder, smallest first, never larger than the original, and a placeholder", async () => {
    const { image_id } = await uploaded();
    const image = (await (await t.call("GET", `/images/${image_id}`)).json()) as {
      renditions: Rendition[];
      placeholder: string;
      thumbnail_url: string;
      download_url: string;
    };
    expect(image.renditions.map((r) => [r.width, r.height, r.content_type])).toEqual([
      [320, 180, "image/webp"],
      [640, 360, "image/webp"],
      [1080, 608, "image/webp"],
      [2048, 1152, "image/webp"],
    ]);
    expect(image.thumbnail_url).toBe(image.renditions[0]!.url);
    expect(image.download_url).toMatch(/X-Amz-Signature=/);
    const hash = Buffer.from(image.placeholder, "base64");
    expect(hash.length).toBeLessThan(40);
    expect(thumbHashToApproximateAspectRatio(hash)).toBeCloseTo(16 / 9, 0);

    for (const rendition of image.renditions) {
      const answer = await t.app.request(rendition.url);
      expect(answer.status).toBe(200);
      const bytes = Buffer.from(await answer.arrayBuffer());
      expect(bytes.length).toBe(rendition.size_bytes);
      const meta = await sharp(bytes).metadata();
      expect([meta.format, meta.width, meta.height, meta.exif]).toEqual(["webp", rendition.width, rendition.height, undefined]);
      expect(answer.headers.get("content-type")).toBe("image/webp");
      expect(answer.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    }
  });

  it("answers the same rendition URLs, byte for byte, in two lists and a GET", async () => {
    const { image_id } = await uploaded("FreshFlower.jpg");
    const listed = async () => {
      const page = (await (await t.call("GET", "/images?user_id=alice&limit=100")).json()) as {
        items: { image_id: string; renditions: Rendition[] }[];
      };
      return page.items.find((item) => item.image_id === image_id)!.renditions.map((r) => r.url);
    };
    const first = await listed();
    const second = await listed();
    const one = (await (await t.call("GET", `/images/${image_id}`)).json()) as { renditions: Rendition[] };
    expect(first.length).toBeGreaterThan(0);
    expect(second).toEqual(first);
    expect(one.renditions.map((r) => r.url)).toEqual(first);
    const expires = Number(new URL(first[0]!).searchParams.get("Expires"));
    // The end of this window plus one more: valid for at least one more hour.
    expect(expires % 3600).toBe(0);
    expect(expires * 1000 - Date.now()).toBeGreaterThan(3600_000);
  });

  it("answers 304 to a matching If-None-Match and 403 to a tampered or foreign URL", async () => {
    const { image_id } = await uploaded("FreshFlower.jpg");
    const image = (await (await t.call("GET", `/images/${image_id}`)).json()) as { renditions: Rendition[] };
    const url = image.renditions[0]!.url;
    const first = await t.app.request(url);
    const etag = first.headers.get("etag");
    expect(etag).toMatch(/^"[^"]+"$/);
    const again = await t.app.request(url, { headers: { "if-none-match": etag! } });
    expect(again.status).toBe(304);
    expect(again.headers.get("etag")).toBe(etag);

    const other = new URL(url);
    other.pathname = other.pathname.replace(/\/\d+\.webp$/, "/640.webp");
    for (const bad of [other.toString(), url.replace(/Key-Pair-Id=[^&]+/, "Key-Pair-Id=KSOMEONEELSE")]) {
      const refused = await t.app.request(bad);
      expect(refused.status).toBe(403);
      expect(refused.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    }
  });

  it("leaves out the sizes a small original does not reach, and gives a tiny one its own size", async () => {
    const medium = await sharp({ create: { width: 700, height: 500, channels: 3, background: "#345" } }).png().toBuffer();
    const tiny = await sharp({ create: { width: 90, height: 60, channels: 3, background: "#543" } }).png().toBuffer();
    const sizes = async (bytes: Buffer) => {
      const response = await t.upload("bob", bytes, { title: "t", fileType: "image/png" });
      const image = (await response.json()) as { image_id: string };
      const got = (await (await t.call("GET", `/images/${image.image_id}`)).json()) as { renditions: Rendition[] };
      return got.renditions.map((r) => [r.width, r.height]);
    };
    expect(await sizes(medium)).toEqual([
      [320, 229],
      [640, 457],
    ]);
    expect(await sizes(tiny)).toEqual([[90, 60]]);
  });
});
