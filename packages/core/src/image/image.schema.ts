import { z } from "zod";

/** What the service stores about one image, in the field names of the public contract. */
export const ImageInfo = z.object({
  image_id: z.string(),
  user_id: z.string(),
  title: z.string(),
  description: z.string().nullable(),
  tags: z.array(z.string()),
  upload_time: z.string(),
  status: z.enum(["pending", "ready", "failed"]),
  content_type: z.string(),
  size_bytes: z.number().int(),
  width: z.number().int().nullable(),
  height: z.number().int().nullable(),
  sha256: z.string().nullable(),
  s3_url: z.string(),
  /** Only on a failed upload, for its owner: why the bytes were refused. */
  failure_reason: z.string().optional(),
});
export type ImageInfo = z.infer<typeof ImageInfo>;

/** One image as its viewer gets it: with links that expire within 15 minutes. */
export const ImageWithLinks = ImageInfo.extend({
  /** Null until the image is ready. */
  download_url: z.string().nullable(),
  download_expires_at: z.string().nullable(),
  thumbnail_url: z.string().nullable(),
});

export type ImageWithLinks = z.infer<typeof ImageWithLinks>;

export const MAX_TAGS = 20;
export const MAX_TITLE_LENGTH = 200;
export const MAX_DESCRIPTION_LENGTH = 2000;
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

const codePoints = (value: string) => [...value].length;
// Control characters have no place in a title; a description keeps line breaks and tabs.
const TITLE_FORBIDDEN = /[\p{Cc}\p{Cf}\u2028\u2029]/u;
const DESCRIPTION_FORBIDDEN = /[\p{Cf}\u2028\u2029]|[^\P{Cc}\n\r\t]/u;
const TAG_PATTERN = /^[\p{L}\p{N}_-]{1,64}$/u;
/** Half of a surrogate pair on its own: not a character, whatever the encoding. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const wellFormed = (value: string) => !LONE_SURROGATE.test(value);

export const Title = z
  .string()
  .refine(wellFormed, { message: "must be valid Unicode text" })
  .transform((value) => value.normalize("NFC").trim())
  .refine((value) => codePoints(value) >= 1 && codePoints(value) <= MAX_TITLE_LENGTH, {
    message: `must be 1-${MAX_TITLE_LENGTH} characters`,
  })
  .refine((value) => !TITLE_FORBIDDEN.test(value), { message: "must not contain control characters" });

export const Description = z
  .string()
  .refine(wellFormed, { message: "must be valid Unicode text" })
  .transform((value) => value.normalize("NFC").trim())
  .refine((value) => codePoints(value) <= MAX_DESCRIPTION_LENGTH, {
    message: `must be at most ${MAX_DESCRIPTION_LENGTH} characters`,
  })
  .refine((value) => !DESCRIPTION_FORBIDDEN.test(value), {
    message: "must not contain control characters other than line breaks and tabs",
  })
  .transform((value) => (value === "" ? null : value));

export const Tag = z
  .string()
  .transform((value) => value.normalize("NFC").trim().toLowerCase())
  .refine((value) => TAG_PATTERN.test(value), { message: "must be 1-64 letters, digits, '_' or '-'" });

/** Trimmed, lower-cased, de-duplicated, at most 20. */
export const Tags = z
  .array(Tag)
  .transform((tags) => [...new Set(tags)])
  .refine((tags) => tags.length <= MAX_TAGS, { message: `at most ${MAX_TAGS} tags` });

/** Who owns images: the token's subject. Keys embed it, so it has a narrow alphabet. */
export const UserId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@+:-]{0,127}$/, "must be 1-128 letters, digits or . _ @ + : -");

export const ImageId = z.string().regex(/^img_[0-9A-HJKMNP-TV-Z]{26}$/, "is not an image id");

export const NewImageMetadata = z.object({
  title: Title,
  description: Description.nullish().transform((value) => value ?? null),
  tags: Tags.default([]),
});
export type NewImageMetadata = z.input<typeof NewImageMetadata>;

/** A file to be sent straight to S3: its metadata, and its declared type and size. */
export const LargeUploadRequest = z.object({
  title: Title,
  description: Description.nullish().transform((value) => value ?? null),
  tags: Tags.default([]),
  contentType: z.string(),
  sizeBytes: z.number().int().min(1),
});
export type LargeUploadRequest = z.input<typeof LargeUploadRequest>;

export const ImagePatch = z
  .object({
    title: Title.optional(),
    description: Description.nullable().optional(),
    tags: Tags.optional(),
  })
  .refine((patch) => Object.values(patch).some((value) => value !== undefined), {
    message: "give at least one of title, description, tags",
  });
export type ImagePatch = z.input<typeof ImagePatch>;

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = z.iso.datetime({ offset: true });
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * An ISO 8601 date or date-time as an instant. A date alone means the whole UTC day: its first
 * millisecond for `from`, its last for `to`. Null when the text is not a valid date.
 */
export function parseDateBound(text: string, edge: "from" | "to"): Date | null {
  let time: number;
  if (DATE_ONLY.test(text)) {
    time = Date.parse(`${text}T00:00:00.000Z`);
    if (Number.isNaN(time) || new Date(time).toISOString().slice(0, 10) !== text) return null;
    if (edge === "to") time += 24 * 3600 * 1000 - 1;
  } else if (DATE_TIME.safeParse(text).success) {
    time = Date.parse(text);
  } else {
    return null;
  }
  if (Number.isNaN(time) || time < EARLIEST || time > LATEST) return null;
  return new Date(time);
}

const DateBound = (edge: "from" | "to") =>
  z.string().transform((text, ctx) => {
    const date = parseDateBound(text, edge);
    if (!date) {
      ctx.addIssue({ code: "custom", message: "must be an ISO 8601 date or date-time (1970-9999)" });
      return z.NEVER;
    }
    return date;
  });

export const ListFilter = z
  .object({
    userId: UserId.optional(),
    tag: Tag.optional(),
    from: z.union([z.date(), DateBound("from")]).optional(),
    to: z.union([z.date(), DateBound("to")]).optional(),
    limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
    cursor: z.string().max(2048).optional(),
  })
  .refine((f) => !f.from || !f.to || f.from.getTime() <= f.to.getTime(), {
    message: "from must not be after to",
    path: ["from"],
  });
export type ListFilter = z.input<typeof ListFilter>;
export type ParsedListFilter = z.output<typeof ListFilter>;

/** An image in a listing: with a link to its thumbnail that expires within 15 minutes. */
export const ListedImage = ImageInfo.extend({ thumbnail_url: z.string() });
export type ListedImage = z.infer<typeof ListedImage>;

export interface ImagePage {
  items: ListedImage[];
  nextCursor: string | null;
}
