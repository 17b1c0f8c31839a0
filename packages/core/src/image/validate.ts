import type { z } from "zod";
import { AppError, type Issue } from "../errors.ts";

/** Parses at the edge of the domain; a failure is an `invalid` error listing every problem. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, prefix?: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues: Issue[] = result.error.issues.map((issue) => ({
    path: [prefix, ...issue.path.map(String)].filter((part) => part !== undefined && part !== "").join("."),
    message: issue.message,
  }));
  const first = issues[0];
  const detail = first ? `${first.path || "request"}: ${first.message}` : "the request is not valid";
  throw new AppError("invalid", detail, { issues });
}
