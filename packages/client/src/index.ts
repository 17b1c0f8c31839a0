export * from "./client.ts";
export { formatBytes } from "./format.ts";
export { ApiProblem, problemFrom, type Problem } from "./problem.ts";
export type { components, paths } from "./schema.ts";
