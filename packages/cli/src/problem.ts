import type { Problem } from "@images/client";

/**
 * The lines a person reads: the detail, then each field at fault that it does not already say
 * (a 400's detail is its first field error: printed once).
 */
export function describeProblem(problem: Problem): string[] {
  const lines = [`${problem.detail} (${problem.status} ${problem.title})`];
  for (const error of problem.errors ?? []) {
    const said = [`${error.path}: ${error.message}`, `${error.path || "request"}: ${error.message}`];
    if (!said.includes(problem.detail ?? "")) lines.push(`  ${error.path || "(request)"}: ${error.message}`);
  }
  if (problem.status === 401) lines.push("  sign in again: images login");
  return lines;
}
