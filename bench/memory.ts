/**
 * Section 5: peak memory of the two heavy operations, each in a fresh process
 * (bench/memory-child.ts): a direct upload of a JPEG just under the 4 MiB limit through the API
 * handler, and the finishing step of a JPEG of about 50 MiB posted straight to S3. The test
 * files are made from the shared fixtures with sharp and kept in the OS temp folder between runs.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { signDevelopmentToken } from "@images/api";
import { ACCEPTED_TYPES, createAwsClients, createImageStore, loadConfig } from "@images/core";
import sharp from "sharp";
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

/** The two test files, made once and cached by the fixture's digest. */
async function testFiles(): Promise<{ direct: Buffer; large: Buffer }> {
  const source = await readFile(resolve(FIXTURES_DIR, "Elephants_3840x2160.jpg"));
  const cache = join(tmpdir(), "images-bench-files", createHash("sha256").update(source).digest("hex").slice(0, 16));
  await mkdir(cache, { recursive: true });
  const cached = async (name: string, make: () => Promise<Buffer>) => {
    const file = join(cache, name);
    try {
      return await readFile(file);
    } catch {
      const bytes = await make();
      await writeFile(file, bytes);
      return bytes;
    }
  };
  // Just under the direct limit: the 8 MB 3840x2160 photo re-encoded.
  const direct = await cached("direct-4mib.jpg", () =>
    largestUnder(DIRECT_LIMIT, (quality) => sharp(source).jpeg({ quality, chromaSubsampling: "4:4:4" }).toBuffer()),
  );
  // About 50 MiB within the pixel limit: enlarged to 49.7 megapixels, with fine grain so that
  // the encoder cannot make it small, at the highest quality that fits.
  const large = await cached("large-50mib.jpg", async () => {
    const width = 9400;
    const height = 5287;
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

interface ChildReport {
  mode: string;
  outcome: string;
  idle: number;
  peak: number;
  /** How far maxrss already stood above idle before the operation. */
  floor: number;
  after: number;
}

type Mode = "direct" | "finish" | "fetch" | "from-disk" | "stream-encode" | "in-memory";

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

export async function runMemory(options: { runs: number; log(message: string): void }): Promise<SectionResult> {
  const files = await testFiles();
  const largeMeta = await sharp(files.large).metadata();
  const largePixels = (largeMeta.width ?? 0) * (largeMeta.height ?? 0);
  if (largePixels > PIXEL_LIMIT) throw new Error("the large file has too many pixels");
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
    const pendingLarge = async () => {
      const started = await store.startLargeUpload("bench-user", {
        title: "Elephants, large",
        tags: ["safari"],
        contentType: "image/jpeg",
        sizeBytes: files.large.byteLength,
      });
      const post = new FormData();
      for (const [name, value] of Object.entries(started.upload.fields)) post.append(name, value);
      post.append("file", new Blob([files.large], { type: "image/jpeg" }), "large.jpg");
      const posted = await fetch(started.upload.url, { method: "POST", body: post });
      if (!posted.ok) throw new Error(`posting to S3 answered ${posted.status}`);
      return `uploads/${started.image.image_id}`;
    };

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
    for (let i = 0; i < options.runs + 2; i++) {
      direct.reports.push(await measure(env, "direct", directEvent));
      refused.reports.push(await measure(env, "direct", refusedEvent));
      directFlipped.reports.push(await measure(env, "direct", directEvent, flipped));
    }
    for (let i = 0; i < options.runs; i++) {
      const key = await pendingLarge();
      fetchOnly.reports.push(await measure(env, "fetch", key));
      streamed.reports.push(await measure(env, "stream-encode", key));
      fromDisk.reports.push(await measure(env, "from-disk", largeFile));
      inMemory.reports.push(await measure(env, "in-memory", key));
      finish.reports.push(await measure(env, "finish", key));
      finishFlipped.reports.push(await measure(env, "finish", await pendingLarge(), flipped));
    }
    for (const row of rows) {
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
      },
    };
  } finally {
    await rm(work, { recursive: true, force: true });
    await emulators.stop();
  }
}
