import { createRoute, z } from "@hono/zod-openapi";
import { DEFAULT_PAGE_SIZE, ImageInfo, ImageWithLinks, ListedImage, MAX_PAGE_SIZE, RenditionInfo } from "@images/core";
import { problemResponses } from "../problem.ts";

// Examples: one 12 MP photo (4032x3024) as the service answers for it, deployed: rendition URLs
// signed for CloudFront (canned policy; the window's end plus one window), the download link a
// presigned S3 GET of the original. Made with the service's own signers and throwaway keys.
const IMAGE_ID = "img_01JDX3M5Q8X6W7Y0Z9A1B2C3D4";
const MEDIA_URL = `https://d111111abcdef8.cloudfront.net/renditions/${IMAGE_ID}`;
const MEDIA_QUERY = "Expires=1795554000&Key-Pair-Id=K2JCJMDEHXQW5F&Signature=";
const BUCKET = "images-production-imagesbucket-8f3k2m";
const BUCKET_URL = `https://${BUCKET}.s3.eu-west-1.amazonaws.com`;

const imageExample = {
  image_id: IMAGE_ID,
  user_id: "alice",
  title: "Sunset",
  description: "From the cliff path above the beach, just before eight.",
  tags: ["beach", "holiday"],
  upload_time: "2026-11-24T19:30:00.000Z",
  status: "ready" as const,
  content_type: "image/jpeg",
  size_bytes: 3208417,
  width: 4032,
  height: 3024,
  sha256: "9f2c0d3c1b1e4d8f9a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f",
  s3_url: `s3://${BUCKET}/images/${IMAGE_ID}.jpg`,
  taken_at: "2026-11-24T19:29:41+01:00" as string | null,
};

const TRASHED_AT = "2026-11-30T08:15:00.000Z";
const trashedImageExample = {
  ...imageExample,
  status: "trashed" as const,
  trashed_at: TRASHED_AT,
  purge_at: "2026-12-30T08:15:00.000Z",
};

/** The sha256 of a file as uploaded (before the service re-encodes it). */
const UPLOADED_SHA256 = "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b";

const renditionsExample = [
  {
    width: 320,
    height: 240,
    content_type: "image/webp" as const,
    size_bytes: 14210,
    url: `${MEDIA_URL}/320.webp?${MEDIA_QUERY}ULstxb7fm8c1AN-uVNIElu3M4VTV-ESgU5t8kwZ8DZDkRSbpJbOjoDoCRrRcL4xy6jjTwef8HW8WlNdzSTgrseU7tGcSuDj18pN~tk82~m8BDTb46SNZBdyPcQ3S6u7gx8YCoVy5OoevgXycrPGW1ACEWFOxcUU32Z-IAa~IdEsjuCr1f5w33h268JXaksUmz0E93~paee~eoLSVvzJLzsrsm7Fhvg3vT5xoPqizuwegY-FxLNRtrqSTktqxr-z95D79KqDP0wLPe7A9l9nryohn8nT1O9F6jzUbdRsEZ7O3WJzaa7CFafvOmtCGtQqJGaLwZSiOiuy3H5w4bj3T5A__`,
  },
  {
    width: 640,
    height: 480,
    content_type: "image/webp" as const,
    size_bytes: 41877,
    url: `${MEDIA_URL}/640.webp?${MEDIA_QUERY}FaVBf~tKQY3qLiH9FMS-BPzXgu2ZQUa24VrSwlA5r2Fg8DolzMRyjaAYRSAKfvV634drOP9b0e6bYy8j3N1YcGJGvp1Odk~iT-OrdVvFX8l~2ujwBI1SFTdgxf0FMhfVqkCvnJSHLjerX2g8j59RigQJm14lX1pasI8zYtoQv3efAvHdzPwY3IuiZ1dfzfmsEnaXadRm92sqHSOCy~wCKKrIyM1A-2xZpOZwMDCjbCz6JRHyqdd7FdJC4I1oJ-WK5kHn~b4DFy77q0ooFViwQJcB5HyxMV98tLGe36dsJDJPSK6IgxWLcVTWvnSwII8LD9GMetWm3NAiagW5QjWmHw__`,
  },
  {
    width: 1080,
    height: 810,
    content_type: "image/webp" as const,
    size_bytes: 98123,
    url: `${MEDIA_URL}/1080.webp?${MEDIA_QUERY}NCp7fEEKwNvRXGuSwlhn9HWXF9rgxqcgflzdF5qn-3kz-0hgNk5NXcdFdPOR-hM2CbdE~sXNiLwj36ucoWAcFILyb4u418mvhvDlDaz5RxcgWWKB0qFVkC06zgd2jG78tcpuyJchMx-kZVWFvoxC8QRBGD8shpNvhmLHhIbxp~XyMPSDlYsLqvHbJM5wYNcxA~ugvyTcOsw8-IIuFO8sHbgBMeYmaA7IpbrpSRRF61ykqyw6ZNaakwAoXUCMH~xsx~pBQ~j07qhEU212qGs1wWw4EFo4I0pnzOIOxPZ79GfoU~bf2wIF8LfIybLkaJAI-uHJiHcOrGsL3d04jCd3AA__`,
  },
  {
    width: 2048,
    height: 1536,
    content_type: "image/webp" as const,
    size_bytes: 301555,
    url: `${MEDIA_URL}/2048.webp?${MEDIA_QUERY}JL8vcsTscnBHlIZ2F5UI7hDnof1LuSM9Pj8RIqICG8Kjl5fuo6HAHL3OE7Fk3hgIt5KFvsBBRl7DDW9jvXjpUfZAjB-OtI7DAuL1icfB-Pa2h7jiLddzU-FeUEUz99Ww63Lp8ZpU8QWrVCpDNYWLBBJ6NQV1A5cflvt6ljYp0zCrtBlrHLS4tzccFcVHc3M0PfyQ4E9IhMP35cHytBW-C2~8CVyUcqYbWhQLWIgI3W0zZ1Ezd9ZHVm9nQzCO0XsYbOkZWEUbmWsmAwlgBsDsSHgMo0KnGCBhLqtV5mdt1yn4o8dyRmNBh4CP~WZ73Y93VP-MzLc3YKb5XBQFFMCK~A__`,
  },
];

const deliveryExample = {
  thumbnail_url: renditionsExample[0]!.url,
  placeholder: "nkgOZY6IeHePiHd2d3h3iYiPd/dX",
  renditions: renditionsExample,
};

const listedImageExample = { ...imageExample, ...deliveryExample };

const imageWithLinksExample = {
  ...imageExample,
  download_url:
    `${BUCKET_URL}/images/${IMAGE_ID}.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD` +
    "&X-Amz-Credential=ASIAIOSFODNN7EXAMPLE%2F20261124%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Date=20261124T193005Z" +
    "&X-Amz-Expires=600&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE" +
    "&X-Amz-Signature=f1e9210e71a040da1881d736e2b1e67f4162bd42591d075bcbda3fd70dac6a9f&X-Amz-SignedHeaders=host" +
    `&response-content-disposition=inline%3B%20filename%3D%22${IMAGE_ID}.jpg%22&response-content-type=image%2Fjpeg&x-id=GetObject`,
  download_expires_at: "2026-11-24T19:40:05.000Z",
  ...deliveryExample,
};

const NEXT_CURSOR =
  "eyJ2IjoxLCJmIjoiYmk2eDdyMnp1Tm5wTEdvOSIsIm1vbnRoIjoiMjAyNi0xMSIsImtleSI6eyJwayI6IiRpbWFnZXMjdGFnX2JlYWNoIiwic2siOiIk" +
  "aW1hZ2UjdXBsb2FkX3RpbWVfMjAyNi0xMS0yNHQxOTozMDowMC4wMDB6I2ltYWdlX2lkX2ltZ18wMWpkeDNtNXE4eDZ3N3kwejlhMWIyYzNkNCJ9fQ" +
  ".zH7qmj4OhE_fJRWg2tSUVg";

const imagePageExample = { items: [listedImageExample], next_cursor: NEXT_CURSOR };

const largeUploadStartedExample = {
  image: {
    ...imageExample,
    status: "pending" as const,
    size_bytes: 31457280,
    width: null,
    height: null,
    sha256: null,
    s3_url: `s3://${BUCKET}/uploads/${IMAGE_ID}`,
    taken_at: null,
  },
  upload: {
    method: "POST" as const,
    url: `${BUCKET_URL}/`,
    fields: {
      "Content-Type": "image/jpeg",
      bucket: BUCKET,
      "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
      "X-Amz-Credential": "ASIAIOSFODNN7EXAMPLE/20261124/eu-west-1/s3/aws4_request",
      "X-Amz-Date": "20261124T193005Z",
      "X-Amz-Security-Token": "IQoJb3JpZ2luX2VjEXAMPLE",
      key: `uploads/${IMAGE_ID}`,
      Policy:
        "eyJleHBpcmF0aW9uIjoiMjAyNi0xMS0yNFQxOTo0MDowNVoiLCJjb25kaXRpb25zIjpbWyJjb250ZW50LWxlbmd0aC1yYW5nZSIsMSw1MjQyODgwMF0s" +
        "WyJlcSIsIiRDb250ZW50LVR5cGUiLCJpbWFnZS9qcGVnIl0seyJDb250ZW50LVR5cGUiOiJpbWFnZS9qcGVnIn0seyJidWNrZXQiOiJpbWFnZXMtcHJv" +
        "ZHVjdGlvbi1pbWFnZXNidWNrZXQtOGYzazJtIn0seyJYLUFtei1BbGdvcml0aG0iOiJBV1M0LUhNQUMtU0hBMjU2In0seyJYLUFtei1DcmVkZW50aWFs" +
        "IjoiQVNJQUlPU0ZPRE5ON0VYQU1QTEUvMjAyNjExMjQvZXUtd2VzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LHsiWC1BbXotRGF0ZSI6IjIwMjYxMTI0VDE5" +
        "MzAwNVoifSx7IlgtQW16LVNlY3VyaXR5LVRva2VuIjoiSVFvSmIzSnBaMmx1WDJWakVYQU1QTEUifSx7ImtleSI6InVwbG9hZHMvaW1nXzAxSkRYM001" +
        "UThYNlc3WTBaOUExQjJDM0Q0In1dfQ==",
      "X-Amz-Signature": "b379e62fd2056a75ff6d736fd4bfa7951b16f579d9fbdabbc4afe5cd73e3d51a",
    },
    expires_at: "2026-11-24T19:40:05.000Z",
    max_bytes: 52428800,
  },
};

// Core's schemas were built before @hono/zod-openapi extended zod; a copy made here has `.openapi`
// (and so do the fields redeclared here, of the same types, to carry a description).
const Image = ImageInfo.extend({
  status: z.enum(ImageInfo.shape.status.options).openapi({
    description:
      "`pending`: the bytes are not yet received and checked; `ready`; `failed`: sent straight to S3 and " +
      "refused by the checks (`failure_reason` says why; kept a day, for its owner only).",
  }),
  upload_time: z.string().openapi({ description: "ISO 8601 in UTC with milliseconds, set by the server." }),
  sha256: z.string().nullable().openapi({ description: "Of the bytes as stored; null while pending." }),
  taken_at: z
    .string()
    .nullable()
    .openapi({
      description:
        "When the picture was taken, from its EXIF DateTimeOriginal, read before the metadata is stripped: ISO 8601 " +
        "with the camera's offset (OffsetTimeOriginal) when the file has one, else the camera's local time without " +
        "an offset. Null when the file has none, or none plausible (before 1826 or in the future).",
      example: "2026-11-24T19:29:41+01:00",
    }),
  trashed_at: z.string().optional().openapi({
    description: "Only on a trashed image: when it was moved to the trash (ISO 8601, UTC).",
    example: "2026-11-30T08:15:00.000Z",
  }),
  purge_at: z.string().optional().openapi({
    description:
      "Only on a trashed image: when its bytes and items are purged unless it is restored (TRASH_DAYS after).",
    example: "2026-12-30T08:15:00.000Z",
  }),
}).openapi("Image", { example: imageExample });

const Rendition = RenditionInfo.extend({
  url: z.string().openapi({
    description:
      "Deployed, a CloudFront signed URL; locally, the dev server's /media twin of it. The same, byte for byte, " +
      "in every answer within one window (MEDIA_URL_WINDOW_SECONDS, an hour by default), and valid for at least " +
      "one more; the bytes under it never change.",
  }),
}).openapi("Rendition", {
  description: "One rung of the size ladder: WebP, upright, without metadata.",
  example: renditionsExample[0],
});

/** The delivery fields, described, as both image shapes with links carry them. */
const delivery = {
  thumbnail_url: z
    .string()
    .openapi({ description: "The smallest rendition's URL (images stored before the ladder: their thumbnail's)." }),
  placeholder: z
    .string()
    .nullable()
    .openapi({
      description:
        "A ThumbHash (base64) of the picture at most 100 px: paint it while the picture loads. Null until the image " +
        "is ready, and on images stored before the ladder until `npm run renditions:backfill`.",
    }),
  renditions: z.array(Rendition).openapi({
    description:
      "Smallest first: WebP at 320, 640, 1080 and 2048 px on the long side, never larger than the original " +
      "(a size it does not reach is left out; an image under 320 px has one at its own size).",
  }),
};

const ImageWithDownload = ImageWithLinks.extend({
  ...Image.shape,
  download_url: z.string().nullable().openapi({
    description:
      "A presigned S3 GET of the stored original, with its real content type; null until the image is ready.",
  }),
  download_expires_at: z.string().nullable().openapi({
    description: "When `download_url` stops working: within 15 minutes.",
  }),
  ...delivery,
  thumbnail_url: delivery.thumbnail_url.nullable(),
}).openapi("ImageWithLinks", { example: imageWithLinksExample });

const ImageInList = ListedImage.extend({ ...Image.shape, ...delivery }).openapi("ListedImage", {
  example: listedImageExample,
});

const ImagePage = z
  .object({
    items: z.array(ImageInList),
    next_cursor: z
      .string()
      .nullable()
      .openapi({ description: "Pass as `cursor` for the next page; null on the last." }),
  })
  .openapi("ImagePage", { example: imagePageExample });

const ImageIdParam = z.object({
  image_id: z.string().openapi({
    param: { name: "image_id", in: "path", description: "The image's id, as `image_id` in every answer." },
    example: IMAGE_ID,
  }),
});

const IdempotencyKey = z.object({
  "idempotency-key": z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/, "must be 1-255 visible ASCII characters")
    .optional()
    .openapi({
      param: { name: "idempotency-key", in: "header" },
      description:
        "The same key from the same user returns the first answer again and stores nothing twice; " +
        "the same key with a different request is a 409.",
      example: "5f0c7a52-9d1e-4a3b-8c6f-2e7d9b4a1c03",
    }),
});

const TEXT =
  "Stored in NFC; refused with bidirectional embedding, override or isolate characters, controls, " +
  "noncharacters or other invisible format characters.";
const TITLE = `1-200 characters (Unicode code points), trimmed, with something visible. ${TEXT}`;
const DESCRIPTION = `At most 2,000 characters (code points), trimmed; keeps line breaks (stored as LF) and tabs. ${TEXT}`;
const TAGS =
  "At most 20; each 1-64 letters (with their combining marks), digits, '_' or '-', ZWNJ or ZWJ between " +
  "letters; trimmed, lower-cased, NFC, de-duplicated.";
const DATE_BOUND =
  "Inclusive. An ISO 8601 date YYYY-MM-DD (the whole UTC day) or date-time " +
  "YYYY-MM-DDThh:mm[:ss[.fraction]] with Z or ±hh:mm, in years 0001-9999. A range nothing can be in " +
  "(before 1970, after now) is an empty page.";

/** Core's digest, re-made with @hono/zod-openapi's zod (it has `.openapi`). */
const Sha256 = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, "must be a sha256 digest: 64 hex digits")
  .transform((hex) => hex.toLowerCase());

export const ON_DUPLICATE = ["store", "reject", "return"] as const;

/** Multipart: the file itself, up to the direct upload limit. */
export const UploadForm = z
  .object({
    file: z.file().openapi({
      type: "string",
      format: "binary",
      description: "JPEG, PNG, WebP, GIF or AVIF, up to 4 MiB; the format is read from the bytes, never the name.",
    }),
    title: z.string().openapi({ description: TITLE, example: "Sunset" }),
    description: z.string().optional().openapi({ description: DESCRIPTION, example: imageExample.description }),
    tags: z
      .union([z.string(), z.array(z.string())])
      .optional()
      .openapi({
        description: `Repeat the field, or give one comma-separated value. ${TAGS}`,
        example: "beach,holiday",
      }),
  })
  .openapi("UploadForm", { description: "A file and its metadata, in one multipart/form-data request." });

/** JSON: the metadata and the file's declared type and size; the bytes go straight to S3. */
export const UploadRequest = z
  .strictObject({
    title: z.string().openapi({ description: TITLE, example: "Sunset" }),
    description: z.string().nullish().openapi({ description: DESCRIPTION, example: imageExample.description }),
    tags: z
      .array(z.string())
      .optional()
      .openapi({ description: TAGS, example: ["beach", "holiday"] }),
    content_type: z
      .string()
      .openapi({ description: "The file's media type, in any case; stored lower-cased.", example: "image/jpeg" }),
    size_bytes: z
      .number()
      .int()
      .positive()
      .openapi({ description: "The file's size; S3 refuses a file of any other.", example: 31457280 }),
    sha256: Sha256.optional().openapi({
      description:
        "The sha256 of the file, hex: with `on_duplicate=reject` or `return`, a file the caller already has is " +
        "answered at once and no upload starts. Optional; the service checks the file itself once it arrives.",
      example: UPLOADED_SHA256,
    }),
  })
  .openapi("UploadRequest", {
    description: "The metadata, and the type and size of a file to send straight to S3 (up to 50 MiB by default).",
  });

export const ImagePatchBody = z
  .strictObject({
    title: z.string().optional().openapi({ description: TITLE, example: "Sunset over the bay" }),
    description: z
      .string()
      .nullable()
      .optional()
      .openapi({ description: `${DESCRIPTION} Null clears it.`, example: null }),
    tags: z
      .array(z.string())
      .optional()
      .openapi({ description: TAGS, example: ["beach", "holiday", "sunset"] }),
  })
  .openapi("ImagePatch", { description: "Any of the fields; at least one. Those left out stay as they are." });

const LargeUploadStarted = z
  .object({
    image: Image,
    upload: z.object({
      method: z.literal("POST"),
      url: z.string().openapi({ description: "Post the form here: the fields first, then the file as `file`." }),
      fields: z
        .record(z.string(), z.string())
        .openapi({ description: "Every one a form field, as given, before the file." }),
      expires_at: z.string().openapi({ description: "When the presigned POST stops working (ISO 8601, UTC)." }),
      max_bytes: z.number().int().openapi({ description: "The largest file S3 takes with this post." }),
    }),
  })
  .openapi("LargeUploadStarted", {
    description: "A pending image and the presigned POST that sends its file straight to S3.",
    example: largeUploadStartedExample,
  });

const security = [{ bearerAuth: [] }];

const json = <T>(schema: T, example: unknown) => ({ "application/json": { schema, example } });

export const uploadImage = createRoute({
  method: "post",
  path: "/images/upload",
  operationId: "uploadImage",
  tags: ["images"],
  summary: "Upload an image",
  description:
    "Multipart: send the file (up to 4 MiB) with its metadata; the answer is the ready image. " +
    "JSON: declare the file (up to 50 MiB by default), then send it straight to S3 with the presigned POST " +
    "in the answer; the image turns `ready` once the service has received and checked the bytes (poll " +
    "`GET /images/{image_id}`). The caller's token decides who owns it.",
  security,
  request: {
    headers: IdempotencyKey,
    query: z.object({
      on_duplicate: z
        .enum(ON_DUPLICATE)
        .default("store")
        .openapi({
          description:
            "What to do when the caller already has an image uploaded as the same file (the same sha256 of the " +
            "bytes as sent; trashed images do not count): `store` it again (the default), `reject` it (409 " +
            "naming `existing_image_id`), or `return` the existing image (200). JSON mode: decided at the start " +
            "when `sha256` is given, and again once the file has arrived (a duplicate then turns the upload " +
            "`failed`, its `failure_reason` naming the existing image).",
          example: "reject",
        }),
    }),
    // Validated for the content type the request has; one of the two is required.
    body: {
      required: false,
      description: "Either mode; the Content-Type decides which.",
      content: {
        "multipart/form-data": {
          schema: UploadForm,
          example: { file: "(the JPEG's bytes)", title: "Sunset", tags: "beach,holiday" },
          encoding: { file: { contentType: "image/jpeg, image/png, image/webp, image/gif, image/avif" } },
        },
        "application/json": {
          schema: UploadRequest,
          example: {
            title: "Sunset",
            description: imageExample.description,
            tags: ["beach", "holiday"],
            content_type: "image/jpeg",
            size_bytes: 31457280,
          },
        },
      },
    },
  },
  responses: {
    201: {
      description: "Multipart: the stored image, ready. JSON: the pending image and where to post its file.",
      content: {
        "application/json": {
          schema: z.union([Image, LargeUploadStarted]),
          examples: {
            multipart: { summary: "Multipart: the image, stored and ready", value: imageExample },
            json: { summary: "JSON: the pending image and its presigned POST", value: largeUploadStartedExample },
          },
        },
      },
    },
    200: {
      description: "`on_duplicate=return`: the caller already has this file; the existing image, nothing stored.",
      content: json(Image, imageExample),
    },
    ...problemResponses(
      400,
      401,
      [409, { detail: `the same file is already stored as ${IMAGE_ID}`, existing_image_id: IMAGE_ID }],
      [413, { detail: "size_bytes is over the limit of 52428800 bytes" }],
      415,
      422,
      [429, { detail: "at most 60 uploads a minute; try again shortly" }],
      [503, { detail: "recording the upload: storage is busy or unavailable, try again" }],
    ),
  },
});

export const listImages = createRoute({
  method: "get",
  path: "/images",
  operationId: "listImages",
  tags: ["images"],
  summary: "List images, newest first",
  description:
    "Ready images of every user (a shared gallery), each with its placeholder, renditions and thumbnail. " +
    "Filters combine freely. `from` and `to` are inclusive; a date alone means that whole UTC day. " +
    "`trashed=true` lists the caller's own trash instead, most recently trashed first (with `limit` and " +
    "`cursor` only). A trashed image is in no other listing.",
  security,
  request: {
    query: z.object({
      trashed: z.enum(["true", "false"]).optional().openapi({
        description: "`true`: the caller's own trashed images, most recently trashed first; takes no other filter.",
        example: "true",
      }),
      user_id: z.string().optional().openapi({ description: "Only this user's images.", example: "alice" }),
      tag: z
        .string()
        .optional()
        .openapi({ description: "Only images with this tag (compared as stored: lower-cased).", example: "beach" }),
      from: z
        .string()
        .optional()
        .openapi({ description: `Uploaded at or after. ${DATE_BOUND}`, example: "2026-11-01" }),
      to: z
        .string()
        .optional()
        .openapi({ description: `Uploaded at or before. ${DATE_BOUND}`, example: "2026-11-30T23:59:59Z" }),
      limit: z.coerce
        .number()
        .int()
        .min(1)
        .max(MAX_PAGE_SIZE)
        .default(DEFAULT_PAGE_SIZE)
        .openapi({
          description:
            "The most images on a page. A page may hold fewer while `next_cursor` is set (an image deleted, " +
            "trashed or retagged as the page was read): follow `next_cursor`, not the count.",
          example: 20,
          type: "integer",
        }),
      cursor: z.string().optional().openapi({
        description: "The `next_cursor` of the previous page, with the same filters; opaque.",
        example: NEXT_CURSOR,
      }),
    }),
  },
  responses: {
    200: { description: "A page of images", content: json(ImagePage, imagePageExample) },
    ...problemResponses(
      [
        400,
        {
          detail:
            "from: must be an ISO 8601 date YYYY-MM-DD or date-time YYYY-MM-DDThh:mm[:ss[.fraction]] with Z or ±hh:mm, in years 0001-9999",
          errors: [
            {
              path: "from",
              message:
                "must be an ISO 8601 date YYYY-MM-DD or date-time YYYY-MM-DDThh:mm[:ss[.fraction]] with Z or ±hh:mm, in years 0001-9999",
            },
          ],
        },
      ],
      401,
      503,
    ),
  },
});

export const getImage = createRoute({
  method: "get",
  path: "/images/{image_id}",
  operationId: "getImage",
  tags: ["images"],
  summary: "Get one image with a short-lived download link",
  description:
    "The image with its placeholder and renditions, and `download_url`, a presigned link to the stored " +
    "original that expires within 15 minutes. Any user sees a ready image; only its owner sees it while " +
    "pending or failed. An image the caller may not see is a 404, never a 403.",
  security,
  request: { params: ImageIdParam },
  responses: {
    200: {
      description: "The image; its owner also sees it while pending, or why it failed",
      content: json(ImageWithDownload, imageWithLinksExample),
    },
    ...problemResponses(401, 404, [503, { detail: "reading the image: storage is busy or unavailable, try again" }]),
  },
});

export const updateImage = createRoute({
  method: "patch",
  path: "/images/{image_id}",
  operationId: "updateImage",
  tags: ["images"],
  summary: "Edit an image's title, description or tags (owner only)",
  description:
    "Changes the fields given and keeps the others; tags given replace the image's tags. Only the owner " +
    "may; anyone else gets a 404. A pending image cannot be edited yet (409).",
  security,
  request: {
    params: ImageIdParam,
    body: {
      required: true,
      description: "The fields to change.",
      content: json(ImagePatchBody, { title: "Sunset over the bay", tags: ["beach", "holiday", "sunset"] }),
    },
  },
  responses: {
    200: {
      description: "The edited image",
      content: json(Image, { ...imageExample, title: "Sunset over the bay", tags: ["beach", "holiday", "sunset"] }),
    },
    ...problemResponses(
      [
        400,
        { detail: "title: must be 1-200 characters", errors: [{ path: "title", message: "must be 1-200 characters" }] },
      ],
      401,
      404,
      [409, { detail: "the image is not ready yet; edit it once its upload has been checked" }],
      [503, { detail: "saving the image: storage is busy or unavailable, try again" }],
    ),
  },
});

export const deleteImage = createRoute({
  method: "delete",
  path: "/images/{image_id}",
  operationId: "deleteImage",
  tags: ["images"],
  summary: "Delete an image, its bytes and its renditions (owner only)",
  description:
    "Deletes the original, every rendition and every metadata item at once. Only the owner may; anyone " +
    "else gets a 404.",
  security,
  request: { params: ImageIdParam },
  responses: {
    204: { description: "Deleted" },
    ...problemResponses(
      401,
      404,
      [409, { detail: "deleting the image: the image is being changed by another request, try again" }],
      [503, { detail: "deleting the image: storage is busy or unavailable, try again" }],
    ),
  },
});

export const trashImage = createRoute({
  method: "post",
  path: "/images/{image_id}/trash",
  operationId: "trashImage",
  tags: ["images"],
  summary: "Move an image to the trash (owner only)",
  description:
    "The image leaves every listing and answers 404 to everyone but its owner; its bytes stay. Restore it within " +
    "TRASH_DAYS (30 by default); after that its bytes and items are purged. Trashing a trashed image answers it " +
    "as it is. `DELETE` still deletes at once. Only the owner may; anyone else gets a 404.",
  security,
  request: { params: ImageIdParam },
  responses: {
    200: { description: "The trashed image", content: json(Image, trashedImageExample) },
    ...problemResponses(
      401,
      404,
      [409, { detail: "the image is not ready yet; edit it once its upload has been checked" }],
      [503, { detail: "trashing the image: storage is busy or unavailable, try again" }],
    ),
  },
});

export const restoreImage = createRoute({
  method: "post",
  path: "/images/{image_id}/restore",
  operationId: "restoreImage",
  tags: ["images"],
  summary: "Restore a trashed image (owner only)",
  description:
    "The image is ready again, with every tag and rendition, in every listing it was in. Restoring an image that " +
    "is not trashed answers it as it is. Only the owner may; anyone else gets a 404.",
  security,
  request: { params: ImageIdParam },
  responses: {
    200: {
      description:
        "The restored image, ready, as `GET /images/{image_id}` answers it: its renditions and links are back",
      content: json(ImageWithDownload, imageWithLinksExample),
    },
    ...problemResponses(
      401,
      404,
      [409, { detail: "restoring the image: the image is being changed by another request, try again" }],
      [503, { detail: "restoring the image: storage is busy or unavailable, try again" }],
    ),
  },
});

export const MAX_CHECKED_DIGESTS = 100;

export const CheckRequest = z
  .strictObject({
    sha256: z
      .array(Sha256)
      .min(1)
      .max(MAX_CHECKED_DIGESTS)
      .openapi({ description: "1-100 sha256 digests (hex) of files as they would be uploaded." }),
  })
  .openapi("CheckRequest", { example: { sha256: [UPLOADED_SHA256] } });

const CheckResult = z
  .object({
    known: z
      .array(
        z.object({
          sha256: z.string().openapi({ description: "A digest that was asked about, lower-cased." }),
          image_id: z
            .string()
            .openapi({ description: "The caller's image uploaded as that file (the oldest, if several)." }),
        }),
      )
      .openapi({
        description: "The digests the caller already has an image for (trashed ones do not count); the others are new.",
      }),
  })
  .openapi("CheckResult", { example: { known: [{ sha256: UPLOADED_SHA256, image_id: IMAGE_ID }] } });

export const checkImages = createRoute({
  method: "post",
  path: "/images/check",
  operationId: "checkImages",
  tags: ["images"],
  summary: "Which of these files the caller already has",
  description:
    "Send the sha256 of up to 100 files before uploading them: the answer names the caller's image for each file " +
    "already uploaded, so a client uploading a folder again sends only the new files.",
  security,
  request: {
    body: {
      required: true,
      description: "The digests to look up.",
      content: json(CheckRequest, { sha256: [UPLOADED_SHA256] }),
    },
  },
  responses: {
    200: {
      description: "The digests already known",
      content: json(CheckResult, { known: [{ sha256: UPLOADED_SHA256, image_id: IMAGE_ID }] }),
    },
    ...problemResponses(
      [
        400,
        {
          detail: "sha256.0: must be a sha256 digest: 64 hex digits",
          errors: [{ path: "sha256.0", message: "must be a sha256 digest: 64 hex digits" }],
        },
      ],
      401,
      [503, { detail: "checking the digests: storage is busy or unavailable, try again" }],
    ),
  },
});
