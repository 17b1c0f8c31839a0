import { ApiProblem, type Problem } from "@images/client";

export { ApiProblem, problemFrom, type Problem } from "@images/client";

/** A problem for anything thrown: the API's own, or a network failure. */
export function toProblem(error: unknown): Problem {
  if (error instanceof ApiProblem) return error.problem;
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

/** The detail, then each field error it does not already say (a 400's detail is its first): each once. */
export function problemLines(problem: Pick<Problem, "detail" | "errors">): string[] {
  const fields = (problem.errors ?? []).map((e) => `${e.path || "request"}: ${e.message}`);
  return [problem.detail, ...fields.filter((line) => line !== problem.detail)];
}
