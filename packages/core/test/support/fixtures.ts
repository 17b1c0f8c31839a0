import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";

/** The real image files shared by the team, beside the repository. */
export const FIXTURES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../../../../shared/fixtures/images");

export const fixture = (name: string): Buffer => readFileSync(resolve(FIXTURES_DIR, name));

/** A small real PNG of one colour, different per seed, for bulk test data. */
export async function tinyPng(seed = 0): Promise<Buffer> {
  return sharp({
    create: { width: 8 + (seed % 5), height: 6, channels: 3, background: { r: seed % 256, g: 80, b: 160 } },
  })
    .png()
    .toBuffer();
}

/** A valid PNG whose header declares `width` x `height`, with almost no pixel data behind it. */
export async function pngDeclaring(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await tinyPng());
  // IHDR starts at byte 8: length (4), "IHDR" (4), width (4), height (4), then 5 bytes, then CRC.
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

function crc32(bytes: Uint8Array): number {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}
