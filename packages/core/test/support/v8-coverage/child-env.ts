import { pathToFileURL } from "node:url";
import { join } from "node:path";

/**
 * The environment a test adds to a process it spawns so that, while `npm test` measures
 * coverage, the process's coverage is counted too (child-coverage.mjs writes it, provider.ts
 * merges it). Without coverage (a plain `vitest run`), nothing.
 */
export function childCoverageEnv(base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const dir = process.env.IMAGES_CHILD_COVERAGE_DIR;
  if (!dir) return {};
  const preload = pathToFileURL(join(import.meta.dirname, "child-coverage.mjs")).href;
  return {
    IMAGES_CHILD_COVERAGE_DIR: dir,
    NODE_OPTIONS: [base.NODE_OPTIONS, `--import=${preload}`].filter(Boolean).join(" "),
  };
}
