import { createRoute, z } from "@hono/zod-openapi";
import { ImageInfo, ImageWithLinks, ListedImage, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE } from "@images/core";
import { problemResponses } from "../problem.ts";

// Core's schemas were built before @hono/zod-openapi extended zod; a copy made here has `.openapi`.
const Image = ImageInfo.extend({}).openapi("Image", {
  example: {
    image_id: "img_01JDX3M5Q8X6W7Y0Z9A1B2C3D4",
    user_id: "alice",
    title: "Sunset",
    description: null,
    tags: ["beach", "holiday"],
    upload_time: "2026-11-24T19:30:00.000Z",
    status: "ready",
    content_type: "image/jpeg",
    size_bytes: 80905,
    width: 1024,
    height: 768,
    sha256: "9f2c0d3c1b1e4d8f9a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f",
    s3_url: "s3://images-bucket/images/img_01JDX3M5Q8X6W7Y0Z9A1B2C3D4.jpg",
  },
});
const ImageWithDownload = ImageWithLinks.extend({}).openapi("ImageWithLinks");

const ImageInList = ListedImage.extend({}).openapi("ListedImage");

const ImagePage = z
  .object({
    items: z.array(ImageInList),
    next_cursor: z
      .string()
      .nullable()
      .openapi({ description: "Pass as `cursor` for the next page; null on the last." }),
  })
  .openapi("ImagePage");

const ImageIdParam = z.object({
  image_id: z.string().openapi({ param: { name: "image_id", in: "path" }, example: "img_01JDX3M5Q8X6W7Y0Z9A1B2C3D4" }),
});

const IdempotencyKey = z.object({
  "idempotency-key": z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/, "must be 1-255 visible ASCII characters")
    .optional()
    .openapi({
      param: { name: "idempotency-key", in: "header" },
      description: "The same key from the same user returns the first answer again and stores nothing twice.",
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

/** Multipart: the file itself, up to the direct upload limit. */
export const UploadForm = z
  .object({
    file: z.file().openapi({ type: "string", format: "binary", description: "JPEG, PNG, WebP, GIF or AVIF" }),
    title: z.string().openapi({ description: TITLE, example: "Sunset" }),
    description: z.string().optional().openapi({ description: DESCRIPTION }),
    tags: z
      .union([z.string(), z.array(z.string())])
      .optional()
      .openapi({
        description: `Repeat the field, or give one comma-separated value. ${TAGS}`,
        example: "beach,holiday",
      }),
  })
  .openapi("UploadForm");

/** JSON: the metadata and the file's declared type and size; the bytes go straight to S3. */
export const UploadRequest = z
  .strictObject({
    title: z.string().openapi({ description: TITLE }),
    description: z.string().nullish().openapi({ description: DESCRIPTION }),
    tags: z.array(z.string()).optional().openapi({ description: TAGS }),
    content_type: z
      .string()
      .openapi({ description: "The file's media type, in any case; stored lower-cased.", example: "image/jpeg" }),
    size_bytes: z.number().int().positive(),
  })
  .openapi("UploadRequest");

export const ImagePatchBody = z
  .strictObject({
    title: z.string().optional().openapi({ description: TITLE }),
    description: z.string().nullable().optional().openapi({ description: DESCRIPTION }),
    tags: z.array(z.string()).optional().openapi({ description: TAGS }),
  })
  .openapi("ImagePatch");

const LargeUploadStarted = z
  .object({
    image: Image,
    upload: z.object({
      method: z.literal("POST"),
      url: z.string().openapi({ description: "Post the form here: the fields first, then the file as `file`." }),
      fields: z.record(z.string(), z.string()),
      expires_at: z.string(),
      max_bytes: z.number().int(),
    }),
  })
  .openapi("LargeUploadStarted", {
    description: "A pending image and the presigned POST that sends its file straight to S3.",
  });

const security = [{ bearerAuth: [] }];

export const uploadImage = createRoute({
  method: "post",
  path: "/images/upload",
  tags: ["images"],
  summary: "Upload an image",
  description:
    "Multipart: send the file (up to 4 MiB) with its metadata; the answer is the ready image. " +
    "JSON: declare the file, then send it straight to S3 with the presigned POST in the answer.",
  security,
  request: {
    headers: IdempotencyKey,
    // Validated for the content type the request has; one of the two is required.
    body: {
      required: false,
      content: {
        "multipart/form-data": { schema: UploadForm },
        "application/json": { schema: UploadRequest },
      },
    },
  },
  responses: {
    201: {
      description: "Multipart: the stored image, ready. JSON: the pending image and where to post its file.",
      content: { "application/json": { schema: z.union([Image, LargeUploadStarted]) } },
    },
    ...problemResponses(400, 401, 409, 413, 415, 422, 429, 503),
  },
});

export const listImages = createRoute({
  method: "get",
  path: "/images",
  tags: ["images"],
  summary: "List images, newest first",
  description: "Filters combine freely. `from` and `to` are inclusive; a date alone means that whole UTC day.",
  security,
  request: {
    query: z.object({
      user_id: z.string().optional().openapi({ example: "alice" }),
      tag: z.string().optional().openapi({ example: "beach" }),
      from: z.string().optional().openapi({ description: DATE_BOUND, example: "2026-01-01" }),
      to: z.string().optional().openapi({ description: DATE_BOUND, example: "2026-11-30T23:59:59Z" }),
      limit: z.coerce
        .number()
        .int()
        .min(1)
        .max(MAX_PAGE_SIZE)
        .default(DEFAULT_PAGE_SIZE)
        .openapi({ example: 20, type: "integer" }),
      cursor: z.string().optional().openapi({ description: "The `next_cursor` of the previous page." }),
    }),
  },
  responses: {
    200: { description: "A page of images", content: { "application/json": { schema: ImagePage } } },
    ...problemResponses(400, 401, 503),
  },
});

export const getImage = createRoute({
  method: "get",
  path: "/images/{image_id}",
  tags: ["images"],
  summary: "Get one image with a short-lived download link",
  security,
  request: { params: ImageIdParam },
  responses: {
    200: {
      description: "The image; its owner also sees it while pending, or why it failed",
      content: { "application/json": { schema: ImageWithDownload } },
    },
    ...problemResponses(401, 404, 503),
  },
});

export const updateImage = createRoute({
  method: "patch",
  path: "/images/{image_id}",
  tags: ["images"],
  summary: "Edit an image's title, description or tags (owner only)",
  security,
  request: {
    params: ImageIdParam,
    body: { required: true, content: { "application/json": { schema: ImagePatchBody } } },
  },
  responses: {
    200: { description: "The edited image", content: { "application/json": { schema: Image } } },
    ...problemResponses(400, 401, 404, 409, 503),
  },
});

export const deleteImage = createRoute({
  method: "delete",
  path: "/images/{image_id}",
  tags: ["images"],
  summary: "Delete an image, its bytes and its thumbnail (owner only)",
  security,
  request: { params: ImageIdParam },
  responses: {
    204: { description: "Deleted" },
    ...problemResponses(401, 404, 409, 503),
  },
});
