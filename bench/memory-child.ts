/**
 * One measured operation in a fresh process, for the memory section. Builds the service as its
 * Lambda handlers do (config, clients, store; the API wrapped in hono's aws-lambda adapter),
 * pointed at the emulators whose environment it is given, warms up (sharp and the router loaded
 * by a first small request, every accepted format decoded and encoded once), takes the idle RSS,
 * then runs one operation and reports the process's peak RSS (getrusage's maxrss) as one JSON line.
 *
 *   direct <event.json>: the API handler serves one API Gateway event (a multipart upload)
 *   create <file>:       the direct upload's own work without the HTTP transport: the file's bytes
 *                        read into memory, then store.create (header check, decode, re-encode,
 *                        renditions, store); the outcome is the status the API would answer
 *   finish <key>:        the finishing step checks one object posted straight to S3
 *   fetch <key>:         only the finishing step's first part: the object streamed into a file in
 *                        the OS temp folder
 *   from-disk <path>:    the floor of this design: the finishing step's own checks and steps on the
 *                        same file already on local disk (no download, no upload): header, upright
 *                        re-encode into a file, then the thumbnail
 *   stream-encode <key>: what-if: the object streamed from S3 through sharp's upright JPEG
 *                        re-encode (no Huffman optimisation) into a byte counter, never whole
 *   in-memory <key>:     the design before: the object's bytes read into memory, checked, then
 *                        re-encoded into a multipart upload beside the thumbnail, with libvips'
 *                        operation cache on (sharp's default)
 *
 * The report also carries `floor`: how far the process's maxrss already stood above idle before
 * the operation (a child started straight from a large process starts with that one's RSS).
 *
 * BENCH_JPEG_OPTIMISE=on|off is a what-if: sharp's JPEG encoder with or without Huffman
 * optimisation (optimiseCoding), patched into sharp in this process only.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Writable, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { handle } from "hono/aws-lambda";
import { createApp, createLogger } from "@images/api";
import { STATUS_OF_KIND } from "@images/api/problem";
import { ACCEPTED_TYPES, createAwsClients, createImageStore, isAppError, loadConfig, processImage } from "@images/core";
import { checkImage } from "@images/core/image/processing";
import { createObjectStore } from "@images/core/storage/object-store";
import sharp from "sharp";
import { apiEvent } from "./api-event.ts";

const [mode, argument] = process.argv.slice(2) as [
  "direct" | "create" | "finish" | "fetch" | "from-disk" | "stream-encode" | "in-memory",
  string,
];
const optimise = process.env.BENCH_JPEG_OPTIMISE;
if (optimise === "on" || optimise === "off") {
  const jpeg = sharp.prototype.jpeg;
  sharp.prototype.jpeg = function (this: sharp.Sharp, options?: sharp.JpegOptions) {
    return jpeg.call(this, { ...options, optimiseCoding: optimise === "on" });
  };
}
const config = loadConfig({ ...process.env, AWS_ENDPOINT_GUARD: "local" });
const clients = createAwsClients(config);
const store = createImageStore({ config, clients });
const objects = createObjectStore(clients.s3, config.bucketName);
const handler = handle(createApp({ config, store, logger: createLogger({ level: "warn" }) }));

// Warm: the decoders and encoders of every accepted format and the router are loaded before the
// idle figure is taken.
for (const { encode } of Object.values(ACCEPTED_TYPES)) {
  const tiny = await encode(
    sharp({ create: { width: 16, height: 12, channels: 4, background: "#80808080" } }),
  ).toBuffer();
  await processImage(tiny, { maxPixels: config.maxImagePixels });
}
await handler(apiEvent("GET", "/health", {}) as never, {} as never);
await sleep(300);
const idle = process.memoryUsage().rss;
const floor = process.resourceUsage().maxRSS * 1024 - idle;

let outcome: string;
if (mode === "direct") {
  // As the Lambda runtime does: the event arrives as JSON text and is parsed before the handler.
  const event = JSON.parse(await readFile(argument, "utf8"));
  const response = await handler(event, {} as never);
  outcome = String(response.statusCode);
} else if (mode === "create") {
  const bytes = await readFile(argument);
  try {
    await store.create({ userId: "bench-user", title: "Pixel limit", tags: ["bench"], bytes });
    outcome = "201";
  } catch (error) {
    if (!isAppError(error)) throw error;
    outcome = `${STATUS_OF_KIND[error.kind]} ${error.kind}`;
  }
} else if (mode === "finish") {
  outcome = await store.finishUpload(argument);
} else if (mode === "fetch") {
  const folder = await mkdtemp(join(tmpdir(), "images-bench-fetch-"));
  try {
    const file = join(folder, "original");
    outcome = (await objects.downloadToFile(argument, file)) ? `${(await stat(file)).size} bytes` : "missing";
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
} else if (mode === "in-memory") {
  sharp.cache({ memory: 50, files: 20, items: 100 });
  const out = await clients.s3.send(new GetObjectCommand({ Bucket: config.bucketName, Key: argument }));
  const bytes = await out.Body!.transformToByteArray();
  const image = await checkImage(bytes, { maxPixels: config.maxImagePixels });
  const hash = createHash("sha256");
  const counted = new PassThrough();
  counted.on("data", (chunk: Buffer) => hash.update(chunk));
  const [, , thumbnail] = await Promise.all([
    pipeline(image.encode(), counted),
    objects.putStream(`bench/in-memory/${argument}`, counted, image.contentType),
    image.thumbnail(),
  ]);
  await objects.put(`bench/in-memory/${argument}.webp`, thumbnail, "image/webp");
  outcome = hash.digest("hex").length === 64 ? "stored" : "not stored";
} else if (mode === "stream-encode") {
  const out = await clients.s3.send(new GetObjectCommand({ Bucket: config.bucketName, Key: argument }));
  const encoder = sharp({ failOn: "error", limitInputPixels: config.maxImagePixels })
    .autoOrient()
    .jpeg({ quality: 90, optimiseCoding: false });
  let written = 0;
  const counter = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written += chunk.length;
      done();
    },
  });
  await pipeline(out.Body as Readable, encoder, counter);
  outcome = written > 0 ? "encoded" : "empty";
} else {
  const folder = await mkdtemp(join(tmpdir(), "images-bench-disk-"));
  try {
    const image = await checkImage(argument, { maxPixels: config.maxImagePixels });
    const encoded = await image.encode().toFile(join(folder, `normalised.${image.extension}`));
    const thumbnail = await image.thumbnail();
    outcome = encoded.size > 0 && thumbnail.length > 0 ? "encoded" : "empty";
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
const peak = process.resourceUsage().maxRSS * 1024;
process.stdout.write(`${JSON.stringify({ mode, outcome, idle, peak, floor, after: process.memoryUsage().rss })}\n`);
process.exit(0);
