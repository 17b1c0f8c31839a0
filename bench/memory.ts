/**
 * Section 5: peak memory of the two heavy operations, each in a fresh process
 * (bench/memory-child.ts): a direct upload of a JPEG just under the 4 MiB limit through the API
 * handler, and the finishing step of a JPEG of about 50 MiB posted straight to S3; then, per
 * accepted format, the worst input found at the format's own pixel limit through both paths
 * (issue 12: at most 512 MiB above idle), and a file just over the limit, refused from its header.
 * The test files are made with sharp (the first from the shared fixtures) and kept in the OS temp
 * folder between runs; the per-format ones take a few minutes to make the first time.
 *
 * For looking closer: BENCH_MEMORY_FORMATS=<names> (comma-separated, as the table names them:
 * "WebP with alpha,AVIF") measures only these formats' rows, without the JPEG rows above them.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { signDevelopmentToken } from "@images/api";
import { STATUS_OF_KIND } from "@images/api/problem";
import { ACCEPTED_TYPES, createAwsClients, createImageStore, loadConfig } from "@images/core";
import { pixelLimitOf, type AcceptedType } from "@images/core/image/processing";
import sharp, { type Sharp } from "sharp";
import { apiEvent } from "./api-event.ts";
import {
  BENCH_DIR,
  childEnv,
  FIXTURES_DIR,
  median,
  mib,
  multipart,
  retryWhileModulesMissing,
  ratio,
  startEmulators,
  table,
  TS_NODE_ARGS,
  type SectionResult,
} from "./support.ts";

const run = promisify(execFile);
const MiB = 1024 * 1024;
const DIRECT_LIMIT = 4 * MiB;
const LARGE_LIMIT = 50 * MiB;
/** MAX_IMAGE_PIXELS as the bench runs the service (its default). */
const PIXEL_LIMIT = 50_000_000;
const TARGET = 3;

/** The largest encoding of `make(q)` not over `limit` bytes, by bisection on the quality. */
async function largestUnder(limit: number, make: (quality: number) => Promise<Buffer>): Promise<Buffer> {
  let low = 40;
  let high = 100;
  let best: Buffer | undefined;
  while (low <= high) {
    const quality = Math.floor((low + high) / 2);
    const candidate = await make(quality);
    if (candidate.byteLength <= limit) {
      best = candidate;
      low = quality + 1;
    } else {
      high = quality - 1;
    }
  }
  if (!best) throw new Error(`no encoding fits in ${limit} bytes`);
  return best;
}

const FIXTURE = resolve(FIXTURES_DIR, "Elephants_3840x2160.jpg");

/** The file `name` in the bench's cache in the OS temp folder (by the fixture's digest), made once. */
async function cached(name: string, make: () => Promise<Buffer>): Promise<Buffer> {
  const source = await readFile(FIXTURE);
  const cache = join(tmpdir(), "images-bench-files", createHash("sha256").update(source).digest("hex").slice(0, 16));
  await mkdir(cache, { recursive: true });
  const file = join(cache, name);
  try {
    return await readFile(file);
  } catch {
    const bytes = await make();
    await writeFile(`${file}.part`, bytes);
    await rename(`${file}.part`, file);
    return bytes;
  }
}

/** The two test files, made once and cached by the fixture's digest. */
async function testFiles(): Promise<{ direct: Buffer; large: Buffer }> {
  const source = await readFile(FIXTURE);
  // Just under the direct limit: the 8 MB 3840x2160 photo re-encoded.
  const direct = await cached("direct-4mib.jpg", () =>
    largestUnder(DIRECT_LIMIT, (quality) => sharp(source).jpeg({ quality, chromaSubsampling: "4:4:4" }).toBuffer()),
  );
  // About 50 MiB within JPEG's pixel limit: enlarged to 99.4% of it (49.7 megapixels at 50), about
  // 16:9, with fine grain so that the encoder cannot make it small, at the highest quality that fits.
  const pixels = pixelLimitOf("image/jpeg", PIXEL_LIMIT) * 0.994;
  const width = Math.round(Math.sqrt((pixels * 9400) / 5287));
  const height = Math.floor(pixels / width);
  const large = await cached(`large-50mib-${width}x${height}.jpg`, async () => {
    const grain = await sharp({
      create: { width, height, channels: 3, background: "#808080", noise: { type: "gaussian", mean: 128, sigma: 40 } },
    })
      .png({ compressionLevel: 0 })
      .toBuffer();
    const base = await sharp(source)
      .resize(width, height)
      .composite([{ input: grain, blend: "overlay" }])
      .raw()
      .toBuffer();
    const raw = { raw: { width, height, channels: 3 as const } };
    return largestUnder(LARGE_LIMIT, (quality) =>
      sharp(base, raw).jpeg({ quality, chromaSubsampling: "4:4:4" }).toBuffer(),
    );
  });
  return { direct, large };
}

/** The most one upload may take above idle for each accepted format's worst input (issue 12). */
const FORMAT_TARGET = 512 * MiB;
/** A refusal from the header alone: the bytes in memory and the header read, no decode. */
const REFUSED_TARGET = 32 * MiB;

/** What a format's pixels are: the frames' size and how many frames, all counted together. */
interface Size {
  width: number;
  height: number;
  frames: number;
}
const pixelsOf = (size: Size) => size.width * size.height * size.frames;
const describeSize = (size: Size) =>
  `${size.frames > 1 ? `${size.frames} × ` : ""}${size.width}×${size.height} = ${pixelsOf(size).toLocaleString("en-US")}`;

interface FormatSpec {
  format: string;
  type: AcceptedType;
  input: string;
  /** 1 for a still; more for an animation, the limit shared among them. */
  frames: number;
  channels: 3 | 4;
  /** EXIF orientation 6: the service turns the picture upright, which needs it whole. */
  rotated: boolean;
  /** The smooth part: 16 bands of colour for GIF (a gradient, dithered or not, would not fit 4 MiB), else a gradient. */
  bands?: boolean;
  encode(image: Sharp): Sharp;
}

/**
 * Per format, the input that costs the most memory, as far as measuring found: the layout that
 * is costliest to decode and re-encode, turned by EXIF where that costs more (JPEG and PNG; it
 * costs WebP less), a single frame or two (fewer, larger frames cost more than many small ones),
 * and as much detail as the path's byte limit lets through (see `mostDetailWithin`).
 */
const FORMAT_SPECS: FormatSpec[] = [
  {
    format: "JPEG",
    type: "image/jpeg",
    input: "progressive, 4:4:4, EXIF orientation 6",
    frames: 1,
    channels: 3,
    rotated: true,
    encode: (image) => image.jpeg({ quality: 90, progressive: true, chromaSubsampling: "4:4:4" }),
  },
  {
    format: "PNG",
    type: "image/png",
    input: "16-bit RGBA, Adam7 interlaced, EXIF orientation 6",
    frames: 1,
    channels: 4,
    rotated: true,
    encode: (image) => image.toColourspace("rgb16").png({ progressive: true, adaptiveFiltering: true }),
  },
  {
    format: "WebP",
    type: "image/webp",
    input: "lossless RGB (opaque)",
    frames: 1,
    channels: 3,
    rotated: false,
    encode: (image) => image.webp({ lossless: true }),
  },
  {
    format: "WebP with alpha",
    type: "image/webp",
    input: "lossless RGBA",
    frames: 1,
    channels: 4,
    rotated: false,
    encode: (image) => image.webp({ lossless: true }),
  },
  {
    format: "GIF",
    type: "image/gif",
    input: "one frame",
    frames: 1,
    channels: 3,
    rotated: false,
    bands: true,
    encode: (image) => image.gif({ dither: 0 }),
  },
  {
    format: "animated GIF",
    type: "image/gif",
    input: "two frames of different colours",
    frames: 2,
    channels: 3,
    rotated: false,
    bands: true,
    encode: (image) => image.gif({ dither: 0 }),
  },
  {
    format: "animated WebP",
    type: "image/webp",
    input: "two lossless RGBA frames of different colours",
    frames: 2,
    channels: 4,
    rotated: false,
    encode: (image) => image.webp({ lossless: true }),
  },
  {
    format: "AVIF",
    type: "image/avif",
    input: "8-bit 4:4:4 with alpha",
    frames: 1,
    channels: 4,
    rotated: false,
    encode: (image) => image.avif({ quality: 80, chromaSubsampling: "4:4:4", bitdepth: 8, effort: 2 }),
  },
];

/** A colour on the colour wheel (`turn` from 0 to 1). */
const hue = (turn: number) => [0, 1, 2].map((c) => Math.round(127 + 120 * Math.sin((turn + c / 3) * 2 * Math.PI)));

/**
 * The spec's picture at `size`: each frame smooth across in colours of its own (alpha from opaque
 * to about a third), the top `noisyRows` rows of each frame grainy instead, each frame's grain its own.
 */
async function makePicture(spec: FormatSpec, size: Size, noisyRows: number): Promise<Buffer> {
  const { width, height, frames } = size;
  const { channels } = spec;
  const alpha = (value: number) => (channels === 4 ? [value] : []);
  // Grain of each frame's own: frames alike would be merged into one by the encoder.
  const grain = () =>
    sharp({
      create: {
        width,
        height: noisyRows,
        channels,
        background: "#808080",
        noise: { type: "gaussian", mean: 128, sigma: 60 },
      },
    })
      .raw()
      .toBuffer();
  const pictures = await Promise.all(
    Array.from({ length: frames }, async (_, index) => {
      const stops = spec.bands ? 16 : 2;
      const colours = Array.from({ length: stops }, (_, stop) => [
        ...hue(index / frames + stop / stops),
        ...alpha(Math.round(255 - (159 * stop) / (stops - 1))),
      ]);
      const frame = await sharp(Buffer.from(colours.flat()), { raw: { width: stops, height: 1, channels } })
        .resize(width, height, { fit: "fill", kernel: spec.bands ? "nearest" : "linear" })
        .raw()
        .toBuffer();
      if (noisyRows > 0) (await grain()).copy(frame, 0);
      return frame;
    }),
  );
  const raw = { width, height: height * frames, channels, ...(frames > 1 ? { pageHeight: height } : {}) };
  const picture = sharp(Buffer.concat(pictures), { raw });
  return spec.encode(spec.rotated ? picture.withMetadata({ orientation: 6 }) : picture).toBuffer();
}

/**
 * The picture with as much detail as `budget` bytes let through: grain costs the decoders and
 * encoders more than a smooth picture of the same size (up to 80% more here), and each path's
 * byte limit bounds how much of it a file can carry. Grainy throughout if that fits, else a
 * grainy band as tall as fits.
 */
async function mostDetailWithin(spec: FormatSpec, size: Size, budget: number): Promise<Buffer> {
  const grainy = await makePicture(spec, size, size.height);
  if (grainy.byteLength <= budget) return grainy;
  const smooth = await makePicture(spec, size, 0);
  if (smooth.byteLength > budget) throw new Error(`${spec.format}: even a smooth picture is over ${budget} bytes`);
  let rows = Math.floor((size.height * (budget - smooth.byteLength)) / (grainy.byteLength - smooth.byteLength));
  for (;;) {
    const candidate = await makePicture(spec, size, rows);
    if (candidate.byteLength <= budget) return candidate;
    rows = Math.floor((rows * 0.97 * budget) / candidate.byteLength);
  }
}

/**
 * The largest size a format's pixel limit allows and the smallest over it: the largest square
 * frames, all frames counted together; one row more in each frame for the size over.
 */
function sizesFor(limit: number, frames: number): { at: Size; over: Size } {
  const side = Math.floor(Math.sqrt(limit / frames));
  const taller = frames * side * (side + 1) > limit;
  return {
    at: { width: side, height: side, frames },
    over: { width: taller ? side : side + 1, height: side + 1, frames },
  };
}

interface FormatCase {
  spec: FormatSpec;
  limit: number;
  size: Size;
  /** The most detailed file within the direct upload's byte limit, and within the large upload's. */
  direct: Buffer;
  large: Buffer;
  over: Size;
  overFile: Buffer;
}

/** Each format's test files at and just over its pixel limit, checked the way `checkImage` counts. */
async function formatFiles(
  limits: { maxPixels: number; directBytes: number; largeBytes: number },
  log: (message: string) => void,
): Promise<FormatCase[]> {
  const cases: FormatCase[] = [];
  const only = process.env.BENCH_MEMORY_FORMATS?.split(",");
  for (const spec of FORMAT_SPECS.filter((spec) => !only || only.includes(spec.format))) {
    const limit = pixelLimitOf(spec.type, limits.maxPixels, spec.channels === 4 || spec.frames > 1);
    const { at, over } = sizesFor(limit, spec.frames);
    const made = async (size: Size, budget: number, what: string) => {
      const name =
        `limit-v2-${spec.format.replace(/ /g, "-").toLowerCase()}-c${spec.channels}-${size.frames}x${size.width}x${size.height}-` +
        `${what}.${ACCEPTED_TYPES[spec.type].extension}`;
      const bytes = await cached(name, () => {
        log(`  making ${name}…`);
        return what === "smooth" ? makePicture(spec, size, 0) : mostDetailWithin(spec, size, budget);
      });
      const header = await sharp(bytes).metadata();
      const found = {
        width: header.width ?? 0,
        height: header.pageHeight ?? header.height ?? 0,
        frames: header.pages ?? 1,
      };
      const format = header.format === "heif" ? "avif" : header.format;
      if (pixelsOf(found) !== pixelsOf(size) || `image/${format}` !== spec.type) {
        throw new Error(`${name}: a ${header.format} of ${describeSize(found)}, not what was asked`);
      }
      if (bytes.byteLength > budget) throw new Error(`${name}: ${bytes.byteLength} bytes, over ${budget}`);
      return bytes;
    };
    // A little under each byte limit, as a client would send it.
    const direct = await made(at, Math.floor(limits.directBytes * 0.97), "direct");
    const large = await made(at, Math.floor(limits.largeBytes * 0.97), "large");
    const overFile = await made(over, limits.directBytes, "smooth");
    cases.push({ spec, limit, size: at, direct, large, over, overFile });
  }
  return cases;
}

interface ChildReport {
  mode: string;
  outcome: string;
  idle: number;
  peak: number;
  /** How far maxrss already stood above idle before the operation. */
  floor: number;
  after: number;
}

type Mode = "direct" | "create" | "finish" | "fetch" | "from-disk" | "stream-encode" | "in-memory";

async function measure(
  env: Record<string, string>,
  mode: Mode,
  argument: string,
  jpegOptimise = "",
): Promise<ChildReport> {
  // Started through sh, which forks first: Linux carries a process's peak RSS over exec, so a child
  // forked straight from this process (which holds the test files) would start its maxrss at this
  // process's RSS, hiding any operation that peaks lower.
  const child = [process.execPath, ...TS_NODE_ARGS, resolve(BENCH_DIR, "memory-child.ts"), mode, argument];
  const { stdout } = await retryWhileModulesMissing(`memory (${mode})`, () =>
    run("/bin/sh", ["-c", '"$0" "$@"; exit $?', ...child], {
      env: childEnv({ ...env, BENCH_JPEG_OPTIMISE: jpegOptimise }),
      maxBuffer: 16 * MiB,
    }),
  );
  const line = stdout.split("\n").find((text) => text.startsWith('{"mode"'));
  if (!line) throw new Error(`memory child (${mode}) gave no report: ${stdout.slice(0, 400)}`);
  const report = JSON.parse(line) as ChildReport;
  if (report.floor > 8 * MiB) {
    throw new Error(`memory child (${mode}): maxrss stood ${mib(report.floor)} above idle before the operation`);
  }
  return report;
}

interface Row {
  name: string;
  file: number;
  reports: ChildReport[];
  expect: string;
  /** Counted against the target (the operations themselves, not the diagnostics). */
  target: boolean;
}

interface FormatRow {
  spec: FormatSpec;
  limit: number;
  /** direct: store.create in the child; finish: the finishing step; over: store.create just over the limit. */
  path: "direct" | "finish" | "over";
  size: Size;
  file: Buffer;
  argument: string;
  expect: string;
  reports: ChildReport[];
}

const formatRowName = (row: FormatRow) =>
  row.path === "over"
    ? `${row.spec.format} just over its pixel limit (${describeSize(row.size)}), refused from the header`
    : `${row.spec.format} at its pixel limit (${describeSize(row.size)}), ${row.path === "direct" ? "direct upload" : "finishing a straight-to-S3 upload"}`;

export async function runMemory(options: { runs: number; log(message: string): void }): Promise<SectionResult> {
  const files = await testFiles();
  const largeMeta = await sharp(files.large).metadata();
  const largePixels = (largeMeta.width ?? 0) * (largeMeta.height ?? 0);
  if (largePixels > pixelLimitOf("image/jpeg", PIXEL_LIMIT)) throw new Error("the large file has too many pixels");
  options.log(`  test files: ${mib(files.direct.byteLength, 2)} and ${mib(files.large.byteLength, 2)}`);

  const emulators = await startEmulators("memory");
  const work = join(tmpdir(), `images-bench-memory-${process.pid}`);
  try {
    const env = { ...emulators.env, UPLOAD_RATE_LIMIT_PER_MINUTE: "1000" };
    const token = await signDevelopmentToken("bench-user");
    await mkdir(work, { recursive: true });

    // The direct upload as API Gateway hands it to the function: base64 in a JSON event.
    const eventFor = async (name: string, bytes: Buffer) => {
      const form = multipart({ title: "Elephants", tags: "safari" }, { name: "photo.jpg", type: "image/jpeg", bytes });
      const file = join(work, `${name}.json`);
      const headers = { authorization: `Bearer ${token}`, "content-type": form.contentType };
      await writeFile(file, JSON.stringify(apiEvent("POST", "/images/upload", headers, form.body)));
      return file;
    };
    const directEvent = await eventFor("direct", files.direct);
    const largeFile = join(work, "large.jpg");
    await writeFile(largeFile, files.large);
    // The same size of bytes that are no image: refused at the sniff, after the body is parsed.
    const refusedEvent = await eventFor("refused", Buffer.alloc(files.direct.byteLength, 0x2a));

    // Large uploads: started and posted to S3 from here; nothing finishes them but the child.
    const config = loadConfig({ ...env, AWS_ENDPOINT_GUARD: "local" });
    const store = createImageStore({ config, clients: createAwsClients(config) });
    const pending = async (bytes: Buffer, contentType: AcceptedType, title: string) => {
      const started = await store.startLargeUpload("bench-user", {
        title,
        tags: ["safari"],
        contentType,
        sizeBytes: bytes.byteLength,
      });
      const post = new FormData();
      for (const [name, value] of Object.entries(started.upload.fields)) post.append(name, value);
      post.append("file", new Blob([bytes], { type: contentType }), `upload.${ACCEPTED_TYPES[contentType].extension}`);
      const posted = await fetch(started.upload.url, { method: "POST", body: post });
      if (!posted.ok) throw new Error(`posting to S3 answered ${posted.status}`);
      return started.upload.fields.key!;
    };
    const pendingLarge = () => pending(files.large, "image/jpeg", "Elephants, large");

    // The comparison flips sharp's Huffman optimisation away from what processing.ts does now.
    const productOptimises = (
      ACCEPTED_TYPES["image/jpeg"].encode(sharp()) as unknown as { options: { jpegOptimiseCoding: boolean } }
    ).options.jpegOptimiseCoding;
    const flipped = productOptimises ? "off" : "on";
    const flippedLabel = productOptimises
      ? "… what if: JPEG encoded without Huffman optimisation"
      : "… for comparison: JPEG encoded with Huffman optimisation (sharp's default)";
    const rows: Row[] = [
      {
        name: "direct upload through the API handler",
        file: files.direct.byteLength,
        reports: [],
        expect: "201",
        target: true,
      },
      {
        name: "… the same request with bytes refused at the sniff (transport and form parsing only)",
        file: files.direct.byteLength,
        reports: [],
        expect: "415",
        target: false,
      },
      { name: flippedLabel, file: files.direct.byteLength, reports: [], expect: "201", target: false },
      {
        name: "finishing a straight-to-S3 upload",
        file: files.large.byteLength,
        reports: [],
        expect: "ready",
        target: true,
      },
      {
        name: "… its first step alone: the object streamed into a file in the OS temp folder",
        file: files.large.byteLength,
        reports: [],
        expect: `${files.large.byteLength} bytes`,
        target: false,
      },
      { name: flippedLabel, file: files.large.byteLength, reports: [], expect: "ready", target: false },
      {
        name: "… what if: sharp streamed the object in (it buffers a stream input whole; re-encode only)",
        file: files.large.byteLength,
        reports: [],
        expect: "encoded",
        target: false,
      },
      {
        name: "… for comparison: the same steps on the file already on local disk (header, re-encode into a file, thumbnail; no download or upload)",
        file: files.large.byteLength,
        reports: [],
        expect: "encoded",
        target: false,
      },
      {
        name: "… for comparison: the design before (the object's bytes read into memory, re-encoded into the multipart upload beside the thumbnail, libvips' cache on)",
        file: files.large.byteLength,
        reports: [],
        expect: "stored",
        target: false,
      },
    ];
    const [direct, refused, directFlipped, finish, fetchOnly, finishFlipped, streamed, fromDisk, inMemory] = rows as [
      Row,
      Row,
      Row,
      Row,
      Row,
      Row,
      Row,
      Row,
      Row,
    ];
    // The direct upload's peak moves with when V8 collects (its event is parsed into strings), so it gets more runs.
    // Looking closer at some formats (BENCH_MEMORY_FORMATS, see the top) leaves these rows out.
    const baseRuns = process.env.BENCH_MEMORY_FORMATS ? 0 : options.runs;
    if (baseRuns === 0) rows.length = 0;
    for (let i = 0; i < baseRuns + (baseRuns && 2); i++) {
      direct.reports.push(await measure(env, "direct", directEvent));
      refused.reports.push(await measure(env, "direct", refusedEvent));
      directFlipped.reports.push(await measure(env, "direct", directEvent, flipped));
    }
    for (let i = 0; i < baseRuns; i++) {
      const key = await pendingLarge();
      fetchOnly.reports.push(await measure(env, "fetch", key));
      streamed.reports.push(await measure(env, "stream-encode", key));
      fromDisk.reports.push(await measure(env, "from-disk", largeFile));
      inMemory.reports.push(await measure(env, "in-memory", key));
      finish.reports.push(await measure(env, "finish", key));
      finishFlipped.reports.push(await measure(env, "finish", await pendingLarge(), flipped));
    }

    // Each format's worst input at its own pixel limit, through both paths, and just over it.
    options.log("  per format at its pixel limit…");
    const cases = await formatFiles(
      {
        maxPixels: config.maxImagePixels,
        directBytes: config.maxDirectUploadBytes,
        largeBytes: config.maxLargeUploadBytes,
      },
      options.log,
    );
    const formatRows: FormatRow[] = [];
    for (const [index, item] of cases.entries()) {
      const extension = ACCEPTED_TYPES[item.spec.type].extension;
      const direct = join(work, `limit-${index}.${extension}`);
      const over = join(work, `over-${index}.${extension}`);
      await writeFile(direct, item.direct);
      await writeFile(over, item.overFile);
      const common = { spec: item.spec, limit: item.limit };
      formatRows.push(
        { ...common, path: "direct", size: item.size, file: item.direct, argument: direct, expect: "201", reports: [] },
        { ...common, path: "finish", size: item.size, file: item.large, argument: "", expect: "ready", reports: [] },
        {
          ...common,
          path: "over",
          size: item.over,
          file: item.overFile,
          argument: over,
          expect: `${STATUS_OF_KIND.undecodable} undecodable`,
          reports: [],
        },
      );
    }
    for (let i = 0; i < options.runs; i++) {
      for (const row of formatRows) {
        const key = row.path === "finish" ? await pending(row.file, row.spec.type, row.spec.format) : row.argument;
        const report = await measure(env, row.path === "finish" ? "finish" : "create", key);
        options.log(
          `  ${row.spec.format} ${describeSize(row.size)} ${row.path}: ${report.outcome}, ${mib(report.peak - report.idle)}`,
        );
        row.reports.push(report);
      }
    }

    for (const row of [...rows, ...formatRows.map((row) => ({ ...row, name: formatRowName(row) }))]) {
      const wrong = row.reports.find((report) => report.outcome !== row.expect);
      if (wrong) throw new Error(`${row.name}: expected ${row.expect}, got ${wrong.outcome}`);
    }
    const above = (row: Row) => median(row.reports.map((report) => report.peak - report.idle));
    const checks = rows
      .filter((row) => row.target)
      .map((row) => ({
        section: "5. Memory",
        what: `${row.name}: peak RSS above idle / file size`,
        value: `${ratio(above(row) / row.file)} (${mib(above(row))} for ${mib(row.file)})`,
        target: `< ${TARGET}×`,
        met: above(row) / row.file < TARGET,
      }));
    const formatAbove = (row: FormatRow) => median(row.reports.map((report) => report.peak - report.idle));
    const formatTarget = (row: FormatRow) => (row.path === "over" ? REFUSED_TARGET : FORMAT_TARGET);
    const formatMet = (row: FormatRow) => formatAbove(row) <= formatTarget(row);
    checks.push(
      ...formatRows.map((row) => ({
        section: "5. Memory",
        what: `${formatRowName(row)}: peak RSS above idle`,
        value: `${mib(formatAbove(row))}${row.path === "over" ? `, answered ${row.expect}` : ""}`,
        target: `≤ ${mib(formatTarget(row), 0)}`,
        met: formatMet(row),
      })),
    );
    const directRaw = 3840 * 2160 * 3;
    // What the what-if costs in stored bytes: the same encode with and without Huffman optimisation.
    const stored = {
      optimised: (await sharp(files.direct).autoOrient().jpeg({ quality: 90 }).toBuffer()).byteLength,
      plain: (await sharp(files.direct).autoOrient().jpeg({ quality: 90, optimiseCoding: false }).toBuffer())
        .byteLength,
    };
    const markdown = [
      `Each operation in a fresh process (the service built as its Lambda handlers build it, on the emulators, ` +
        `warmed up with a small image and a first request); idle RSS just before the operation, peak RSS ` +
        `(\`getrusage\` maxrss) just after, the process started through \`sh\` so that it does not inherit the ` +
        `bench's own RSS (Linux keeps a peak across exec); median of ${options.runs + 2} processes for the direct ` +
        `upload rows and ` +
        `${options.runs} for the others (each run's figure in brackets). Files made from the fixture ` +
        `Elephants_3840x2160.jpg: re-encoded just under the 4 MiB direct limit (3840×2160, 4:4:4), and enlarged ` +
        `to ${largeMeta.width}×${largeMeta.height} (${(largePixels / 1e6).toFixed(1)} MP) with grain at the highest ` +
        `quality under 50 MiB. The direct upload arrives as API Gateway sends it: multipart, base64 in the JSON ` +
        `event. Decoded, the pictures are ${mib(directRaw)} (${ratio(directRaw / files.direct.byteLength, 1)} the ` +
        `file) and ${mib(largePixels * 3)} (${ratio((largePixels * 3) / files.large.byteLength, 1)} the file) of ` +
        `RGB. Rows starting with "…" are diagnostics, what-ifs and comparisons (sharp patched in the child only), not ` +
        `targets; processing.ts encodes JPEG ${productOptimises ? "with" : "without"} Huffman optimisation now. ` +
        `Without Huffman optimisation the stored JPEG of the 4 MiB file is ${stored.plain.toLocaleString("en-US")} ` +
        `bytes instead of ${stored.optimised.toLocaleString("en-US")} ` +
        `(${(((stored.plain - stored.optimised) / stored.optimised) * 100).toFixed(1)}% more).`,
      "",
      table(
        ["operation", "file", "idle RSS", "peak RSS", "peak − idle", "(peak − idle) / file", `target < ${TARGET}×`],
        rows.map((row) => [
          row.name,
          mib(row.file, 2),
          mib(median(row.reports.map((report) => report.idle))),
          mib(median(row.reports.map((report) => report.peak))),
          `${mib(above(row))} (${row.reports.map((report) => ((report.peak - report.idle) / MiB).toFixed(0)).join(", ")})`,
          ratio(above(row) / row.file),
          row.target ? (above(row) / row.file < TARGET ? "met" : "**missed**") : "",
        ]),
      ),
      "",
      `### Worst input per format at its pixel limit`,
      "",
      `Issue 12's target: for each accepted format, the worst input at its pixel limit costs one upload at ` +
        `most ${mib(FORMAT_TARGET, 0)} above idle. Each file is made with sharp at the largest size its own limit ` +
        `allows (\`pixelLimitOf\` in packages/core/src/image/processing.ts: MAX_IMAGE_PIXELS, ` +
        `${config.maxImagePixels.toLocaleString("en-US")} here, or the format's lower FORMAT_PIXEL_LIMITS; the ` +
        `largest square frames, all frames counted together), in the costliest layout found: progressive JPEG ` +
        `and interlaced PNG are held whole until their last pass; an EXIF orientation that turns the picture ` +
        `costs JPEG and PNG more (the service turns every image upright), WebP less; one large frame costs more ` +
        `than many small ones, so the GIF rows have one and the animations two. Grain costs more than a smooth ` +
        `picture of the same size, so each file carries as much as its path's byte limit lets through: a smooth ` +
        `gradient with a grainy band across the top of each frame, as tall as fits in 97% of the limit ` +
        `(${mib(config.maxDirectUploadBytes, 0)} direct, ${mib(config.maxLargeUploadBytes, 0)} straight to S3), ` +
        `grainy throughout where that fits. Each row in a fresh process as above, median of ${options.runs} ` +
        `(each run in brackets). **direct** is a direct upload's own work without the HTTP transport (the ` +
        `file's bytes read in the child after the idle figure, then \`store.create\`: header check, decode and ` +
        `re-encode, renditions, all stored; what the transport adds for a 4 MiB file is in the first rows ` +
        `above); **finish** is the finishing step of a file posted straight to S3 (a large upload started with ` +
        `the format's content type, the file posted with its presigned POST, then \`finishUpload\` in the ` +
        `child). **over** is the direct path with a smooth file one row of pixels over the limit in each ` +
        `frame: refused from the header (${STATUS_OF_KIND.undecodable} undecodable) before any decode, target ` +
        `≤ ${mib(REFUSED_TARGET, 0)}.`,
      "",
      table(
        ["format", "input", "path", "pixels (limit)", "file", "answer", "peak − idle", "target", ""],
        formatRows.map((row) => [
          row.spec.format,
          row.spec.input,
          row.path,
          `${describeSize(row.size)} (${row.limit.toLocaleString("en-US")})`,
          mib(row.file.byteLength, 2),
          row.reports[0]?.outcome ?? "",
          `${mib(formatAbove(row))} (${row.reports.map((report) => ((report.peak - report.idle) / MiB).toFixed(0)).join(", ")})`,
          `≤ ${mib(formatTarget(row), 0)}`,
          formatMet(row) ? "met" : "**missed**",
        ]),
      ),
    ].join("\n");
    return {
      title: "5. Memory",
      markdown,
      checks,
      data: {
        rows: rows.map((row) => ({ name: row.name, file: row.file, above: above(row), reports: row.reports })),
        productOptimises,
        stored,
        largePixels,
        formats: formatRows.map((row) => ({
          format: row.spec.format,
          type: row.spec.type,
          path: row.path,
          limit: row.limit,
          size: row.size,
          pixels: pixelsOf(row.size),
          file: row.file.byteLength,
          above: formatAbove(row),
          reports: row.reports,
        })),
      },
    };
  } finally {
    await rm(work, { recursive: true, force: true });
    await emulators.stop();
  }
}
