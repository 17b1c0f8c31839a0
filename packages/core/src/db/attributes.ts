import type { Attribute } from "electrodb";

/** The fields a listing returns; the image item and every tag item carry them all. */
export const listingAttributes = {
  imageId: { type: "string", required: true, readOnly: true },
  userId: { type: "string", required: true, readOnly: true },
  uploadTime: { type: "string", required: true, readOnly: true },
  title: { type: "string", required: true },
  description: { type: "string" },
  tags: { type: "list", items: { type: "string" }, required: true },
  contentType: { type: "string", required: true, readOnly: true },
  sizeBytes: { type: "number", required: true, readOnly: true },
  width: { type: "number", required: true, readOnly: true },
  height: { type: "number", required: true, readOnly: true },
  sha256: { type: "string", required: true, readOnly: true },
  objectKey: { type: "string", required: true, readOnly: true },
  thumbnailKey: { type: "string", readOnly: true },
  /** The size ladder, smallest first (absent on images stored before it; the backfill adds it). */
  renditions: {
    type: "list",
    items: {
      type: "map",
      properties: {
        width: { type: "number", required: true },
        height: { type: "number", required: true },
        key: { type: "string", required: true },
        sizeBytes: { type: "number", required: true },
      },
    },
  },
  /** A ThumbHash, base64. */
  placeholder: { type: "string" },
  /** When the picture was taken, from its EXIF (capture-time.ts); absent when the file said nothing plausible. */
  takenAt: { type: "string", readOnly: true },
} satisfies Record<string, Attribute>;
