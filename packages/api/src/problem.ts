import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { z } from "@hono/zod-openapi";
import { AppError, type ErrorKind, type Issue } from "@images/core";

/** One field the request got wrong: where, and what it must be. */
const FieldError = z.object({
  path: z.string().openapi({
    description: "The field, dot-separated (`tags.3` is the fourth tag); empty for the whole request.",
    example: "tags.3",
  }),
  message: z
    .string()
    .openapi({ example: "must be 1-64 letters, digits, '_' or '-' (letters may carry combining marks)" }),
});

/** RFC 9457 problem details: the body of every error this API returns. */
export const Problem = z
  .object({
    type: z
      .string()
      .openapi({ description: "Always `about:blank`: the status says what kind of problem.", example: "about:blank" }),
    title: z.string().openapi({ description: "The status's reason phrase.", example: "Bad Request" }),
    status: z.number().int().openapi({ description: "The HTTP status, repeated.", example: 400 }),
    detail: z.string().openapi({
      description: "What went wrong with this request, for a person to read; never internals.",
      example: "tags.3: must be 1-64 letters, digits, '_' or '-' (letters may carry combining marks)",
    }),
    errors: z
      .array(FieldError)
      .optional()
      .openapi({ description: "On a 400: every field error, the first as `detail`." }),
    existing_image_id: z.string().optional().openapi({
      description: "On a 409 from an upload with `on_duplicate=reject`: the caller's image uploaded as the same file.",
      example: "img_01JDX3M5Q8X6W7Y0Z9A1B2C3D4",
    }),
  })
  .openapi("Problem", { description: "RFC 9457 problem details, served as `application/problem+json`." });

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
};

export const STATUS_OF_KIND: Record<ErrorKind, number> = {
  invalid: 400,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unsupported_type: 415,
  undecodable: 422,
  rate_limited: 429,
  unavailable: 503,
};

/** An error the API itself raises, with the status and headers it must answer with. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
    readonly issues?: Issue[],
  ) {
    super(detail);
  }
}

/** The problem document for `status`. */
export function problemBody(
  status: number,
  detail: string,
  issues?: Issue[],
  existingImageId?: string,
): z.infer<typeof Problem> {
  return {
    type: "about:blank",
    title: TITLES[status] ?? "Error",
    status,
    detail,
    ...(issues && issues.length > 0 ? { errors: issues } : {}),
    ...(existingImageId ? { existing_image_id: existingImageId } : {}),
  };
}

export function problemResponse(
  status: number,
  detail: string,
  options: { headers?: Record<string, string>; issues?: Issue[]; existingImageId?: string } = {},
): Response {
  const body = problemBody(status, detail, options.issues, options.existingImageId);
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": PROBLEM_CONTENT_TYPE, "x-content-type-options": "nosniff", ...options.headers },
  });
}

/** The one place where anything thrown becomes an HTTP answer. */
export function errorToResponse(
  error: unknown,
  c: Context,
  log: (level: "warn" | "error", fields: Record<string, unknown>) => void,
): Response {
  if (error instanceof AppError) {
    const status = STATUS_OF_KIND[error.kind];
    const retry = error.details.retryAfterSeconds;
    if (status >= 500) log("warn", { event: "storage_unavailable", error: String(error.details.cause ?? error) });
    return problemResponse(status, error.message, {
      issues: error.details.issues,
      existingImageId: error.details.existingImageId,
      headers: retry !== undefined ? { "retry-after": String(retry) } : {},
    });
  }
  if (error instanceof HttpProblem) {
    return problemResponse(error.status, error.detail, { headers: error.headers, issues: error.issues });
  }
  if (error instanceof HTTPException && error.status < 500) {
    return problemResponse(error.status, error.message || TITLES[error.status] || "Error");
  }
  log("error", {
    event: "unexpected_error",
    method: c.req.method,
    path: c.req.path,
    error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    stack: error instanceof Error ? error.stack : undefined,
  });
  return problemResponse(500, "an unexpected error occurred; it has been logged");
}

/** A schema validation failure, shaped like every other 400. */
export function validationProblem(issues: z.core.$ZodIssue[]): HttpProblem {
  const list: Issue[] = issues.map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message }));
  const first = list[0];
  return new HttpProblem(
    400,
    first ? `${first.path || "request"}: ${first.message}` : "the request is not valid",
    {},
    list,
  );
}

/** What a documented error answer says: its detail, and the field errors of a 400. */
export interface ProblemExample {
  detail: string;
  errors?: Issue[];
  existing_image_id?: string;
}

/** A realistic answer for each status, where a route does not give its own. */
const EXAMPLES: Record<number, ProblemExample> = {
  400: {
    detail: "tags.3: must be 1-64 letters, digits, '_' or '-' (letters may carry combining marks)",
    errors: [
      { path: "tags.3", message: "must be 1-64 letters, digits, '_' or '-' (letters may carry combining marks)" },
    ],
  },
  401: { detail: "the token has expired" },
  404: { detail: "no such image" },
  409: { detail: "this Idempotency-Key was used for a different request" },
  413: { detail: "size_bytes is over the limit of 52428800 bytes" },
  415: { detail: "the file is image/heif (hevc); accepted formats are JPEG, PNG, WebP, GIF and AVIF" },
  422: { detail: "the image could not be decoded: its data is damaged or truncated" },
  429: { detail: "at most 60 uploads a minute; try again shortly" },
  503: { detail: "listing images: storage is busy or unavailable, try again" },
};

/** The headers an error answer carries, by status. */
const HEADERS: Record<
  number,
  Record<string, { description: string; schema: { type: "string" | "integer" }; example: string | number }>
> = {
  401: {
    "www-authenticate": {
      description: "The Bearer challenge (RFC 6750), naming the error when a token was sent.",
      schema: { type: "string" },
      example: 'Bearer realm="images", error="invalid_token", error_description="the token has expired"',
    },
  },
  429: {
    "retry-after": {
      description: "Seconds until the next minute's allowance.",
      schema: { type: "integer" },
      example: 42,
    },
  },
  503: {
    "retry-after": { description: "Seconds to wait before trying again.", schema: { type: "integer" }, example: 1 },
  },
};

/** The documentation of one error answer as problem JSON, with `example` (or the status's usual one). */
export function problemAnswer(
  status: number,
  example: ProblemExample = EXAMPLES[status] ?? { detail: TITLES[status] ?? "Error" },
) {
  return {
    description: TITLES[status] ?? "Error",
    ...(HEADERS[status] ? { headers: HEADERS[status] } : {}),
    content: {
      [PROBLEM_CONTENT_TYPE]: {
        schema: Problem,
        example: problemBody(status, example.detail, example.errors, example.existing_image_id),
      },
    },
  };
}

/**
 * The error answers a route documents, each as problem JSON with a realistic example: the
 * status's usual one, or the route's own from `examples`.
 */
export function problemResponses<const S extends number>(...statuses: (S | [S, ProblemExample])[]) {
  return Object.fromEntries(
    statuses.map((entry) => {
      const [status, example] = Array.isArray(entry) ? entry : [entry, undefined];
      return [status, problemAnswer(status, example)];
    }),
  ) as Record<S, ReturnType<typeof problemAnswer>>;
}
