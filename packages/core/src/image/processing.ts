import { createHash } from "node:crypto";
import type { Sharp, Metadata } from "sharp";
import { rgbaToThumbHash } from "thumbhash";
import { AppError } from "../errors.ts";

/** The formats the service accepts, decided from the bytes alone. */
export const ACCEPTED_TYPES = {
  // Without Huffman optimisation libjpeg encodes in one pass instead of holding every DCT
  // coefficient of the picture (6 bytes a pixel): files about 1.4% larger, far less memory.
  "image/jpeg": { extension: "jpg", encode: (image: Sharp) => image.jpeg({ quality: 90, optimiseCoding: false }) },
  "image/png": { extension: "png", encode: (image: Sharp) => image.png() },
  // Effort 2 keeps libwebp from holding every token of the picture for a second pass (efforts 3 and
  // up): a grainy 16.8 MP WebP finishes in 300 MiB instead of 555, and a photo re-encodes three times
  // as fast, in files some 6% larger (bench, section 5).
  "image/webp": { extension: "webp", encode: (image: Sharp) => image.webp({ quality: 90, effort: 2 }) },
  "image/gif": { extension: "gif", encode: (image: Sharp) => image.gif() },
  "image/avif": { extension: "avif", encode: (image: Sharp) => image.avif({ quality: 60 }) },
} as const;
export type AcceptedType = keyof typeof ACCEPTED_TYPES;

/**
 * Each format's pixel limit under MAX_IMAGE_PIXELS, meant to keep one upload's worst input (fine
 * grain in every pixel, the deepest pixels the format holds, an EXIF turn) within 512 MiB above
 * idle on both upload paths; `npm run bench`, section 5, measures each at its limit. libheif
 * decodes an AVIF whole and in several copies; libwebp decodes and encodes a whole picture at
 * once, and a picture with alpha (every animation) costs it some three times as much a pixel;
 * PNG at 16 bits and RGBA, interlaced, and GIF are held whole too; a progressive JPEG keeps every
 * coefficient until its last scan. bench/RESULTS.md shows each limit's worst input against 512 MiB.
 */
export const FORMAT_PIXEL_LIMITS: Partial<Record<AcceptedType, number>> = {
  "image/jpeg": 44_000_000,
  "image/png": 28_000_000,
  "image/gif": 22_000_000,
  // Keeps an opaque 4096x4096 (16.8 MP), a common wallpaper size.
  "image/webp": 16_800_000,
  "image/avif": 6_000_000,
};

/** WebP with an alpha channel, or animated (its frames are composed with alpha): 2828x2828. */
export const WEBP_ALPHA_PIXEL_LIMIT = 8_000_000;

/**
 * The most pixels an image of this type may have, all frames together. `alpha`: the header says
 * the picture has an alpha channel or several frames (only WebP's limit depends on it).
 */
export const pixelLimitOf = (type: AcceptedType, maxPixels: number, alpha = false) =>
  Math.min(
    maxPixels,
    type === "image/webp" && alpha ? WEBP_ALPHA_PIXEL_LIMIT : (FORMAT_PIXEL_LIMITS[type] ?? maxPixels),
  );

export const THUMBNAIL_MAX_SIDE = 320;
export const THUMBNAIL_TYPE = "image/webp";

/** The size ladder: WebP renditions at these long sides, for screens from a grid to a desktop. */
export const RENDITION_SIDES = [320, 640, 1080, 2048] as const;
export const RENDITION_TYPE = "image/webp" as const;
/** ThumbHash encodes at most 100x100 pixels. */
const PLACEHOLDER_MAX_SIDE = 100;

/** One rung of the ladder: upright, without metadata, never larger than the original. */
export interface Rendition {
  width: number;
  height: number;
  body: Buffer;
}

export interface Ladder {
  /** Smallest first. */
  renditions: Rendition[];
  /** A ThumbHash of the picture, base64: what a client paints before the first byte arrives. */
  placeholder: string;
}

/**
 * The long sides an image of this size gets: the rungs it reaches; an image smaller than the
 * first rung gets one rendition at its own size, so that every image has something to show.
 */
export function ladderSides(width: number, height: number): number[] {
  const longSide = Math.max(width, height);
  const reached = RENDITION_SIDES.filter((side) => side <= longSide);
  return reached.length > 0 ? reached : [longSide];
}

export interface ProcessedImage {
  contentType: AcceptedType;
  extension: string;
  /** What is stored: re-encoded, upright, with no EXIF, XMP, IPTC or ICC data. */
  body: Buffer;
  width: number;
  height: number;
  sha256: string;
  ladder: Ladder;
}

/**
 * The libvips loaders of the accepted formats. Every other loader (TIFF, SVG, PDF, JPEG 2000…)
 * is blocked in this process, so libvips, which finds the format from the magic bytes, never
 * parses anything else: the type is decided by the same library that decodes.
 */
const ACCEPTED_LOADERS = [
  "VipsForeignLoadJpeg",
  "VipsForeignLoadPng",
  "VipsForeignLoadWebp",
  "VipsForeignLoadNsgif",
  "VipsForeignLoadHeif",
];

// Loaded on first use: decoding libraries are heavy, and most requests never touch them.
let sharpLoaded: Promise<typeof import("sharp")> | undefined;
const loadSharp = () =>
  (sharpLoaded ??= import("sharp").then(({ default: sharp }) => {
    sharp.block({ operation: ["VipsForeignLoad"] });
    sharp.unblock({ operation: ACCEPTED_LOADERS });
    // libvips' operation cache would keep recent loads open for a reuse that never comes (every
    // image is new): a file input stays mapped, so a large upload's file would count twice in
    // memory when its thumbnail opens it again after the re-encode.
    sharp.cache(false);
    return sharp;
  }));

export const isAcceptedType = (type: string): type is AcceptedType => type in ACCEPTED_TYPES;

const unsupported = (what: string) =>
  new AppError("unsupported_type", `the file is ${what}; accepted formats are JPEG, PNG, WebP, GIF and AVIF`);

/** The accepted type libvips read from the header (HEIF holds AVIF, or HEIC, which is refused). */
function acceptedTypeOf(header: Metadata): AcceptedType {
  const type =
    header.format === "heif"
      ? header.compression === "av1"
        ? "image/avif"
        : `image/heif (${header.compression ?? "unknown"})`
      : `image/${header.format}`;
  if (!isAcceptedType(type)) throw unsupported(type);
  return type;
}

const undecodable = (detail: string, cause?: unknown) =>
  new AppError("undecodable", `the image could not be decoded: ${detail}`, { cause });

/** An image whose type and size were checked, ready to decode. */
export interface CheckedImage {
  contentType: AcceptedType;
  extension: string;
  /**
   * Whether libvips decodes it a strip at a time, never holding the whole picture: a baseline
   * JPEG. A progressive JPEG keeps every coefficient of the picture until its last scan.
   */
  decodesInStrips: boolean;
  /** The decoding pipeline, upright: every frame when `allFrames`, else the first. */
  open(allFrames: boolean): Sharp;
  /** Re-encodes in its own format, without any embedded metadata. */
  encode(): Sharp;
  /**
   * A WebP at most 320 px on its long side, as images were stored before the ladder; kept for
   * the bench, which measures the ladder's cost beside it.
   */
  thumbnail(): Promise<Buffer>;
  /**
   * The renditions and the placeholder, from one decode of the first frame shrunk to the top
   * rung (JPEG and WebP shrink on load, so a large photo is never decoded whole for them).
   */
  ladder(): Promise<Ladder>;
}

/**
 * Reads the type from the magic bytes and the size from the header, and refuses the image
 * cheaply, before any pixel is decoded: a format not accepted, or more pixels than allowed (a
 * decompression bomb). `source` is the bytes, or the path of a file holding them.
 */
export async function checkImage(source: Uint8Array | string, options: { maxPixels: number }): Promise<CheckedImage> {
  const sharp = await loadSharp();
  const input = typeof source === "string" ? source : Buffer.from(source.buffer, source.byteOffset, source.byteLength);

  let header: Metadata;
  try {
    header = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (error) {
    // libvips knows no loader (or only a blocked one) for these bytes; otherwise the header is bad.
    if (/unsupported image format/i.test(String((error as Error).message))) throw unsupported("not a recognised image");
    throw undecodable("its header is damaged", error);
  }
  const contentType = acceptedTypeOf(header);
  const animated = contentType === "image/gif" || contentType === "image/webp";
  const frameHeight = header.pageHeight ?? header.height ?? 0;
  const pixels = (header.width ?? 0) * frameHeight * (animated ? (header.pages ?? 1) : 1);
  if (!header.width || !frameHeight) throw undecodable("it has no dimensions");
  const alpha = header.hasAlpha === true || (header.pages ?? 1) > 1;
  const limit = pixelLimitOf(contentType, options.maxPixels, alpha);
  if (pixels > limit) {
    const format = contentType.slice("image/".length).toUpperCase();
    const which =
      limit < options.maxPixels
        ? ` for ${format}${contentType === "image/webp" && alpha ? " with alpha or frames" : ""}`
        : "";
    throw new AppError("undecodable", `the image has ${pixels} pixels, more than the limit of ${limit}${which}`);
  }

  const open = (allFrames: boolean) =>
    sharp(input, {
      animated: allFrames && animated,
      limitInputPixels: limit,
      failOn: "warning",
    }).autoOrient();
  return {
    contentType,
    extension: ACCEPTED_TYPES[contentType].extension,
    decodesInStrips: contentType === "image/jpeg" && !header.isProgressive,
    open,
    encode: () => ACCEPTED_TYPES[contentType].encode(open(true)),
    thumbnail: () =>
      open(false)
        .resize(THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE, { fit: "inside", withoutEnlargement: true })
        .webp({ quality: 80 })
        .toBuffer()
        .catch((error: unknown) => Promise.reject(undecodable("its data is damaged or truncated", error))),
    ladder: () =>
      makeLadder(sharp, open(false), header).catch((error: unknown) =>
        Promise.reject(undecodable("its data is damaged or truncated", error)),
      ),
  };
}

async function makeLadder(sharp: typeof import("sharp"), picture: Sharp, header: Metadata): Promise<Ladder> {
  // The header's size is before orientation: EXIF orientations 5-8 turn it a quarter.
  const stored = [header.width ?? 1, header.pageHeight ?? header.height ?? 1] as const;
  const [width, height] = (header.orientation ?? 1) >= 5 ? [stored[1], stored[0]] : stored;
  const sides = ladderSides(width, height);
  const top = Math.max(...sides);
  // Each rung's size from the original's, so that no rung inherits a rounding of a larger one.
  const sizeOf = (side: number) => {
    const scale = side / Math.max(width, height);
    return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
  };
  const { data, info } = await picture
    .resize(top, top, { fit: "inside", withoutEnlargement: true })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const decoded = { raw: { width: info.width, height: info.height, channels: info.channels } };
  // The rungs are small pictures made from one in memory: encoded side by side, each on its own
  // libvips thread. WebP's effort 0 takes a third of the CPU of its default (4) for files some 5%
  // larger, at the same quality: the 2048 px rung alone is 109 ms instead of 334 (bench, section 6).
  const renditions: Rendition[] = await Promise.all(
    sides.map(async (side) => {
      const size = sizeOf(side);
      const out = await sharp(data, decoded)
        .resize(size.width, size.height, { fit: "fill" })
        .webp({ quality: 80, effort: 0 })
        .toBuffer({ resolveWithObject: true });
      return { width: out.info.width, height: out.info.height, body: out.data };
    }),
  );
  const small = await sharp(data, decoded)
    .resize(PLACEHOLDER_MAX_SIDE, PLACEHOLDER_MAX_SIDE, { fit: "inside" })
    .toColourspace("srgb")
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const hash = rgbaToThumbHash(small.info.width, small.info.height, small.data);
  return { renditions, placeholder: Buffer.from(hash).toString("base64") };
}

export const undecodableData = (cause: unknown) => undecodable("its data is damaged or truncated", cause);

/**
 * Checks and normalises a small uploaded image in memory: decodes it fully, turns it upright,
 * re-encodes it without any embedded metadata, and makes its size ladder and placeholder.
 */
export async function processImage(bytes: Uint8Array, options: { maxPixels: number }): Promise<ProcessedImage> {
  return normaliseImage(await checkImage(bytes, options));
}

/**
 * Runs the re-encode of the original (`encode`) and the ladder. Anything but a baseline JPEG may
 * decode whole (AVIF, WebP, progressive JPEG, interlaced PNG, animations), so one waits for the
 * other: two whole pictures at once are what took a 7000x7000 AVIF past 1.6 GB. A baseline JPEG
 * decodes in strips and shrinks on load, so `sideBySide` runs both at once, for a client waiting
 * on its direct upload; the finishing step, which nobody waits on, runs them one after the other
 * and holds a third less memory for a 50 MiB JPEG (bench, section 5).
 */
export async function encodeWithLadder<T>(
  image: CheckedImage,
  encode: () => Promise<T>,
  options: { sideBySide?: boolean } = {},
): Promise<[T, Ladder]> {
  if (image.decodesInStrips && options.sideBySide) return Promise.all([encode(), image.ladder()]);
  const encoded = await encode();
  return [encoded, await image.ladder()];
}

/** The costly part of `processImage`, for an image already checked (type, pixels). */
export async function normaliseImage(image: CheckedImage): Promise<ProcessedImage> {
  try {
    const [stored, ladder] = await encodeWithLadder(image, () => image.encode().toBuffer({ resolveWithObject: true }), {
      sideBySide: true,
    });
    return {
      contentType: image.contentType,
      extension: image.extension,
      body: stored.data,
      width: stored.info.width,
      height: stored.info.pageHeight ?? stored.info.height,
      sha256: createHash("sha256").update(stored.data).digest("hex"),
      ladder,
    };
  } catch (error) {
    throw undecodableData(error);
  }
}
