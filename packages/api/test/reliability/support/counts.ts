import { appendFileSync } from "node:fs";

export interface Counts {
  requests?: number;
  faults?: number;
  concurrent?: number;
  violations?: number;
  unexpected?: number;
}

/** Adds this file's counts to the run's summary. */
export function recordCounts(counts: Counts): void {
  const file = process.env.RELIABILITY_COUNTS_FILE;
  if (file) appendFileSync(file, `${JSON.stringify(counts)}\n`);
}
