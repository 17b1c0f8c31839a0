/**
 * One measured operation in a fresh process, for the memory section. Builds the service as its
 * Lambda handlers do (config, clients, store; the API wrapped in hono's aws-lambda adapter),
 * pointed at the emulators whose environment it is given, warms up (sharp and the
 * router loaded by a first small request), takes the idle RSS, then runs one operation and
 * reports the process's peak RSS (getrusage's maxrss) as one JSON line.
 *
 *   direct <event.json>: the API handler serves one API Gateway event (a multipart upload)
 *   finish <key>:        the finishing step checks one object posted straight to S3
 *   fetch <key>:         only the finishing step's first part: the object's bytes read into memory
 *   from-disk <path>:    the floor of this design: the same file read from local disk (no HTTP
 *                        download), then the upright JPEG re-encode (no Huffman optimisation) into
 *                        a byte counter, beside its thumbnail, as the finishing step does them
 *   stream-encode <key>: what-if: the object streamed from S3 through sharp's upright JPEG
 *                        re-encode (no Huffman optimisation) into a byte counter, never whole
 *
 * BENCH_JPEG_OPTIMISE=on|off is a what-if: sharp's JPEG encoder with or without Huffman
 * optimisation (optimiseCoding), patched into sharp in this process only.
 */
import { readFile } from "node:fs/promises";
import { Writable, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { handle } from "hono/aws-lambda";
import { createApp, createLogger } from "@images/api";
import { createAwsClients, createImageStore, loadConfig, processImage } from "@images/core";
import { createObjectStore } from "@images/core/storage/object-store";
import sharp from "sharp";
import { apiEvent } from "./api-event.ts";

const [mode, argument] = process.argv.slice(2) as [
  "direct" | "finish" | "fetch" | "from-disk" | "stream-encode",
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

// Warm: the decoders and the router are loaded before the idle figure is taken.
const tiny = await sharp({ create: { width: 16, height: 12, channels: 3, background: "#808080" } })
  .jpeg()
  .toBuffer();
await processImage(tiny, { maxPixels: config.maxImagePixels });
await handler(apiEvent("GET", "/health", {}) as never, {} as never);
await sleep(300);
const idle = process.memoryUsage().rss;

let outcome: string;
if (mode === "direct") {
  // As the Lambda runtime does: the event arrives as JSON text and is parsed before the handler.
  const event = JSON.parse(await readFile(argument, "utf8"));
  const response = await handler(event, {} as never);
  outcome = String(response.statusCode);
} else if (mode === "finish") {
  outcome = await store.finishUpload(argument);
} else if (mode === "fetch") {
  const bytes = await objects.getBytes(argument);
  outcome = bytes ? `${bytes.byteLength} bytes` : "missing";
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
  const input = await readFile(argument);
  const options = { failOn: "error" as const, limitInputPixels: config.maxImagePixels };
  let written = 0;
  const counter = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written += chunk.length;
      done();
    },
  });
  await Promise.all([
    pipeline(sharp(input, options).autoOrient().jpeg({ quality: 90, optimiseCoding: false }), counter),
    sharp(input, options).autoOrient().resize(320, 320, { fit: "inside" }).webp({ quality: 80 }).toBuffer(),
  ]);
  outcome = written > 0 ? "encoded" : "empty";
}
const peak = process.resourceUsage().maxRSS * 1024;
process.stdout.write(`${JSON.stringify({ mode, outcome, idle, peak, after: process.memoryUsage().rss })}\n`);
process.exit(0);
