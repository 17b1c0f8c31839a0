import { createHash } from "node:crypto";
import type { Sharp, Metadata } from "sharp";
import { AppError } from "../errors.ts";

/** The formats the service accepts, decided from the bytes alone. */
export const ACCEPTED_TYPES = {
  // Without Huffman optimisation libjpeg encodes in one pass instead of holding every DCT
  // coefficient of the picture (6 bytes a pixel): files about 1.4% larger, far less memory.
  "image/jpeg": { extension: "jpg", encode: (image: Sharp) => image.jpeg({ quality: 90, optimiseCoding: false }) },
  "image/png": { extension: "png", encode: (image: Sharp) => image.png() },
  "image/webp": { extension: "webp", encode: (image: Sharp) => image.webp({ quality: 90 }) },
  "image/gif": { extension: "gif", encode: (image: Sharp) => image.gif() },
  "image/avif": { extension: "avif", encode: (image: Sharp) => image.avif({ quality: 60 }) },
} as const;
export type AcceptedType = keyof typeof ACCEPTED_TYPES;

export const THUMBNAIL_MAX_SIDE = 320;
export const THUMBNAIL_TYPE = "image/webp";

export interface ProcessedImage {
  contentType: AcceptedType;
  extension: string;
  /** What is stored: re-encoded, upright, with no EXIF, XMP, IPTC or ICC data. */
  body: Buffer;
  width: number;
  height: number;
  sha256: string;
  thumbnail: Buffer;
}

// Loaded on first use: decoding libraries are heavy, and most requests never touch them.
const loadSharp = async () => (await import("sharp")).default;
const loadFileType = async () => (await import("file-type")).fileTypeFromBuffer;

export const isAcceptedType = (type: string): type is AcceptedType => type in ACCEPTED_TYPES;

/** The accepted type the bytes start with, or an `unsupported_type` error. */
export async function sniffImageType(bytes: Uint8Array): Promise<AcceptedType> {
  const fileTypeFromBuffer = await loadFileType();
  const detected = await fileTypeFromBuffer(bytes);
  if (!detected || !isAcceptedType(detected.mime)) {
    const what = detected ? detected.mime : "not a recognised image";
    throw new AppError("unsupported_type", `the file is ${what}; accepted formats are JPEG, PNG, WebP, GIF and AVIF`);
  }
  return detected.mime;
}

const undecodable = (detail: string, cause?: unknown) =>
  new AppError("undecodable", `the image could not be decoded: ${detail}`, { cause });

/** An image whose type and size were checked, ready to decode. */
export interface CheckedImage {
  contentType: AcceptedType;
  extension: string;
  /** The decoding pipeline, upright: every frame when `allFrames`, else the first. */
  open(allFrames: boolean): Sharp;
  /** Re-encodes in its own format, without any embedded metadata. */
  encode(): Sharp;
  /** A WebP at most 320 px on its long side. */
  thumbnail(): Promise<Buffer>;
}

/**
 * Sniffs the type from the bytes and refuses the image cheaply, from its header alone, when
 * it has more pixels than allowed: a decompression bomb is refused before any pixel is decoded.
 */
export async function checkImage(bytes: Uint8Array, options: { maxPixels: number }): Promise<CheckedImage> {
  const contentType = await sniffImageType(bytes);
  const sharp = await loadSharp();
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const animated = contentType === "image/gif" || contentType === "image/webp";

  let header: Metadata;
  try {
    header = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw undecodable("its header is damaged", error);
  }
  const frameHeight = header.pageHeight ?? header.height ?? 0;
  const pixels = (header.width ?? 0) * frameHeight * (animated ? (header.pages ?? 1) : 1);
  if (!header.width || !frameHeight) throw undecodable("it has no dimensions");
  if (pixels > options.maxPixels) {
    throw new AppError("undecodable", `the image has ${pixels} pixels, more than the limit of ${options.maxPixels}`);
  }

  const open = (allFrames: boolean) =>
    sharp(input, {
      animated: allFrames && animated,
      limitInputPixels: options.maxPixels,
      failOn: "warning",
    }).autoOrient();
  return {
    contentType,
    extension: ACCEPTED_TYPES[contentType].extension,
    open,
    encode: () => ACCEPTED_TYPES[contentType].encode(open(true)),
    thumbnail: () =>
      open(false)
        .resize(THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE, { fit: "inside", withoutEnlargement: true })
        .webp({ quality: 80 })
        .toBuffer()
        .catch((error: unknown) => Promise.reject(undecodable("its data is damaged or truncated", error))),
  };
}

export const undecodableData = (cause: unknown) => undecodable("its data is damaged or truncated", cause);

/**
 * Checks and normalises a small uploaded image in memory: decodes it fully, turns it upright,
 * re-encodes it without any embedded metadata, and makes its thumbnail.
 */
export async function processImage(bytes: Uint8Array, options: { maxPixels: number }): Promise<ProcessedImage> {
  const image = await checkImage(bytes, options);
  try {
    const [stored, thumbnail] = await Promise.all([
      image.encode().toBuffer({ resolveWithObject: true }),
      image.thumbnail(),
    ]);
    return {
      contentType: image.contentType,
      extension: image.extension,
      body: stored.data,
      width: stored.info.width,
      height: stored.info.pageHeight ?? stored.info.height,
      sha256: createHash("sha256").update(stored.data).digest("hex"),
      thumbnail,
    };
  } catch (error) {
    throw undecodableData(error);
  }
}
