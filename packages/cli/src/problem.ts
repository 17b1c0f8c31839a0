import type { components } from "./api/schema.ts";

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

/** Reads an error answer's body into a Problem, whatever the server sent. */
export function problemFrom(status: number, body: unknown, fallbackTitle = "Error"): Problem {
  if (isProblem(body)) return body;
  const text = typeof body === "string" ? body.trim() : "";
  return {
    type: "about:blank",
    title: fallbackTitle,
    status,
    detail: text ? `${fallbackTitle} (HTTP ${status}): ${text.slice(0, 300)}` : `the server answered HTTP ${status}`,
  };
}

function isProblem(value: unknown): value is Problem {
  if (typeof value !== "object" || value === null) return false;
  const { status, detail, title } = value as Record<string, unknown>;
  return typeof status === "number" && typeof detail === "string" && typeof title === "string";
}

/** The lines a person reads: the detail, then each field at fault. */
export function describeProblem(problem: Problem): string[] {
  const lines = [`${problem.detail} (${problem.status} ${problem.title})`];
  for (const error of problem.errors ?? []) lines.push(`  ${error.path || "(request)"}: ${error.message}`);
  if (problem.status === 401) lines.push("  sign in again: images login");
  return lines;
}
