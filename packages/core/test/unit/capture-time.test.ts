import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import exifr from "exifr";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { captureTimeOf, readCaptureTime } from "../../src/image/capture-time.ts";
import { fixture } from "../support/fixtures.ts";

const NOW = new Date("2026-12-01T12:00:00.000Z");

/** FreshFlowerGPS.jpg (GPS tags) with a capture time written into its EXIF as well. */
function photoTaken(dateTime: string, offset?: string): Promise<Buffer> {
  return sharp(fixture("FreshFlowerGPS.jpg"))
    .keepExif()
    .withExifMerge({ IFD2: { DateTimeOriginal: dateTime, ...(offset ? { OffsetTimeOriginal: offset } : {}) } })
    .jpeg()
    .toBuffer();
}

describe("the capture time read from EXIF", () => {
  it("is DateTimeOriginal with OffsetTimeOriginal, as ISO 8601 with the camera's offset", async () => {
    const photo = await photoTaken("2019:05:04 13:20:11", "+02:00");
    // The file really carries GPS too: the capture time is read beside it, never with it.
    expect((await exifr.gps(photo))?.latitude).toBeCloseTo(51.5007, 3);
    expect(await readCaptureTime(photo, NOW)).toBe("2019-05-04T13:20:11+02:00");
  });

  it("is the camera's local time when the file has no offset", async () => {
    expect(await readCaptureTime(await photoTaken("2001:02:03 04:05:06"), NOW)).toBe("2001-02-03T04:05:06");
  });

  it("is read from a PNG's EXIF and from a file on disk", async () => {
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#08f" } })
      .withExif({ IFD2: { DateTimeOriginal: "2024:12:31 23:59:59", OffsetTimeOriginal: "-05:30" } })
      .png()
      .toBuffer();
    expect(await readCaptureTime(png, NOW)).toBe("2024-12-31T23:59:59-05:30");
    const folder = await mkdtemp(join(tmpdir(), "capture-time-"));
    const path = join(folder, "photo.jpg");
    await writeFile(path, await photoTaken("2019:05:04 13:20:11", "+02:00"));
    expect(await readCaptureTime(path, NOW)).toBe("2019-05-04T13:20:11+02:00");
    await rm(folder, { recursive: true });
  });

  it("is null for a file without one, one without EXIF, and bytes that are no image", async () => {
    expect(await readCaptureTime(fixture("FreshFlowerGPS.jpg"), NOW)).toBeNull();
    expect(await readCaptureTime(fixture("wood-d.webp"), NOW)).toBeNull();
    expect(await readCaptureTime(new Uint8Array([1, 2, 3]), NOW)).toBeNull();
    expect(await readCaptureTime("/nonexistent/file.jpg", NOW)).toBeNull();
  });

  it("is null when not plausible: before 1826, in the future, or no real date", () => {
    expect(captureTimeOf("1825:12:31 23:59:59", "+00:00", NOW)).toBeNull();
    expect(captureTimeOf("1826:01:01 00:00:00", "+00:00", NOW)).toBe("1826-01-01T00:00:00+00:00");
    expect(captureTimeOf("0000:00:00 00:00:00", undefined, NOW)).toBeNull();
    expect(captureTimeOf("2023:02:29 10:00:00", undefined, NOW)).toBeNull();
    expect(captureTimeOf("2023:13:01 10:00:00", undefined, NOW)).toBeNull();
    expect(captureTimeOf("2023:01:01 24:00:00", undefined, NOW)).toBeNull();
    expect(captureTimeOf("    :  :     :  :  ", undefined, NOW)).toBeNull();
    expect(captureTimeOf(20230101, undefined, NOW)).toBeNull();
    // With an offset the instant is known: an hour after now is the future.
    expect(captureTimeOf("2026:12:01 14:00:00", "+01:00", NOW)).toBeNull();
    expect(captureTimeOf("2026:12:01 12:30:00", "+01:00", NOW)).toBe("2026-12-01T12:30:00+01:00");
    // Without one, a wall clock up to 14 h ahead may be somebody's now (UTC+14).
    expect(captureTimeOf("2026:12:02 01:59:00", undefined, NOW)).toBe("2026-12-02T01:59:00");
    expect(captureTimeOf("2026:12:02 02:30:00", undefined, NOW)).toBeNull();
  });

  it("ignores an offset that is not one", () => {
    expect(captureTimeOf("2019:05:04 13:20:11", "+25:00", NOW)).toBe("2019-05-04T13:20:11");
    expect(captureTimeOf("2019:05:04 13:20:11", "02:00", NOW)).toBe("2019-05-04T13:20:11");
    expect(captureTimeOf("2019-05-04 13:20:11\0", "-03:00\0", NOW)).toBe("2019-05-04T13:20:11-03:00");
  });
});
