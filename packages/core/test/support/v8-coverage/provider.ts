import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import v8 from "@vitest/coverage-v8";
// @ts-expect-error: no types; the V8 merge @vitest/coverage-v8 itself uses (its dependency).
import { mergeProcessCovs } from "@bcoe/v8-coverage";
import { V8CoverageProvider } from "@vitest/coverage-v8/dist/provider.js";
import type { Profiler } from "node:inspector";
import type { CoverageProviderModule, ReportContext, Vitest } from "vitest/node";

/**
 * vitest's V8 coverage, plus what it cannot see:
 * - the processes the tests spawn (dev server, Compose server, CLI): child-env.ts preloads
 *   child-coverage.mjs into them, which writes each one's V8 coverage with the code it ran to
 *   coverage/.children;
 * - the gallery in Chromium (the browser project): its tests write the page's V8 coverage there
 *   too, with the built script and its source map (packages/web/test/browser/support).
 * Each is converted exactly as vitest converts its own (the same AST remapping, through the
 * code's source map to the TypeScript), so statements, branches and functions line up and add.
 */
interface ScriptWithSource {
  url: string;
  functions: Profiler.FunctionCoverage[];
  source: string;
  /** A separate source map (a vite build's .map), when the source has none inline. */
  map?: RawMap;
}
interface RawMap {
  sources: string[];
  [key: string]: unknown;
}

const ROOT = resolve(import.meta.dirname, "../../../../..");
export const CHILD_COVERAGE_DIR = join(ROOT, "coverage/.children");

const INLINE_MAP = /\/\/# sourceMappingURL=data:application\/json;(?:charset=utf-8;)?base64,([A-Za-z0-9+/=]+)\s*$/;

function inlineMapOf(source: string): RawMap | undefined {
  const match = INLINE_MAP.exec(source);
  return match ? (JSON.parse(Buffer.from(match[1]!, "base64").toString("utf8")) as RawMap) : undefined;
}

const readScripts = (dir: string): ScriptWithSource[] =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((name) => name.endsWith(".json"))
        .flatMap((name) => (JSON.parse(readFileSync(join(dir, name), "utf8")) as { result: ScriptWithSource[] }).result)
    : [];

type CoverageMap = Awaited<ReturnType<V8CoverageProvider["generateCoverage"]>>;
interface Position {
  line: number;
  column: number;
}
interface Range {
  start: Position;
  end: Position;
}
/** One file's data in an istanbul coverage map. */
interface FileData {
  statementMap: Record<string, Range>;
  s: Record<string, number>;
  fnMap: Record<string, { name: string; decl: Range; line: number }>;
  f: Record<string, number>;
  branchMap: Record<string, { loc: Range; line: number; locations: Range[] }>;
  b: Record<string, number[]>;
}

const dataOf = (map: CoverageMap, file: string) => (map.fileCoverageFor(file) as unknown as { data: FileData }).data;
const where = ({ start, end }: Range) => `${start.line}:${start.column}-${end.line}:${end.column}`;

/** The largest of `counts` under each key. */
function maxBy<T>(entries: [T, number][], keyOf: (item: T) => string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [item, count] of entries) {
    const key = keyOf(item);
    out.set(key, Math.max(out.get(key) ?? 0, count));
  }
  return out;
}

/**
 * Adds `other`'s counts to `base`'s items: each item takes the count of the item at the same
 * place, else the largest count of those that start on its line (which keeps the line counts
 * exact: a line is covered when a statement starting on it ran). Items only `other` has are left out.
 */
function alignOnto(base: FileData, other: FileData): void {
  const statements = Object.entries(other.statementMap).map(
    ([id, range]) => [range, other.s[id] ?? 0] as [Range, number],
  );
  const statementAt = maxBy(statements, where);
  const statementOnLine = maxBy(statements, (range) => String(range.start.line));
  for (const [id, range] of Object.entries(base.statementMap)) {
    base.s[id] =
      (base.s[id] ?? 0) + (statementAt.get(where(range)) ?? statementOnLine.get(String(range.start.line)) ?? 0);
  }
  const functions = Object.entries(other.fnMap).map(([id, fn]) => [fn, other.f[id] ?? 0] as [typeof fn, number]);
  const functionAt = maxBy(functions, (fn) => where(fn.decl));
  const functionOnLine = maxBy(functions, (fn) => String(fn.line));
  for (const [id, fn] of Object.entries(base.fnMap)) {
    base.f[id] = (base.f[id] ?? 0) + (functionAt.get(where(fn.decl)) ?? functionOnLine.get(String(fn.line)) ?? 0);
  }
  const branches = Object.entries(other.branchMap).map(([id, branch]) => ({ branch, counts: other.b[id] ?? [] }));
  for (const [id, branch] of Object.entries(base.branchMap)) {
    const same =
      branches.find(
        (item) => where(item.branch.loc) === where(branch.loc) && item.counts.length === branch.locations.length,
      ) ?? branches.find((item) => item.branch.line === branch.line && item.counts.length === branch.locations.length);
    if (same) base.b[id] = (base.b[id] ?? []).map((count, index) => count + (same.counts[index] ?? 0));
  }
}

class MergedCoverageProvider extends V8CoverageProvider {
  override initialize(ctx: Vitest): void {
    super.initialize(ctx);
    rmSync(CHILD_COVERAGE_DIR, { recursive: true, force: true });
    // Inherited by vitest's workers, which hand it to the processes they spawn (child-env.ts).
    process.env.IMAGES_CHILD_COVERAGE_DIR = CHILD_COVERAGE_DIR;
  }

  override async generateCoverage(context: ReportContext): Promise<CoverageMap> {
    const coverageMap = await super.generateCoverage(context);
    const scripts = readScripts(CHILD_COVERAGE_DIR);
    const extra = this.createCoverageMap();
    // Processes that ran the same code add their counts (V8's ranges merged), then it is converted once.
    const distinct = new Map<string, ScriptWithSource[]>();
    for (const script of scripts) {
      const key = `${script.url}\0${script.source}`;
      distinct.set(key, [...(distinct.get(key) ?? []), script]);
    }
    for (const group of distinct.values()) {
      const { url, source } = group[0]!;
      const map = group[0]!.map ?? inlineMapOf(source);
      if (map) map.sources = map.sources.map((item) => new URL(item, url).href);
      const processes = group.map((script) => ({ result: [{ scriptId: "0", url, functions: script.functions }] }));
      const { functions } = mergeProcessCovs(processes).result[0]!;
      // remapCoverage is private in the provider's types; it is the conversion vitest's own coverage takes.
      extra.merge(await (this as any).remapCoverage(url, 0, { code: source, map }, functions));
    }
    // Counted on the statements, functions and branches vitest found in vite's transform of each
    // file, so a file counts the same whichever process ran it: tsx's output maps a few of them
    // elsewhere (an import line, a function's name), which an istanbul merge would add as more.
    for (const file of extra.files()) {
      if (!this.isIncluded(file)) continue;
      if (coverageMap.files().includes(file)) alignOnto(dataOf(coverageMap, file), dataOf(extra, file));
      else coverageMap.addFileCoverage(extra.fileCoverageFor(file));
    }
    return coverageMap;
  }
}

const provider: CoverageProviderModule = {
  ...v8,
  getProvider: () => new MergedCoverageProvider() as any,
};
export default provider;
