import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { childCoverageEnv } from "../../core/test/support/v8-coverage/child-env.ts";
import { ROOT, startDevServer, type DevServer } from "./support/dev-server.ts";

/**
 * Uploading the same folder twice: the second run asks POST /images/check first and sends no
 * image byte. A proxy in front of `npm run dev`'s server counts the bytes each path receives.
 */
const BIN = join(ROOT, "packages/cli/bin/images.js");
let server: DevServer;
let proxy: http.Server;
let proxyBase: string;
let work: string;
const received = new Map<string, number>();

function images(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: work,
      env: { ...process.env, ...childCoverageEnv(), IMAGES_CONFIG: join(work, "config.json") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", fail);
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

/** Forwards every request to the dev server, adding up the body bytes it receives per path. */
function startCountingProxy(target: string): Promise<http.Server> {
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.on("data", (chunk: Buffer) => received.set(path, (received.get(path) ?? 0) + chunk.length));
    req.pipe(forward);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "images-cli-dup-"));
  mkdirSync(join(work, "album"));
  // 20 different real photos (small JPEGs and PNGs), as a folder from a phone might hold.
  for (let i = 0; i < 20; i++) {
    const picture = sharp({
      create: { width: 40 + i, height: 30, channels: 3, background: { r: 10 * i, g: 120, b: 200 - 5 * i } },
    });
    const bytes = i % 2 === 0 ? await picture.jpeg().toBuffer() : await picture.png().toBuffer();
    writeFileSync(join(work, "album", `photo-${String(i).padStart(2, "0")}.${i % 2 === 0 ? "jpg" : "png"}`), bytes);
  }
  server = await startDevServer();
  proxy = await startCountingProxy(server.base);
  proxyBase = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const login = await images(["login", "--url", proxyBase, "--user", "dup-tester"]);
  expect(login.code, login.stderr).toBe(0);
});

afterAll(async () => {
  await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("images upload of a folder it already uploaded", () => {
  it("sends 0 image bytes the second time: every file is known by its sha256", async () => {
    const first = await images(["upload", "album", "--concurrency", "4"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain("20 uploaded, 0 failed");
    const firstBytes = received.get("/images/upload") ?? 0;
    expect(firstBytes).toBeGreaterThan(20 * 500);

    received.clear();
    const second = await images(["upload", "album", "--concurrency", "4"]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain("0 uploaded, 20 already uploaded");
    expect(second.stdout.match(/^known +img_\w+ +album\/photo-\d\d\.(jpg|png)$/gm)).toHaveLength(20);
    // Counted at the server: nothing reached the upload endpoint; one check of 20 digests did.
    expect(received.get("/images/upload") ?? 0).toBe(0);
    const checked = received.get("/images/check") ?? 0;
    expect(checked).toBeGreaterThan(20 * 64);
    expect(checked).toBeLessThan(4096);

    const listed = JSON.parse((await images(["list", "--user", "dup-tester", "--json", "--limit", "100"])).stdout) as {
      items: unknown[];
    };
    expect(listed.items).toHaveLength(20);

    // --again sends them anyway.
    received.clear();
    const again = await images(["upload", join("album", "photo-00.jpg"), "--again"]);
    expect(again.stdout).toContain("1 uploaded, 0 failed");
    expect(received.get("/images/upload") ?? 0).toBeGreaterThan(500);
  });
});
