import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { z } from "@hono/zod-openapi";
import { AppError, type ErrorKind, type Issue } from "@images/core";

/** RFC 9457 problem details: the body of every error this API returns. */
export const Problem = z
  .object({
    type: z.string().openapi({ example: "about:blank" }),
    title: z.string().openapi({ example: "Bad Request" }),
    status: z.number().int().openapi({ example: 400 }),
    detail: z.string().openapi({ example: "tags.3: must be 1-64 letters, digits, '_' or '-'" }),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem");

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
export function problemBody(status: number, detail: string, issues?: Issue[]): z.infer<typeof Problem> {
  return {
    type: "about:blank",
    title: TITLES[status] ?? "Error",
    status,
    detail,
    ...(issues && issues.length > 0 ? { errors: issues } : {}),
  };
}

export function problemResponse(
  status: number,
  detail: string,
  options: { headers?: Record<string, string>; issues?: Issue[] } = {},
): Response {
  const body = problemBody(status, detail, options.issues);
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

/** The error answers a route documents, each as problem JSON. */
export function problemResponses<const S extends number>(...statuses: S[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: TITLES[status] ?? "Error", content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } } },
    ]),
  ) as Record<S, { description: string; content: { [PROBLEM_CONTENT_TYPE]: { schema: typeof Problem } } }>;
}
