import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXTURES_DIR, ROOT, startDevServer, type DevServer } from "./support/dev-server.ts";

/**
 * What a newcomer meets at the edges of `images`: --url and IMAGES_URL on every command,
 * --version, a logout that keeps the URL, one clear line for a missing path, `rm` naming the id
 * it could not delete, and each field error said once. Its bin in a child process against
 * `npm run dev`'s server, with a throwaway config file.
 */
const BIN = join(ROOT, "packages/cli/bin/images.js");
const VERSION = (JSON.parse(readFileSync(join(ROOT, "packages/cli/package.json"), "utf8")) as { version: string })
  .version;
/** Nothing listens there: a request to it fails at once. */
const NOWHERE = "http://127.0.0.1:9";

let server: DevServer;
let work: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function images(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: work,
      env: { ...process.env, IMAGES_URL: undefined, IMAGES_CONFIG: join(work, "config.json"), ...env },
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

async function ok(args: string[], env?: Record<string, string | undefined>): Promise<string> {
  const run = await images(args, env);
  expect(run.code, `images ${args.join(" ")}\n${run.stderr}`).toBe(0);
  return run.stdout;
}

const stored = () => JSON.parse(readFileSync(join(work, "config.json"), "utf8")) as Record<string, string>;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "images-cli-options-"));
  copyFileSync(join(FIXTURES_DIR, "FreshFlower.jpg"), join(work, "flower.jpg"));
  server = await startDevServer();
});
afterAll(async () => {
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("images, a newcomer's edges", () => {
  it("prints its version, and offers --url on every command", async () => {
    for (const flag of ["--version", "-V"]) expect(await ok([flag])).toBe(`${VERSION}\n`);
    for (const name of ["login", "logout", "upload", "list", "get", "edit", "rm"]) {
      expect(await ok([name, "--help"]), name).toMatch(/--url <base>\s+the API's base URL \(default: IMAGES_URL/);
    }
  });

  it("takes the API's URL from IMAGES_URL, and --url over it, on login and every other command", async () => {
    expect(await ok(["login", "--user", "alice"], { IMAGES_URL: server.base })).toContain(
      `signed in to ${server.base} as alice`,
    );
    expect(stored().base_url).toBe(server.base);
    // The kept URL by default; IMAGES_URL over it, --url over both.
    expect(await ok(["list", "--json"])).toContain('"items"');
    const elsewhere = await images(["list"], { IMAGES_URL: NOWHERE });
    expect([elsewhere.code, elsewhere.stderr]).toEqual([1, expect.stringMatching(/^images: cannot reach the API/)]);
    expect(await ok(["list", "--json", "--url", `${server.base}/`], { IMAGES_URL: NOWHERE })).toContain('"items"');
    const flagged = await images(["get", "img_x", "--url", NOWHERE]);
    expect(flagged.stderr).toMatch(/^images: cannot reach the API/);
  });

  it("says a missing path in one line", async () => {
    const upload = await images(["upload", "flower.jpg", "no-such.jpg"]);
    expect([upload.code, upload.stdout, upload.stderr]).toEqual([
      1,
      "",
      "images: no-such.jpg: no such file or folder\n",
    ]);

    const uploaded = JSON.parse(await ok(["upload", "flower.jpg", "--json"])) as { image: { image_id: string } }[];
    const id = uploaded[0]!.image.image_id;
    const save = await images(["get", id, "-o", join("no-folder", "photo.jpg")]);
    expect([save.code, save.stderr]).toEqual([
      1,
      `images: ${join("no-folder", "photo.jpg")}: no such file or folder\n`,
    ]);
    await ok(["rm", id]);
  });

  it("rm deletes what it can and names each id it could not", async () => {
    const uploaded = JSON.parse(await ok(["upload", "flower.jpg", "--json"])) as { image: { image_id: string } }[];
    const id = uploaded[0]!.image.image_id;
    const missing = "img_01JDX3M5Q8X6W7Y0Z9A1B2C3D4";
    const run = await images(["rm", missing, id]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe(`deleted ${id}\n`);
    expect(run.stderr).toMatch(new RegExp(`^images: ${missing} not deleted: .*\\(404 Not Found\\)\\n$`));
  });

  it("prints each field error once", async () => {
    const uploaded = JSON.parse(await ok(["upload", "flower.jpg", "--json"])) as { image: { image_id: string } }[];
    const id = uploaded[0]!.image.image_id;
    const one = await images(["edit", id, "--tag", "two words"]);
    expect(one.code).toBe(1);
    expect(one.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^images: tags\.0: .*\(400 Bad Request\)$/)]);

    const two = await images(["edit", id, "--title", " ", "--tag", "two words"]);
    const lines = two.stderr.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^images: title: .*\(400 Bad Request\)$/);
    expect(lines[1]).toMatch(/^images: {3}tags\.0: /);
    await ok(["rm", id]);
  });

  it("logout forgets the token and keeps the URL for the next login", async () => {
    expect(await ok(["logout"])).toBe(
      `signed out; ${server.base} is kept for the next images login (in ${join(work, "config.json")})\n`,
    );
    expect(stored()).toEqual({ base_url: server.base });
    const list = await images(["list"]);
    expect([list.code, list.stderr]).toEqual([
      1,
      expect.stringMatching(/^images: not signed in \(no token in .*\): run images login\n$/),
    ]);
    expect(await ok(["logout"])).toMatch(/^not signed in; /);
    expect(await ok(["login", "--user", "bob"])).toContain(`signed in to ${server.base} as bob`);
  });
});
