/**
 * Section 6: delivery. Each figure beside its alternative in the same run:
 * - the size ladder's cost: storing a 12 MP JPEG as the service does now (re-encode plus the
 *   ladder and placeholder) beside what it did before (re-encode plus one 320 px thumbnail);
 * - URL stability: the rendition URLs of two listings and a GET of the same images, compared;
 * - a 20-item page: its time with the rendition URLs (signed once a window, then cached) beside
 *   the same page with one presigned thumbnail link an item, as answers were made before.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { createAwsClients, createImageStore, loadConfig } from "@images/core";
import { checkImage, normaliseImage } from "@images/core/image/processing";
import { createObjectStore } from "@images/core/storage/object-store";
import { DEVELOPMENT_MEDIA_KEY } from "@images/local";
import sharp from "sharp";
import { FIXTURES_DIR, median, ms, ratio, startEmulators, table, type SectionResult } from "./support.ts";

const LADDER_TARGET = 1.5;
const PAGE_TARGET = 1;

async function timed(runs: number, work: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await work();
    times.push(performance.now() - started);
  }
  return times;
}

export async function runDelivery(options: { runs: number; log(message: string): void }): Promise<SectionResult> {
  // 12 MP: the fixture photo enlarged to 4243x2829, as a phone camera's JPEG.
  const photo = await sharp(await readFile(resolve(FIXTURES_DIR, "Elephants_3840x2160.jpg")))
    .resize(4243, 2829, { fit: "fill" })
    .jpeg({ quality: 92 })
    .toBuffer();
  const before = async () => {
    const image = await checkImage(photo, { maxPixels: 50_000_000 });
    await image.encode().toBuffer();
    await image.thumbnail();
  };
  const now = async () => normaliseImage(await checkImage(photo, { maxPixels: 50_000_000 }));
  await before();
  await now();
  // Interleaved, so that the machine's noise falls on both alike.
  const beforeTimes: number[] = [];
  const nowTimes: number[] = [];
  for (let i = 0; i < options.runs; i++) {
    beforeTimes.push(...(await timed(1, before)));
    nowTimes.push(...(await timed(1, now)));
  }
  const ladderRatio = median(nowTimes) / median(beforeTimes);
  const ladder = await normaliseImage(await checkImage(photo, { maxPixels: 50_000_000 }));
  options.log(`  12 MP JPEG: before ${ms(median(beforeTimes))} ms, with the ladder ${ms(median(nowTimes))} ms`);

  const emulators = await startEmulators("delivery");
  try {
    const env = { ...emulators.env, AWS_ENDPOINT_GUARD: "local", UPLOAD_RATE_LIMIT_PER_MINUTE: "100000" };
    const media = {
      MEDIA_BASE_URL: "https://d111111abcdef8.cloudfront.net",
      MEDIA_KEY_PAIR_ID: DEVELOPMENT_MEDIA_KEY.keyPairId,
      MEDIA_PRIVATE_KEY: DEVELOPMENT_MEDIA_KEY.privateKeyPem,
    };
    const config = loadConfig({ ...env, ...media });
    const clients = createAwsClients(config);
    const store = createImageStore({ config, clients });
    const small = await sharp(photo).resize(1600).jpeg({ quality: 80 }).toBuffer();
    for (let i = 0; i < 20; i++) {
      await store.create({ userId: "bench-user", title: `photo ${i}`, tags: ["safari"], bytes: small });
    }

    // URL stability: every rendition URL of two lists and the GETs, compared.
    const urls = async () => {
      const page = await store.list({ tag: "safari", limit: 20 });
      return page.items.flatMap((item) => item.renditions.map((rendition) => rendition.url));
    };
    const first = await urls();
    const second = await urls();
    const fromGets: string[] = [];
    for (const item of (await store.list({ tag: "safari", limit: 20 })).items) {
      fromGets.push(...(await store.getWithLinks(item.image_id)).renditions.map((rendition) => rendition.url));
    }
    const same = first.filter((url, i) => url === second[i] && url === fromGets[i]).length;
    const stability = first.length > 0 ? same / first.length : 0;

    // A 20-item page: now, and with one presigned thumbnail link an item as before (the same
    // listing, whose 80 cached rendition URLs cost about 16 µs, plus the 20 links it signed then).
    const objects = createObjectStore(clients.s3, config.bucketName);
    const pageNow = () => store.list({ tag: "safari", limit: 20 });
    const pageBefore = async () => {
      const page = await store.list({ tag: "safari", limit: 20 });
      await Promise.all(
        page.items.map((item) =>
          objects.presignGet(`thumbnails/${item.image_id}.webp`, {
            expiresInSeconds: 600,
            contentType: "image/webp",
            fileName: `${item.image_id}-thumbnail.webp`,
          }),
        ),
      );
      return page;
    };
    await pageNow();
    await pageBefore();
    const listNow: number[] = [];
    const listBefore: number[] = [];
    for (let i = 0; i < options.runs * 5; i++) {
      listNow.push(...(await timed(1, pageNow)));
      listBefore.push(...(await timed(1, pageBefore)));
    }
    const pageRatio = median(listNow) / median(listBefore);

    const checks = [
      {
        section: "6. Delivery",
        what: "storing a 12 MP JPEG with its ladder / re-encode plus thumbnail",
        value: `${ratio(ladderRatio)} (${ms(median(nowTimes))} / ${ms(median(beforeTimes))} ms)`,
        target: `≤ ${LADDER_TARGET}×`,
        met: ladderRatio <= LADDER_TARGET,
      },
      {
        section: "6. Delivery",
        what: "rendition URLs identical across two lists and the GETs within a window",
        value: `${(stability * 100).toFixed(0)}% (${same} of ${first.length})`,
        target: "100%",
        met: stability === 1,
      },
      {
        section: "6. Delivery",
        what: "20-item page with rendition URLs / with one presigned thumbnail link an item",
        value: `${ratio(pageRatio)} (${ms(median(listNow), 2)} / ${ms(median(listBefore), 2)} ms)`,
        target: `≤ ${PAGE_TARGET}×`,
        met: pageRatio <= PAGE_TARGET,
      },
    ];
    const markdown = [
      `Medians of ${options.runs} interleaved runs (pages: ${options.runs * 5}). The ladder: a 12 MP JPEG ` +
        `(${(photo.byteLength / 2 ** 20).toFixed(1)} MiB, 4243×2829) stored as now (re-encode, and the four WebP ` +
        `renditions and the ThumbHash from one shrunk decode, side by side since JPEG decodes in strips) beside ` +
        `before (re-encode, then one 320 px thumbnail). Renditions made: ` +
        `${ladder.ladder.renditions.map((r) => `${r.width}×${r.height} ${(r.body.byteLength / 1024).toFixed(0)} KiB`).join(", ")}. ` +
        `The page: \`list\` of 20 images with 4 renditions each, signed for CloudFront with the development key ` +
        `(signed once a window, then answered from the signer's cache), beside the same listing plus 20 presigned ` +
        `thumbnail links, the work of a page before (its listing, one link an item).`,
      "",
      table(
        ["what", "measured", "beside", "target", ""],
        checks.map((check) => [check.what, check.value, "", check.target, check.met ? "met" : "**missed**"]),
      ),
    ].join("\n");
    return {
      title: "6. Delivery",
      markdown,
      checks,
      data: { beforeTimes, nowTimes, listNow, listBefore, stability, urls: first.length },
    };
  } finally {
    await emulators.stop();
  }
}
