import type { components } from "./api/schema.ts";

export type Problem = components["schemas"]["Problem"];

/** An answer that is not a success, carrying the API's problem JSON (or one built from the status). */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(readonly problem: Problem) {
    super(problem.detail);
  }
  get status() {
    return this.problem.status;
  }
}

export function problemFrom(status: number, body: unknown, fallbackTitle = "Error"): Problem {
  if (typeof body === "object" && body !== null) {
    const { title, detail } = body as Record<string, unknown>;
    if (typeof title === "string" && typeof detail === "string") return body as Problem;
  }
  const text = typeof body === "string" ? body.trim().slice(0, 300) : "";
  return {
    type: "about:blank",
    title: fallbackTitle,
    status,
    detail: status === 0 ? "the server could not be reached" : text || `the server answered HTTP ${status}`,
  };
}

/** A problem for anything thrown: the API's own, or a network failure. */
export function toProblem(error: unknown): Problem {
  if (error instanceof ApiError) return error.problem;
  const detail = error instanceof Error ? error.message : String(error);
  return { type: "about:blank", title: "Something went wrong", status: 0, detail };
}

/**
 * The problem's `errors[]` by form field: the first segment of each path ("tags.3" -> "tags"),
 * with the rest of the path kept in the message so that a person knows which tag.
 */
export function fieldErrors(problem: Problem): Map<string, string[]> {
  const byField = new Map<string, string[]>();
  for (const { path, message } of problem.errors ?? []) {
    const [field = "", ...rest] = path.split(".");
    const where = /^\d+$/.test(rest[0] ?? "") ? `#${Number(rest[0]) + 1}` : rest.join(".");
    const text = where ? `${where}: ${message}` : message;
    byField.set(field, [...(byField.get(field) ?? []), text]);
  }
  return byField;
}
