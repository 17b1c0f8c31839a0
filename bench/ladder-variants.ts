/**
 * Where the size ladder's time goes, and what other ways of making it would save: the 12 MP JPEG
 * of section 6, stored as before (re-encode, then one 320 px thumbnail) beside the ladder made
 * as packages/core/src/image/processing.ts makes it, and beside variants of it, interleaved
 * (each round runs every variant once) so that the machine's noise falls on all alike. Prints
 * each variant's median and its ratio to the way before, in wall time on this machine's cores
 * and in CPU time (the process's, libvips' threads included: what a Lambda function of at most
 * one vCPU waits for), then the ladder's parts alone, and the top rung's encode under each
 * setting of libwebp that sharp offers.
 * Not part of `npm run bench`: `npx tsx bench/ladder-variants.ts` (run it on a quiet machine).
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import sharp from "sharp";
import { checkImage, normaliseImage } from "../packages/core/src/image/processing.ts";
import { FIXTURES_DIR, median } from "./support.ts";

const ROUNDS = 15;
const photo = await sharp(await readFile(resolve(FIXTURES_DIR, "Elephants_3840x2160.jpg")))
  .resize(4243, 2829, { fit: "fill" })
  .jpeg({ quality: 92 })
  .toBuffer();
sharp.cache(false);
const checked = await checkImage(photo, { maxPixels: 50_000_000 });
const reencode = () => checked.encode().toBuffer();
const rungSizes = [1080, 640, 320].map((side) => ({ width: side, height: Math.round((side * 2829) / 4243) }));

/** The ladder with the top rung's reduction and the small rungs' order as options. */
async function ladder(options: { kernel: "lanczos3" | "linear"; smallInTurn: boolean; topQuality?: number }) {
  const { data, info } = await sharp(photo)
    .autoOrient()
    .resize({ width: 2048, height: 2048, fit: "inside", kernel: options.kernel })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
  const rung = (width: number, height: number, quality = 80) =>
    sharp(data, raw).resize(width, height, { fit: "fill" }).webp({ quality, effort: 0 }).toBuffer();
  const small = async () => {
    if (!options.smallInTurn) return Promise.all(rungSizes.map((size) => rung(size.width, size.height)));
    const out: Buffer[] = [];
    for (const size of rungSizes) out.push(await rung(size.width, size.height));
    return out;
  };
  return Promise.all([rung(info.width, info.height, options.topQuality), small()]);
}

const variants: [string, () => Promise<unknown>][] = [
  ["before: re-encode, then a 320 px thumbnail", async () => (await reencode(), await checked.thumbnail())],
  ["now: normaliseImage (re-encode beside the ladder)", () => normaliseImage(checked)],
  ["small rungs one after another", () => Promise.all([reencode(), ladder({ kernel: "lanczos3", smallInTurn: true })])],
  ["linear kernel to the top rung", () => Promise.all([reencode(), ladder({ kernel: "linear", smallInTurn: true })])],
  [
    "top rung at quality 75",
    () => Promise.all([reencode(), ladder({ kernel: "lanczos3", smallInTurn: true, topQuality: 75 })]),
  ],
];
const parts: [string, () => Promise<unknown>][] = [
  [
    "full decode (one pixel out)",
    () => sharp(photo).extract({ left: 0, top: 2800, width: 1, height: 1 }).raw().toBuffer(),
  ],
  ["decode and reduce to 2048 (raw out)", () => sharp(photo).resize(2048, 2048, { fit: "inside" }).raw().toBuffer()],
  ["re-encode of the original", reencode],
];

/** Each one's median wall time and median CPU time (user and system, every thread), in ms. */
async function timeAll(list: [string, () => Promise<unknown>][]) {
  for (const [, run] of list) await run();
  const times = list.map((): number[] => []);
  const cpu = list.map((): number[] => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, [, run]] of list.entries()) {
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      await run();
      times[i]!.push(performance.now() - started);
      const used = process.cpuUsage(cpuBefore);
      cpu[i]!.push((used.user + used.system) / 1000);
    }
  }
  return { wall: times.map(median), cpu: cpu.map(median) };
}

const medians = await timeAll(variants);
console.log(
  `${"".padEnd(52)} ${"wall".padStart(10)} ${"ratio".padStart(6)} ${"CPU".padStart(10)} ${"ratio".padStart(6)}`,
);
for (const [i, [name]] of variants.entries()) {
  const { wall, cpu } = medians;
  console.log(
    `${name.padEnd(52)} ${wall[i]!.toFixed(1).padStart(7)} ms ${(wall[i]! / wall[0]!).toFixed(2).padStart(5)}× ` +
      `${cpu[i]!.toFixed(1).padStart(7)} ms ${(cpu[i]! / cpu[0]!).toFixed(2).padStart(5)}×`,
  );
}
const { data, info } = await sharp(photo)
  .resize(2048, 2048, { fit: "inside" })
  .raw()
  .toBuffer({ resolveWithObject: true });
const top = { raw: { width: info.width, height: info.height, channels: info.channels } };
parts.push([
  "the 2048 px rung's WebP encode alone (effort 0)",
  () => sharp(data, top).webp({ quality: 80, effort: 0 }).toBuffer(),
]);
const partMedians = (await timeAll(parts)).wall;
for (const [i, [name]] of parts.entries())
  console.log(`  ${name.padEnd(50)} ${partMedians[i]!.toFixed(1).padStart(7)} ms`);

// The top rung's encode is the ladder's longest step; no setting sharp passes to libwebp shortens
// it by much (presets change the noise shaping and the filter, not the work per macroblock).
console.log("\nThe 2048 px rung's WebP encode alone, by setting (size of the file made):");
const settings: [string, import("sharp").WebpOptions][] = [
  ["quality 80, effort 0 (the ladder's)", { quality: 80, effort: 0 }],
  ["quality 75", { quality: 75, effort: 0 }],
  ["quality 70", { quality: 70, effort: 0 }],
  ["preset photo", { quality: 80, effort: 0, preset: "photo" }],
  ["preset drawing", { quality: 80, effort: 0, preset: "drawing" }],
  ["preset text (no noise shaping, no filter)", { quality: 80, effort: 0, preset: "text" }],
  ["effort 1", { quality: 80, effort: 1 }],
];
const encodes = settings.map(([name, options]): [string, () => Promise<unknown>] => [
  name,
  () => sharp(data, top).webp(options).toBuffer(),
]);
const encodeMedians = (await timeAll(encodes)).wall;
for (const [i, [name, options]] of settings.entries()) {
  const bytes = (await sharp(data, top).webp(options).toBuffer()).length;
  console.log(`  ${name.padEnd(50)} ${encodeMedians[i]!.toFixed(1).padStart(7)} ms  ${bytes} bytes`);
}
