import { z } from "zod";

/** What the service stores about one image, in the field names of the public contract. */
export const ImageInfo = z.object({
  image_id: z.string(),
  user_id: z.string(),
  title: z.string(),
  description: z.string().nullable(),
  tags: z.array(z.string()),
  upload_time: z.string(),
  status: z.enum(["pending", "ready", "failed", "trashed"]),
  content_type: z.string(),
  size_bytes: z.number().int(),
  width: z.number().int().nullable(),
  height: z.number().int().nullable(),
  sha256: z.string().nullable(),
  s3_url: z.string(),
  /** When the picture was taken, from EXIF (capture-time.ts); null when the file says nothing plausible. */
  taken_at: z.string().nullable(),
  /** Only on a failed upload, for its owner: why the bytes were refused. */
  failure_reason: z.string().optional(),
  /** Only on a trashed image, for its owner: when it was trashed and when it will be purged. */
  trashed_at: z.string().optional(),
  purge_at: z.string().optional(),
});
export type ImageInfo = z.infer<typeof ImageInfo>;

/** One rung of the size ladder, as a client fetches it. */
export const RenditionInfo = z.object({
  width: z.number().int(),
  height: z.number().int(),
  content_type: z.literal("image/webp"),
  size_bytes: z.number().int(),
  /** The same, byte for byte, in every answer within one window (MEDIA_URL_WINDOW_SECONDS). */
  url: z.string(),
});
export type RenditionInfo = z.infer<typeof RenditionInfo>;

/** What a client needs to show an image: a placeholder and the renditions, smallest first. */
const delivery = {
  /** A ThumbHash, base64; null until the image is ready (and on images stored before the ladder). */
  placeholder: z.string().nullable(),
  renditions: z.array(RenditionInfo),
};

/** One image as its viewer gets it: with links that expire within 15 minutes. */
export const ImageWithLinks = ImageInfo.extend({
  /** Null until the image is ready. */
  download_url: z.string().nullable(),
  download_expires_at: z.string().nullable(),
  thumbnail_url: z.string().nullable(),
  ...delivery,
});

export type ImageWithLinks = z.infer<typeof ImageWithLinks>;

export const MAX_TAGS = 20;
export const MAX_TITLE_LENGTH = 200;
export const MAX_DESCRIPTION_LENGTH = 2000;
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

/**
 * Lengths count Unicode code points: what "characters" means in the contract. Not UTF-16 units
 * (an emoji would count 2), and not graphemes: 👨‍👩‍👧 is one grapheme but 5 code points, and a
 * grapheme can carry any number of combining marks, so only code points bound what is stored.
 */
const codePoints = (value: string) => [...value].length;

/** Half of a surrogate pair on its own: not a character, whatever the encoding. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** A subdivision flag (🏴 + tag letters + cancel tag): the one place tag characters belong. */
const EMOJI_TAG_SEQUENCE = /\u{1F3F4}[\u{E0030}-\u{E0039}\u{E0061}-\u{E007A}]{1,8}\u{E007F}/gu;
/**
 * What makes text read other than it is: characters no text field takes. Joiners (ZWJ, ZWNJ),
 * marks (LRM, RLM), soft hyphens and zero-width spaces stay: scripts and emoji need them.
 */
const TROUBLEMAKERS: [RegExp, string][] = [
  [/[\u202A-\u202E\u2066-\u2069]/u, "must not contain bidirectional embedding, override or isolate characters"],
  [/\uFEFF/u, "must not contain a byte order mark"],
  [/\p{Noncharacter_Code_Point}/u, "must not contain Unicode noncharacters"],
  [/[\u206A-\u206F\uFFF9-\uFFFB\u{E0000}-\u{E007F}]/u, "must not contain invisible format characters"],
  [/[\u2028\u2029]/u, "must not contain line or paragraph separators"],
];
const CONTROL = /\p{Cc}/u;
/** Control characters other than the line breaks and tabs a description keeps. */
const CONTROL_BUT_LINES = /[^\P{Cc}\n\r\t]/u;
/** Letters that show nothing (Hangul fillers) and the blank braille pattern. */
const BLANK_LETTERS = "\u115F\u1160\u3164\uFFA0\u2800";
const NOTHING_VISIBLE = new RegExp(`^[\\s\\p{Cf}\\p{M}${BLANK_LETTERS}]*$`, "u");

/** Why `value` is not text a field takes, or undefined when it is. */
function textProblem(value: string, control: RegExp): string | undefined {
  if (LONE_SURROGATE.test(value)) return "must be valid Unicode text";
  if (control.test(value)) {
    return control === CONTROL
      ? "must not contain control characters"
      : "must not contain control characters other than line breaks and tabs";
  }
  const outsideFlags = value.replace(EMOJI_TAG_SEQUENCE, "");
  return TROUBLEMAKERS.find(([pattern]) => pattern.test(outsideFlags))?.[1];
}

/**
 * Well-formed, then NFC and trimmed, line breaks as LF (a form sends CRLF, JSON usually LF: the
 * same text is stored the same), then held to `control` and the troublemakers.
 */
const Text = (control: RegExp) =>
  z
    .string()
    .refine((value) => !LONE_SURROGATE.test(value), { message: "must be valid Unicode text", abort: true })
    .transform((value) => value.normalize("NFC").replace(/\r\n?/g, "\n").trim())
    .superRefine((value, ctx) => {
      const problem = textProblem(value, control);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    });

export const Title = Text(CONTROL)
  .refine((value) => codePoints(value) >= 1 && codePoints(value) <= MAX_TITLE_LENGTH, {
    message: `must be 1-${MAX_TITLE_LENGTH} characters`,
  })
  .refine((value) => value === "" || !NOTHING_VISIBLE.test(value), {
    message: "must contain a character that can be seen",
  });

export const Description = Text(CONTROL_BUT_LINES)
  .refine((value) => codePoints(value) <= MAX_DESCRIPTION_LENGTH, {
    message: `must be at most ${MAX_DESCRIPTION_LENGTH} characters`,
  })
  .transform((value) => (value === "" ? null : value));

/**
 * Letters, combining marks, digits, `_` and `-`, starting with no mark; ZWNJ and ZWJ only
 * between letters (Persian, Indic scripts); no blank letters. Keys embed tags, so nothing else.
 */
const TAG_PATTERN = new RegExp(
  `^(?!.*[${BLANK_LETTERS}])[\\p{L}\\p{N}_-](?:[\\p{L}\\p{M}\\p{N}_-]|(?<=[\\p{L}\\p{M}])[\\u200C\\u200D](?=[\\p{L}\\p{M}]))*$`,
  "u",
);

export const Tag = z
  .string()
  .refine((value) => !LONE_SURROGATE.test(value), { message: "must be valid Unicode text", abort: true })
  // Lower-cased first: lower-casing can undo NFC (İ becomes i + U+0307).
  .transform((value) => value.trim().toLowerCase().normalize("NFC"))
  .refine((value) => TAG_PATTERN.test(value) && codePoints(value) <= 64, {
    message: "must be 1-64 letters, digits, '_' or '-' (letters may carry combining marks)",
  });

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

/** A media type as RFC 9110 §8.3.1 reads it: type, subtype and parameter names lower-cased; values as sent. */
export interface MediaType {
  /** `type/subtype`, lower-cased: what names the format. */
  essence: string;
  parameters: Record<string, string>;
}

// RFC 9110: a token, optional whitespace around ";", a value that is a token or a quoted string.
const MEDIA_TYPE_START = /[ \t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\/([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*/y;
const MEDIA_TYPE_PARAMETER =
  /;[ \t]*(?:([!#$%&'*+.^_`|~0-9A-Za-z-]+)=(?:([!#$%&'*+.^_`|~0-9A-Za-z-]+)|"((?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*)"))?[ \t]*/y;

/** Reads a Content-Type (or any value naming a media type); null when it is not one. */
export function parseMediaType(text: string): MediaType | null {
  MEDIA_TYPE_START.lastIndex = 0;
  const start = MEDIA_TYPE_START.exec(text);
  if (!start) return null;
  const parameters: Record<string, string> = {};
  let at = MEDIA_TYPE_START.lastIndex;
  while (at < text.length) {
    MEDIA_TYPE_PARAMETER.lastIndex = at;
    const parameter = MEDIA_TYPE_PARAMETER.exec(text);
    if (!parameter) return null;
    const [, name, token, quoted] = parameter;
    // The first of a repeated parameter counts, as browsers read it.
    if (name && !(name.toLowerCase() in parameters)) {
      parameters[name.toLowerCase()] = token ?? quoted!.replace(/\\(.)/g, "$1");
    }
    at = MEDIA_TYPE_PARAMETER.lastIndex;
  }
  return { essence: `${start[1]}/${start[2]}`.toLowerCase(), parameters };
}

/** A sha256 digest: 64 hex digits, in either case, kept lower-cased. */
export const Sha256 = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, "must be a sha256 digest: 64 hex digits")
  .transform((hex) => hex.toLowerCase());

/** A declared file type: compared and stored as its lower-cased essence, since image types take no parameters. */
const DeclaredType = z.string().transform((text) => parseMediaType(text)?.essence ?? text);

/** A file to be sent straight to S3: its metadata, and its declared type and size. */
export const LargeUploadRequest = z.object({
  title: Title,
  description: Description.nullish().transform((value) => value ?? null),
  tags: Tags.default([]),
  contentType: DeclaredType,
  sizeBytes: z.number().int().min(1),
  /** The file's sha256 as the client hashed it, when it asks for duplicates to be refused or answered at the start. */
  sha256: Sha256.optional(),
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

/** What a bad `from` or `to` is told: the formats it takes, and the years. */
const DATE_FORMAT =
  "must be an ISO 8601 date YYYY-MM-DD or date-time YYYY-MM-DDThh:mm[:ss[.fraction]] with Z or ±hh:mm, in years 0001-9999";

/**
 * A date, or a date-time with seconds optional, up to 9 fraction digits, and Z or an offset.
 * The offset's sign may arrive as a space: an unencoded `+` in a query string decodes to one.
 */
const DATE_TEXT =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:([Zz])|([+\- ])(\d{2}):(\d{2})))?$/;

const MS_PER_DAY = 86_400_000;
/** Milliseconds, and nanoseconds past the millisecond: the text's exact instant. */
export interface Instant {
  ms: number;
  ns: number;
}

const daysIn = (year: number, month: number) =>
  month === 2
    ? year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
      ? 29
      : 28
    : [4, 6, 9, 11].includes(month)
      ? 30
      : 31;

/** Milliseconds since the epoch of a UTC calendar date (Date.UTC would read years below 100 as 19xx). */
function utcDay(year: number, month: number, day: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date.getTime();
}

/**
 * An ISO 8601 date or date-time (years 0001-9999) as its exact instant, or null when the text is
 * none. A date alone means the whole UTC day: its first instant for `from`, its last for `to`.
 */
export function parseDateBound(text: string, edge: "from" | "to"): Instant | null {
  const match = DATE_TEXT.exec(text);
  if (!match) return null;
  const [year, month, day, hour = 0, minute = 0, second = 0] = match.slice(1, 7).map((part) => Number(part ?? 0));
  const [fraction = "", zulu, sign, offsetHours = "0", offsetMinutes = "0"] = match.slice(7);
  if (year! < 1 || month! < 1 || month! > 12 || day! < 1 || day! > daysIn(year!, month!)) return null;
  const start = utcDay(year!, month!, day!);
  if (match[4] === undefined) {
    return edge === "from" ? { ms: start, ns: 0 } : { ms: start + MS_PER_DAY - 1, ns: 999_999 };
  }
  if (!zulu && !sign) return null;
  if (hour > 23 || minute > 59 || second > 59 || Number(offsetHours) > 23 || Number(offsetMinutes) > 59) return null;
  const digits = fraction.padEnd(9, "0");
  const offset = (sign === "-" ? -1 : 1) * (Number(offsetHours) * 60 + Number(offsetMinutes)) * 60_000;
  return {
    ms: start + ((hour * 60 + minute) * 60 + second) * 1000 + Number(digits.slice(0, 3)) - offset,
    ns: Number(digits.slice(3)),
  };
}

/** The instant as a bound on millisecond times: digits past the millisecond round inward. */
const boundOf = (instant: Instant, edge: "from" | "to") =>
  new Date(edge === "from" && instant.ns > 0 ? instant.ms + 1 : instant.ms);

const DateBound = (edge: "from" | "to") =>
  z.union([z.date(), z.string()]).transform((value, ctx): Instant => {
    if (value instanceof Date) return { ms: value.getTime(), ns: 0 };
    const instant = parseDateBound(value, edge);
    if (!instant) {
      ctx.addIssue({ code: "custom", message: DATE_FORMAT });
      return z.NEVER;
    }
    return instant;
  });

export const ListFilter = z
  .object({
    userId: UserId.optional(),
    tag: Tag.optional(),
    from: DateBound("from").optional(),
    to: DateBound("to").optional(),
    limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
    cursor: z.string().max(2048).optional(),
  })
  // Compared exactly: `from` and `to` inside one millisecond are an empty range, not a reversed one.
  .refine((f) => !f.from || !f.to || f.from.ms < f.to.ms || (f.from.ms === f.to.ms && f.from.ns <= f.to.ns), {
    message: "from must not be after to",
    path: ["from"],
  })
  .transform(({ from, to, ...rest }) => ({
    ...rest,
    from: from && boundOf(from, "from"),
    to: to && boundOf(to, "to"),
  }));
export type ListFilter = z.input<typeof ListFilter>;
export type ParsedListFilter = z.output<typeof ListFilter>;

/** An image in a listing: with a link to its thumbnail that expires within 15 minutes. */
export const ListedImage = ImageInfo.extend({ thumbnail_url: z.string(), ...delivery });
export type ListedImage = z.infer<typeof ListedImage>;

export interface ImagePage {
  items: ListedImage[];
  nextCursor: string | null;
}
