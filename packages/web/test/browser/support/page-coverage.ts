import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Profiler } from "node:inspector";
import type { CDPSession, Page } from "playwright-core";
import type { Rollup } from "vite";

/**
 * The gallery's JavaScript coverage in Chromium, counted with the rest when coverage is measured
 * (IMAGES_CHILD_COVERAGE_DIR, set by packages/core/test/support/v8-coverage/provider.ts): V8's
 * coverage of each script the page ran from the build, with the build's source map, written
 * where the provider reads the spawned processes' coverage; it maps it to packages/web/src.
 */
const DIR = process.env.IMAGES_CHILD_COVERAGE_DIR;

/** vite build settings for the gallery under test: when coverage is measured, source maps, and
 * unminified (minified, several statements become one, which counts them all on its first line). */
export const coverageBuildOptions = () => (DIR ? { build: { sourcemap: true, minify: false } } : {});

/** The scripts of the build under test with their source maps, kept from vite build's answer. */
const built = new Map<string, { code: string; map: unknown }>();

/** Keeps the scripts the build made (another build may replace dist/ while the tests run). */
export function rememberBuild(output: Awaited<ReturnType<typeof import("vite").build>>): void {
  for (const result of [output].flat() as Rollup.RollupOutput[]) {
    for (const chunk of result.output ?? []) {
      if (chunk.type === "chunk" && chunk.map) built.set(`/${chunk.fileName}`, { code: chunk.code, map: chunk.map });
    }
  }
}

let session: CDPSession | undefined;
const snapshots: Profiler.ScriptCoverage[] = [];

/** V8's counts so far (which it then resets): taken before each navigation drops the page's scripts. */
async function take(): Promise<void> {
  if (!session) return;
  const { result } = await session.send("Profiler.takePreciseCoverage");
  snapshots.push(...result.filter((script) => script.url && built.has(new URL(script.url).pathname)));
}

/** Starts V8's precise coverage in the page, taken again before each goto and reload. */
export async function startPageCoverage(page: Page): Promise<void> {
  if (!DIR) return;
  session = await page.context().newCDPSession(page);
  await session.send("Profiler.enable");
  await session.send("Profiler.startPreciseCoverage", { callCount: true, detailed: true });
  for (const name of ["goto", "reload"] as const) {
    const original = page[name].bind(page) as (...args: unknown[]) => Promise<unknown>;
    (page as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => {
      await take();
      return original(...args);
    };
  }
}

/** Writes the counts of the gallery's scripts (those of the build under test) with their source maps. */
export async function writePageCoverage(distDir: string): Promise<void> {
  if (!DIR || !session) return;
  await take();
  const result = snapshots.map((script) => {
    const path = new URL(script.url).pathname;
    const { code, map } = built.get(path)!;
    return { url: pathToFileURL(join(distDir, path)).href, functions: script.functions, source: code, map };
  });
  mkdirSync(DIR, { recursive: true });
  writeFileSync(join(DIR, `chromium-${process.pid}-${Date.now()}.json`), JSON.stringify({ result }));
}
