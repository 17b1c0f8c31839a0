import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatBytes } from "@images/client";
import { FIXTURES_DIR, ROOT, startDevServer, type DevServer } from "./support/dev-server.ts";
import { childCoverageEnv } from "../../core/test/support/v8-coverage/child-env.ts";

/**
 * The `images` command as a person runs it: its bin in a child process, against `npm run dev`'s
 * server in another, with its login kept in a throwaway config file.
 */
const BIN = join(ROOT, "packages/cli/bin/images.js");
const LARGE = "Elephants_3840x2160.jpg"; // 8 MB: over the 4 MiB multipart limit
const SMALL = "FreshFlower.jpg";

let server: DevServer;
let work: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function images(args: string[], config = "alice.json"): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: work,
      env: { ...process.env, ...childCoverageEnv(), IMAGES_CONFIG: join(work, config) },
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

/** Runs a command that must succeed, and answers its output. */
async function ok(args: string[], config?: string): Promise<string> {
  const run = await images(args, config);
  expect(run.code, `images ${args.join(" ")}\n${run.stderr}`).toBe(0);
  return run.stdout;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

interface Listed {
  image_id: string;
  title: string;
  user_id: string;
  tags: string[];
  sha256: string;
  width: number;
  upload_time: string;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "images-cli-"));
  mkdirSync(join(work, "photos/nested"), { recursive: true });
  copyFileSync(join(FIXTURES_DIR, SMALL), join(work, "photos", SMALL));
  copyFileSync(join(FIXTURES_DIR, LARGE), join(work, "photos/nested", LARGE));
  // Not an image name: a folder upload skips it.
  copyFileSync(join(FIXTURES_DIR, "oceans.svg"), join(work, "photos", "oceans.svg"));
  server = await startDevServer();
});

afterAll(async () => {
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("images (the CLI) against npm run dev", () => {
  it("asks for a login first", async () => {
    const run = await images(["list"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/not signed in .*images login/);
  });

  it("logs in with a development token, and refuses a bad name or a bad token with the API's detail", async () => {
    const refused = await images(["login", "--url", server.base, "--user", "not a name"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("user_id: must be 1-128 letters, digits or . _ @ + : -");

    const badToken = await images(["login", "--url", server.base, "--token", "abc.def.ghi"], "bad.json");
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toMatch(/token .*not valid.*401/);
    expect(() => statSync(join(work, "bad.json"))).toThrow();

    expect(await ok(["login", "--url", server.base, "--user", "alice"])).toContain(
      `signed in to ${server.base} as alice`,
    );
    const saved = JSON.parse(readFileSync(join(work, "alice.json"), "utf8")) as { base_url: string; token: string };
    expect(saved.base_url).toBe(server.base);
    expect(saved.token.split(".")).toHaveLength(3);
    expect(statSync(join(work, "alice.json")).mode & 0o777).toBe(0o600);
    await ok(["login", "--url", server.base, "--user", "bob"], "bob.json");
  });

  let small: Listed;
  let large: Listed;

  it("uploads a folder: the small file by multipart, the large one straight to S3", async () => {
    const run = await images([
      "upload",
      "photos",
      "--tag",
      "safari",
      "--tag",
      "CLI-Test",
      "--concurrency",
      "2",
      "--json",
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`skipped ${join("photos", "oceans.svg")}`);
    const outcomes = JSON.parse(run.stdout) as { file: string; image: Listed & { status: string } }[];
    expect(outcomes.map((outcome) => outcome.file)).toEqual([join("photos", SMALL), join("photos/nested", LARGE)]);
    for (const { image } of outcomes) {
      expect(image).toMatchObject({ status: "ready", user_id: "alice", tags: ["safari", "cli-test"] });
    }
    [small, large] = [outcomes[0]!.image, outcomes[1]!.image];
    expect(small.title).toBe("FreshFlower");
    expect(large).toMatchObject({ title: "Elephants_3840x2160", width: 3840 });
    // Only the straight-to-S3 path ends by reading the image back (GET, with its links).
    expect(large).toHaveProperty("download_url");
    expect(small).not.toHaveProperty("download_url");
  });

  it("reports each file the API refuses with its detail, and exits 1", async () => {
    writeFileSync(join(work, "notes.jpg"), "these are words, not a JPEG");
    const run = await images(["upload", "notes.jpg", join("photos", SMALL), "--title", "Second flower", "--again"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/failed +notes\.jpg/);
    expect(run.stderr).toMatch(/not JPEG, PNG, WebP, GIF or AVIF|not an accepted|415/);
    expect(run.stdout).toMatch(/ready +img_\w+ +photos\/FreshFlower\.jpg/);
    expect(run.stdout).toContain("1 uploaded, 1 failed");
  });

  it("lists with every filter, as a table or JSON, following cursors with --all", async () => {
    const day = new Date().toISOString().slice(0, 10);
    const byTag = JSON.parse(await ok(["list", "--tag", "cli-test", "--json"])) as {
      items: Listed[];
      next_cursor: string | null;
    };
    expect(byTag.items.map((image) => image.image_id).sort()).toEqual([large.image_id, small.image_id].sort());
    expect(byTag.next_cursor).toBeNull();
    const newestFirst = [...byTag.items].sort((a, b) => b.upload_time.localeCompare(a.upload_time));
    expect(byTag.items).toEqual(newestFirst);

    const combined = JSON.parse(
      await ok(["list", "--user", "alice", "--tag", "safari", "--from", day, "--to", day, "--json"]),
    ) as { items: Listed[] };
    expect(combined.items.map((image) => image.image_id)).toEqual(byTag.items.map((image) => image.image_id));

    expect(await ok(["list", "--user", "bob"])).toContain("no images match");

    const table = await ok(["list", "--tag", "safari"]);
    expect(table.split("\n")[0]).toMatch(/^ID +TITLE +OWNER +TAGS +UPLOADED +SIZE +PIXELS$/);
    expect(table).toMatch(new RegExp(`${large.image_id} +Elephants_3840x2160 +alice +safari,cli-test .*3840x2160`));

    const onePage = await images(["list", "--limit", "1"]);
    expect(onePage.stdout.trim().split("\n")).toHaveLength(2);
    expect(onePage.stderr).toMatch(/more: add --cursor \S+/);

    const all = JSON.parse(await ok(["list", "--limit", "1", "--all", "--json"])) as {
      items: Listed[];
      next_cursor: string | null;
    };
    expect(all.items).toHaveLength(3);
    expect(all.next_cursor).toBeNull();

    const bad = await images(["list", "--from", "2026-02-30"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/images: .*from.*\(400 Bad Request\)/);
  });

  it("gets an image's details, and its bytes with -o, checked against its sha256", async () => {
    const details = await ok(["get", large.image_id]);
    expect(details).toMatch(/^title: +Elephants_3840x2160$/m);
    expect(details).toMatch(/^pixels: +3840x2160$/m);
    expect(details).toMatch(/^download: +http:\/\/127\.0\.0\.1:\d+\//m);

    const saved = await ok(["get", large.image_id, "-o", "elephants.jpg"]);
    const bytes = readFileSync(join(work, "elephants.jpg"));
    expect(sha256(bytes)).toBe(large.sha256);
    expect(saved).toContain(`sha256 ${large.sha256}`);
    expect(bytes.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
  });

  it("saves the rendition nearest to --size on the long side, checked against its size_bytes", async () => {
    interface Rendition {
      width: number;
      height: number;
      size_bytes: number;
    }
    const renditionsOf = async (imageId: string) =>
      (JSON.parse(await ok(["get", imageId, "--json"])) as { renditions: Rendition[] }).renditions;
    const rungs = await renditionsOf(large.image_id);
    expect(rungs.map((rendition) => rendition.width)).toEqual([320, 640, 1080, 2048]);
    const isWebp = (bytes: Buffer) =>
      bytes.subarray(0, 4).toString("latin1") === "RIFF" && bytes.subarray(8, 12).toString("latin1") === "WEBP";
    const expectSaved = (stdout: string, file: string, rung: Rendition, size: number) => {
      expect(stdout).toBe(
        `saved ${file}: ${rung.width}x${rung.height} image/webp rendition (nearest to ${size} px), ` +
          `${formatBytes(rung.size_bytes)} (${rung.size_bytes} bytes)\n`,
      );
      const bytes = readFileSync(join(work, file));
      expect(bytes.byteLength).toBe(rung.size_bytes);
      expect(isWebp(bytes)).toBe(true);
    };

    // Between two rungs: the one above, under the default name.
    expectSaved(await ok(["get", large.image_id, "--size", "700"]), `${large.image_id}-1080.webp`, rungs[2]!, 700);
    // Exactly a rung, to a file of one's choice.
    expectSaved(await ok(["get", large.image_id, "--size", "640", "-o", "medium.webp"]), "medium.webp", rungs[1]!, 640);
    // Below the smallest: the smallest; above the largest: the largest.
    expectSaved(await ok(["get", large.image_id, "--size", "1"]), `${large.image_id}-320.webp`, rungs[0]!, 1);
    expectSaved(await ok(["get", large.image_id, "--size", "5000"]), `${large.image_id}-2048.webp`, rungs[3]!, 5000);
    // A 1600 px photo has no 2048 rung: its largest is 1080.
    const smallRungs = await renditionsOf(small.image_id);
    expect(smallRungs.map((rendition) => rendition.width)).toEqual([320, 640, 1080]);
    expectSaved(
      await ok(["get", small.image_id, "--size", "2048"]),
      `${small.image_id}-1080.webp`,
      smallRungs[2]!,
      2048,
    );

    // --json: the metadata on stdout, what was saved on stderr.
    const json = await images(["get", large.image_id, "--size", "320", "--json", "-o", "thumb.webp"]);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ image_id: large.image_id });
    expect(json.stderr).toContain("saved thumb.webp: 320x180 image/webp rendition");

    // Commander wraps the help to the terminal's width.
    const help = (await ok(["get", "--help"])).replace(/\s+/g, " ");
    expect(help).toContain(
      "--size <px> save the WebP rendition nearest to <px> on the long side: the smallest at or above it, else the largest",
    );
  });

  it("refuses a bad --size, and an unknown image, saving nothing", async () => {
    for (const size of ["abc", "0", "1.5"]) {
      const bad = await images(["get", large.image_id, "--size", size]);
      expect(bad.code, size).toBe(1);
      expect(bad.stderr).toMatch(/option '--size <px>' argument '.*' is invalid\. must be a whole number, 1 or more/);
      expect(bad.stdout).toBe("");
    }
    const unknown = "img_01ARZ3NDEKTSV4RRFFQ69G5FAV";
    const missing = await images(["get", unknown, "--size", "640"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("(404 Not Found)");
    expect(() => statSync(join(work, `${unknown}-640.webp`))).toThrow();
    const malformed = await images(["get", "not-an-id", "--size", "640"]);
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toMatch(/images: .*\((400 Bad Request|404 Not Found)\)/);
  });

  it("edits title, description and tags, and shows the API's field errors", async () => {
    const edited = await ok([
      "edit",
      small.image_id,
      "--title",
      "Spring flower",
      "--description",
      "From the garden",
      "--tag",
      "flowers",
      "--tag",
      "spring",
      "--json",
    ]);
    expect(JSON.parse(edited)).toMatchObject({
      title: "Spring flower",
      description: "From the garden",
      tags: ["flowers", "spring"],
    });
    const listed = JSON.parse(await ok(["list", "--tag", "spring", "--json"])) as { items: Listed[] };
    expect(listed.items.map((image) => image.image_id)).toEqual([small.image_id]);

    const invalid = await images(["edit", small.image_id, "--tag", "no spaces allowed"]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain("tags.0: must be 1-64 letters, digits, '_' or '-'");

    const notYours = await images(["edit", small.image_id, "--title", "Mine now"], "bob.json");
    expect(notYours.code).toBe(1);
    expect(notYours.stderr).toContain("(404 Not Found)");
  });

  it("removes an image, after which it is gone", async () => {
    expect(await ok(["rm", large.image_id])).toBe(`deleted ${large.image_id}\n`);
    const gone = await images(["get", large.image_id]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("(404 Not Found)");
    const again = await images(["rm", large.image_id]);
    expect(again.code).toBe(1);
  });
});
