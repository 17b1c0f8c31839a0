/// <reference path="./exifr-modules.d.ts" />
// exifr's core and only what reading one EXIF tag pair needs: files on disk, JPEG, PNG (its eXIf
// chunk, found past the header), HEIF/AVIF, and the TIFF structure EXIF is written in.
import { parse } from "exifr/src/core.mjs";
import "exifr/src/file-readers/FsReader.mjs";
import "exifr/src/file-parsers/jpeg.mjs";
import "exifr/src/file-parsers/png.mjs";
import "exifr/src/file-parsers/heif.mjs";
import "exifr/src/segment-parsers/tiff-exif.mjs";
import "exifr/src/segment-parsers/ihdr.mjs";

/** Photography's first surviving picture (Niépce, 1826): nothing was taken before it. */
const EARLIEST_YEAR = 1826;
/** Clocks on either side may run a little apart; a minute is not "in the future". */
const CLOCK_SKEW_MS = 60_000;
/** The zone furthest ahead of UTC (Kiribati): a wall-clock time with no offset is at most this far ahead. */
const FURTHEST_AHEAD_MS = 14 * 3600_000;

/** EXIF's "YYYY:MM:DD HH:MM:SS", with "-" between the date's parts tolerated (some writers use it). */
const EXIF_DATE_TIME = /^(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/;
/** The EXIF tags read, by number (the core build has no dictionary of names). */
const DATE_TIME_ORIGINAL = 0x9003;
const OFFSET_TIME_ORIGINAL = 0x9011;

/** EXIF 2.31's OffsetTimeOriginal: "+hh:mm" or "-hh:mm". */
const EXIF_OFFSET = /^([+-])(\d{2}):(\d{2})$/;

/**
 * When the picture was taken, from EXIF DateTimeOriginal and OffsetTimeOriginal, as ISO 8601:
 * `2019-05-04T13:20:11+02:00` with the camera's offset, `2019-05-04T13:20:11` (its local time,
 * zone unknown) without one. Null when the file has no such tag, when it is not a real date,
 * or when it is not plausible: before 1826 or after now.
 */
export function captureTimeOf(dateTime: unknown, offset: unknown, now: Date): string | null {
  if (typeof dateTime !== "string") return null;
  const match = EXIF_DATE_TIME.exec(dateTime.trim().replace(/\0+$/, ""));
  if (!match) return null;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (year < EARLIEST_YEAR || hour > 23 || minute > 59 || second > 59) return null;
  const wallClock = Date.UTC(year, month - 1, day, hour, minute, second);
  const date = new Date(wallClock);
  // Date.UTC rolls 31 February into March: a date that does not round-trip does not exist.
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null;
  const local = date.toISOString().slice(0, 19);

  const offsetMatch = typeof offset === "string" ? EXIF_OFFSET.exec(offset.trim().replace(/\0+$/, "")) : null;
  const offsetMinutes = offsetMatch
    ? (offsetMatch[1] === "-" ? -1 : 1) * (Number(offsetMatch[2]) * 60 + Number(offsetMatch[3]))
    : undefined;
  const validOffset = offsetMinutes !== undefined && Math.abs(offsetMinutes) <= 14 * 60;
  const latest = now.getTime() + CLOCK_SKEW_MS;
  if (validOffset) {
    if (wallClock - offsetMinutes * 60_000 > latest) return null;
    return `${local}${offsetMatch![1]}${offsetMatch![2]}:${offsetMatch![3]}`;
  }
  // No (usable) offset: the wall clock may be in any zone, so only one ahead of every zone is too late.
  if (wallClock > latest + FURTHEST_AHEAD_MS) return null;
  return local;
}

/**
 * Reads the capture time from an image's EXIF before anything strips it; `input` is the file's
 * bytes or its path (exifr then reads only the segments it needs). Any file without readable
 * EXIF (WebP, GIF, a damaged block) has none: null, never an error.
 */
export async function readCaptureTime(input: Uint8Array | string, now: Date): Promise<string | null> {
  try {
    const tags = await parse(typeof input === "string" ? input : Buffer.from(input), {
      // The Exif IFD's two tags and no other block (GPS above all is never read).
      ifd0: false,
      ifd1: false,
      gps: false,
      interop: false,
      exif: [DATE_TIME_ORIGINAL, OFFSET_TIME_ORIGINAL],
      translateKeys: false,
      translateValues: false,
      // The text as written: exifr's revived Date would read the wall clock in this process's zone.
      reviveValues: false,
    });
    return captureTimeOf(tags?.[DATE_TIME_ORIGINAL], tags?.[OFFSET_TIME_ORIGINAL], now);
  } catch {
    return null;
  }
}
