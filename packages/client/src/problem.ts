import type { components } from "./schema.ts";

export type Problem = components["schemas"]["Problem"];

/** An answer that is not a success: the API's problem JSON, or a stand-in built from the status. */
export class ApiProblem extends Error {
  override name = "ApiProblem";
  constructor(readonly problem: Problem) {
    super(problem.detail);
  }
  get status() {
    return this.problem.status;
  }
}

/**
 * Reads an error answer's body into a Problem, whatever the server sent. Status 0 is a request
 * that never got an answer (the browser's XMLHttpRequest reports it so).
 */
export function problemFrom(status: number, body: unknown, fallbackTitle = "Error"): Problem {
  if (isProblem(body)) return body;
  const text = typeof body === "string" ? body.trim().slice(0, 300) : "";
  const detail = status === 0 ? "the server could not be reached" : text || `the server answered HTTP ${status}`;
  return { type: "about:blank", title: fallbackTitle, status, detail };
}

function isProblem(value: unknown): value is Problem {
  if (typeof value !== "object" || value === null) return false;
  const { status, detail, title } = value as Record<string, unknown>;
  return typeof status === "number" && typeof detail === "string" && typeof title === "string";
}
