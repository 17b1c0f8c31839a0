import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Each reliability test file appends what it did to one file; when every file has run, the
 * totals are printed as the run's last line.
 */
export default function setup() {
  const dir = mkdtempSync(join(tmpdir(), "reliability-"));
  const file = join(dir, "counts.jsonl");
  process.env.RELIABILITY_COUNTS_FILE = file;
  return () => {
    const totals = { requests: 0, faults: 0, concurrent: 0, violations: 0, unexpected: 0 };
    if (existsSync(file)) {
      for (const line of readFileSync(file, "utf8").split("\n").filter(Boolean)) {
        const counts = JSON.parse(line) as Partial<typeof totals>;
        for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += counts[key] ?? 0;
      }
    }
    rmSync(dir, { recursive: true, force: true });
    console.log(
      `\nreliability: ${totals.requests} requests tried, ${totals.faults} faults injected, ` +
        `${totals.concurrent} concurrent operations, ${totals.violations} store violations found, ` +
        `${totals.unexpected} unexpected statuses`,
    );
  };
}
