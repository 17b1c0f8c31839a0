import { spawn, type ChildProcess } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { childCoverageEnv } from "../../../core/test/support/v8-coverage/child-env.ts";

/** The repository's root, where `npm run dev` runs. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
/** The team's real images, beside the repository. */
export const FIXTURES_DIR = resolve(ROOT, "../shared/fixtures/images");

export interface DevServer {
  /** http://127.0.0.1:<port>: the API, the gallery at `/`, and POST /dev/token. */
  base: string;
  /** The S3 emulator's origin, which presigned links and POSTs name. */
  s3: string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * `npm run dev`'s server, as a separate process on a free port (the gallery is served when
 * packages/web/dist is built). Resolves once it prints its addresses.
 */
export async function startDevServer(): Promise<DevServer> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "packages/api/src/dev-server.ts"], {
    cwd: ROOT,
    env: { ...process.env, ...childCoverageEnv(), PORT: "0", VITEST: undefined, LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const addresses = await new Promise<{ base: string; s3: string }>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`the dev server did not start:\n${output}`)), 60_000);
    child.once("exit", (code) => fail(new Error(`the dev server exited (${code}):\n${output}`)));
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const base = /Images API\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
      const s3 = /S3\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
      if (base && s3 && output.includes("Get a token")) {
        clearTimeout(timer);
        done({ base, s3 });
      }
    };
    child.stdout!.on("data", read);
    child.stderr!.on("data", read);
  });
  return {
    ...addresses,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((done) => child.once("exit", () => done()));
      child.kill("SIGINT");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
