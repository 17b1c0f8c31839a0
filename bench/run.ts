/**
 * `npm run bench`: measures the service side by side with its floor and with the naive design,
 * in one run, writes bench/RESULTS.md and prints it. Not part of `npm test`.
 *
 * About 25 minutes on 2 cores: the listing section (seeding its 100,000-image table into the
 * emulator takes some 9 minutes) and the memory section (a fresh process for every row) are most of it.
 *
 *   BENCH_SKIP_100K=1   leaves the 100,000-image table out (the growth target is then judged at
 *                       10,000, and the summary says so)
 *   BENCH_QUICK=1       fewer repetitions everywhere and no 100,000-image table, to try the bench
 *                       itself (rougher numbers)
 *   BENCH_ONLY=<words>  only the sections whose names contain one of these comma-separated words
 *                       (cold, listing, load, memory, delivery, capacity), to work on one; printed
 *                       and written to the OS temp folder, leaving bench/RESULTS.md (a whole run's) as it is
 *   BENCH_NODE22=0      skips the cold starts on Node 22 (otherwise a Node 22 binary is fetched
 *                       once from npm's node-<platform>-<arch> package into the OS temp folder)
 *   BENCH_RENDER=<file> writes RESULTS.md again from the raw results a run left in <file>
 *                       (every run leaves them in the OS temp folder), without measuring
 *
 * For looking closer: BENCH_KEEP=1 keeps the cold-start bundles (their folder is in the OS temp
 * folder); BENCH_LOAD_ONLY=<operation prefix> runs one load operation; BENCH_PROFILE_LOAD=<dir>
 * writes a CPU profile of the load server there.
 */
import { readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import { join, resolve } from "node:path";
import { loadConfig } from "@images/core";
import { runCapacity } from "./capacity.ts";
import { runShardReads } from "./shard-reads.ts";
import { runColdStart } from "./cold-start.ts";
import { findings } from "./findings.ts";
import { runListing } from "./listing.ts";
import { runLoad } from "./load.ts";
import { runMemory } from "./memory.ts";
import { runDelivery } from "./delivery.ts";
import { BENCH_DIR, table, type SectionResult } from "./support.ts";

// The AWS SDK warns once per process that its releases after January 2027 need Node 22; that
// says nothing about speed, so it is kept out of the bench's output. Other warnings still show.
process.removeAllListeners("warning");
process.on("warning", (warning) => {
  const sdkNotice = `${warning.name} ${warning.message}`.includes("NodeVersionSupportWarning");
  if (!sdkNotice) process.stderr.write(`${warning.name}: ${warning.message}\n`);
});

interface Run {
  sections: SectionResult[];
  started: number;
  finished: number;
  loadBefore: number;
  loadAfter: number;
  timings: string[];
  with100k: boolean;
  quick: boolean;
  node: string;
  machine: string;
}

const log = (message: string) => process.stderr.write(`${message}\n`);

async function measure(): Promise<Run> {
  const quick = process.env.BENCH_QUICK === "1";
  const with100k = process.env.BENCH_SKIP_100K !== "1" && !quick;
  const started = Date.now();
  const loadBefore = os.loadavg()[0]!;
  const sections: SectionResult[] = [];
  const timings: string[] = [];
  const only = process.env.BENCH_ONLY?.split(",");
  const section = async (name: string, run: () => Promise<SectionResult | SectionResult[]>) => {
    if (only && !only.some((key) => name.includes(key))) return;
    log(`${name}…`);
    const begun = Date.now();
    sections.push(...[await run()].flat());
    timings.push(`${name} ${((Date.now() - begun) / 1000).toFixed(0)} s`);
  };

  await section("1. cold start", () => runColdStart({ runs: quick ? 5 : 15, log }));
  await section("2-3. listing", () =>
    runListing({
      sizes: with100k ? [1_000, 10_000, 100_000] : [1_000, 10_000],
      pageRuns: quick ? 10 : 25,
      efficiencySize: 10_000,
      // The Scan reads the whole table whatever the filter; at 100,000 two filters show it.
      scanRuns: (size, name) =>
        size <= 1_000 ? 5 : size <= 10_000 ? (quick ? 1 : 3) : name === "none" || name === "user+tag+range" ? 1 : 0,
      createSample: quick ? 10 : 30,
      log,
    }),
  );
  await section("4. load", () => runLoad({ seconds: quick ? 2 : 4, uploadSeconds: quick ? 4 : 10, log }));
  await section("5. memory", () => runMemory({ runs: quick ? 1 : 2, log }));
  await section("6. delivery", () => runDelivery({ runs: quick ? 3 : 9, log }));
  // A model, not a measurement: the same figures on any machine, with LISTING_SHARDS's default.
  await section("7. capacity", () =>
    runCapacity({ defaultShards: loadConfig({ TABLE_NAME: "t", BUCKET_NAME: "b" }).listingShards, log }),
  );
  await section("8. shard reads", () => runShardReads({ pages: quick ? 500 : 5_000 }));

  const cpus = os.cpus();
  return {
    sections,
    started,
    finished: Date.now(),
    loadBefore,
    loadAfter: os.loadavg()[0]!,
    timings,
    with100k,
    quick,
    node: process.version,
    machine: `${cpus.length} × ${cpus[0]?.model ?? "unknown CPU"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
  };
}

function render(run: Run): string {
  const checks = run.sections.flatMap((s) => s.checks);
  const missed = checks.filter((check) => !check.met).length;
  const flags = [run.quick ? "`BENCH_QUICK=1` (rough)" : !run.with100k ? "`BENCH_SKIP_100K=1`" : ""].filter(Boolean);
  return [
    "# Performance: measured side by side",
    "",
    `Written by ${flags.length ? `${flags.join(" ")} ` : ""}\`npm run bench\` on ` +
      `${new Date(run.started).toISOString().slice(0, 16).replace("T", " ")} UTC: Node ${run.node}, ${run.machine}; ` +
      `load average ${run.loadBefore.toFixed(1)} before and ${run.loadAfter.toFixed(1)} after (other work on the ` +
      `machine adds noise, which is why every comparison below is made within one run, side by side). ` +
      `${((run.finished - run.started) / 60_000).toFixed(1)} minutes: ${run.timings.join(", ")}.`,
    "",
    `## Every target (${checks.length - missed} met, ${missed} missed)`,
    "",
    table(
      ["section", "figure", "measured", "target", ""],
      checks.map((check) => [check.section, check.what, check.value, check.target, check.met ? "met" : "**missed**"]),
    ),
    "",
    findings(run.sections, { with100k: run.with100k }),
    ...run.sections.flatMap((s) => ["", `## ${s.title}`, "", s.markdown]),
    "",
  ].join("\n");
}

const rendering = process.env.BENCH_RENDER;
const run: Run = rendering ? JSON.parse(await readFile(rendering, "utf8")) : await measure();
if (!rendering) {
  const raw = join(os.tmpdir(), "images-bench-results.json");
  await writeFile(raw, JSON.stringify(run));
  log(`raw results: ${raw}`);
}
const document = render(run);
// RESULTS.md is the record of a whole run: a run of some sections goes beside the raw results.
const partial = !rendering && process.env.BENCH_ONLY !== undefined;
const written = partial ? join(os.tmpdir(), "images-bench-RESULTS.md") : resolve(BENCH_DIR, "RESULTS.md");
await writeFile(written, document);
process.stdout.write(document);
const checks = run.sections.flatMap((s) => s.checks);
log(
  `${partial ? written : "bench/RESULTS.md"} written (${checks.filter((check) => check.met).length} of ${checks.length} targets met)`,
);
