/** Small helpers shared by the benchmark sections: child processes, statistics, the emulators. */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { dirname, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_DIR = resolve(BENCH_DIR, "..");
export const FIXTURES_DIR = resolve(REPO_DIR, "../shared/fixtures/images");

/**
 * Child processes run TypeScript through tsx, as `npm run dev` does. NODE_NO_WARNINGS hides the
 * AWS SDK's notice about Node 20, printed once per process, which says nothing about speed.
 */
export const TS_NODE_ARGS = ["--import", "tsx"];
export const childEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...process.env,
  NODE_NO_WARNINGS: "1",
  ...extra,
});

export const median = (values: number[]) => quantile(values, 0.5);

/** A small deterministic generator (mulberry32), so that every run seeds and models the same. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low);
}

/** Starts a child and resolves with the first line it prints on stdout (its "ready" line). */
export async function spawnWithReadyLine(
  args: string[],
  options: SpawnOptions = {},
): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, args, {
    cwd: REPO_DIR,
    env: childEnv(),
    stdio: ["pipe", "pipe", "inherit"],
    ...options,
  });
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, "exit").then(([code]) => {
    throw new Error(`${args.join(" ")} exited with ${code} before it was ready`);
  });
  const line = await Promise.race([once(lines, "line").then(([text]) => text as string), exited]);
  exited.catch(() => undefined);
  // Keep draining stdout so the child never blocks on a full pipe.
  lines.on("line", () => undefined);
  return { child, line };
}

/** Ends a child we started: closes its stdin (its signal to stop), then waits, then kills it. */
export async function stopChild(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.stdin?.end();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Runs `attempt` again, up to twice, when a child could not resolve a package: on a machine
 * shared with other work, an `npm install` next door briefly takes node_modules away.
 */
export async function retryWhileModulesMissing<T>(what: string, attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      const text = `${String(error)} ${(error as { stderr?: string }).stderr ?? ""}`;
      if (tries >= 3 || !/ERR_MODULE_NOT_FOUND|before it was ready/.test(text)) throw error;
      process.stderr.write(`  ${what}: a package was missing (node_modules being reinstalled?); again in 10 s\n`);
      await new Promise((done) => setTimeout(done, 10_000));
    }
  }
}

/** The embedded emulators (packages/local) in a child process of their own. */
export async function startEmulators(name: string) {
  const { child, line } = await retryWhileModulesMissing("emulators", () =>
    spawnWithReadyLine([...TS_NODE_ARGS, resolve(BENCH_DIR, "emulators.ts"), name]),
  );
  const env = JSON.parse(line) as Record<string, string>;
  return { env, child, stop: () => stopChild(child) };
}

/** A free port on the loopback interface. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise((done) => server.close(done));
  return port;
}

export const ms = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : "n/a");
export const ratio = (value: number, digits = 2) => (Number.isFinite(value) ? `${value.toFixed(digits)}×` : "n/a");
export const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
export const mib = (bytes: number, digits = 1) => `${(bytes / 1024 / 1024).toFixed(digits)} MiB`;
export const count = (value: number) => value.toLocaleString("en-US");

/** Markdown table from a header row and data rows. */
export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.map(String).join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** One figure compared with its target, for the summary. */
export interface TargetCheck {
  section: string;
  what: string;
  value: string;
  target: string;
  met: boolean;
}

export interface SectionResult {
  title: string;
  markdown: string;
  checks: TargetCheck[];
  /** Raw numbers, kept in bench/.out/results.json for anyone who wants to compare runs. */
  data: unknown;
}

/** A multipart upload body built by hand, as a client sends it: the fields, then the file. */
export function multipart(fields: Record<string, string>, file: { name: string; type: string; bytes: Buffer }) {
  const boundary = `----bench${Date.now().toString(16)}`;
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  parts.push(
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\n` +
        `Content-Type: ${file.type}\r\n\r\n`,
    ),
    file.bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  );
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}
