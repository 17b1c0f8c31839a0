import { createRequire } from "node:module";
import { join } from "node:path";

/**
 * Where Scalar's browser script for /docs (docs-page.ts) is found: the pinned
 * @scalar/api-reference package's own file, by its `exports` name, never a CDN. Node builtins
 * only: infra/api.ts imports this to copy the file into the API function's package.
 */
export const SCALAR_SCRIPT_MODULE = "@scalar/api-reference/browser/standalone.js";
/** Where infra/api.ts copies it into the Lambda package (`copyFiles`, relative to LAMBDA_TASK_ROOT). */
export const LAMBDA_SCALAR_SCRIPT = "scalar/standalone.js";

/** The script in node_modules, as the package at `from` (a file or directory path) resolves it. */
export function installedScalarScript(from: string = import.meta.url): string {
  return createRequire(from).resolve(SCALAR_SCRIPT_MODULE);
}

/** The files the script may be read from, first found first: the Lambda package's copy, then node_modules. */
export function scalarScriptCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const candidates = env.LAMBDA_TASK_ROOT ? [join(env.LAMBDA_TASK_ROOT, LAMBDA_SCALAR_SCRIPT)] : [];
  try {
    candidates.push(installedScalarScript());
  } catch {
    // Not resolvable here (a bundle without node_modules): only the copy can serve.
  }
  return candidates;
}
