import { spawn } from "node:child_process";
import { createServer, type Server } from "node:net";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** `npm run dev` started on a port something else holds, as a separate process. */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
let busy: Server;
let port: number;

beforeAll(async () => {
  busy = createServer();
  await new Promise<void>((done) => busy.listen(0, "127.0.0.1", done));
  port = (busy.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((done) => busy.close(() => done())));

describe("npm run dev on a busy port", () => {
  it("says so in one line and exits 1, without a stack trace", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "packages/api/src/dev-server.ts"], {
      cwd: ROOT,
      env: { ...process.env, PORT: String(port), VITEST: undefined, LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    expect(code).toBe(1);
    // The AWS SDK's warning about Node 20, printed on every start there, is not the server's.
    const own = stderr.replace(/^\(node:\d+\) Warning: NodeVersionSupportWarning[\s\S]*?--trace-warnings[^\n]*\n/, "");
    expect(own.trim().split("\n")).toEqual([
      `Port ${port} on 127.0.0.1 is in use: stop what runs there, or choose another with PORT (PORT=3001 npm run dev).`,
    ]);
    expect(stdout).not.toContain("Images API");
  });
});
