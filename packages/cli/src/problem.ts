import type { Problem } from "@images/client";

/** The lines a person reads: the detail, then each field at fault. */
export function describeProblem(problem: Problem): string[] {
  const lines = [`${problem.detail} (${problem.status} ${problem.title})`];
  for (const error of problem.errors ?? []) lines.push(`  ${error.path || "(request)"}: ${error.message}`);
  if (problem.status === 401) lines.push("  sign in again: images login");
  return lines;
}
