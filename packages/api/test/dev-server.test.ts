import { spawn, type ChildProcess } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyHash } from "@images/core/storage/object-store";
import { fixture } from "../../core/test/support/fixtures.ts";
import { signDevelopmentToken } from "../src/development-token.ts";
import { sha256 } from "./support/test-api.ts";
import { childCoverageEnv } from "../../core/test/support/v8-coverage/child-env.ts";

/**
 * `npm run dev` as a user runs it: a separate process on a real port, driven over HTTP
 * through the README's walkthrough, then stopped with Ctrl-C.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
let server: ChildProcess;
let base: string;
let output = "";

beforeAll(async () => {
  server = spawn(process.execPath, ["--import", "tsx", "packages/api/src/dev-server.ts"], {
    cwd: ROOT,
    env: { ...process.env, ...childCoverageEnv(), PORT: "0", VITEST: undefined, LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  base = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`dev server did not start:\n${output}`)), 30_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Images API\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match?.[1] && output.includes("Get a token")) {
        clearTimeout(timer);
        done(match[1]);
      }
    };
    server.stdout!.on("data", read);
    server.stderr!.on("data", read);
  });
});
afterAll(() => {
  if (server.exitCode === null) server.kill("SIGKILL");
});

describe("npm run dev", () => {
  it("serves the walkthrough end to end over HTTP", async () => {
    expect(output).toContain(`${base}/docs`);
    const auth = { authorization: `Bearer ${await signDevelopmentToken("alice")}` };
    expect(await (await fetch(`${base}/health`)).json()).toEqual({ status: "ok" });

    const form = new FormData();
    form.append("file", new Blob([fixture("FreshFlowerGPS.jpg")]), "FreshFlowerGPS.jpg");
    form.append("title", "Fresh flower");
    form.append("tags", "flowers,spring");
    const created = await fetch(`${base}/images/upload`, { method: "POST", headers: auth, body: form });
    expect(created.status).toBe(201);
    const image = (await created.json()) as { image_id: string; sha256: string; upload_time: string };

    const day = image.upload_time.slice(0, 10);
    for (const query of [
      "",
      "user_id=alice",
      "tag=spring",
      `from=${day}&to=${day}`,
      `user_id=alice&tag=flowers&from=${day}`,
    ]) {
      const page = (await (await fetch(`${base}/images?${query}`, { headers: auth })).json()) as {
        items: { image_id: string }[];
      };
      expect(
        page.items.map((i) => i.image_id),
        query,
      ).toContain(image.image_id);
    }

    const got = (await (await fetch(`${base}/images/${image.image_id}`, { headers: auth })).json()) as {
      download_url: string;
      renditions: { url: string; size_bytes: number }[];
    };
    // The renditions come from the dev server's own CDN twin, over a real socket.
    expect(got.renditions.length).toBeGreaterThan(0);
    const folder = `${base}/media/renditions/${keyHash(image.image_id)}/${image.image_id}/`;
    for (const rendition of got.renditions) {
      expect(rendition.url.startsWith(folder)).toBe(true);
      const answer = await fetch(rendition.url);
      expect([answer.status, answer.headers.get("content-type")]).toEqual([200, "image/webp"]);
      expect((await answer.arrayBuffer()).byteLength).toBe(rendition.size_bytes);
    }
    const download = await fetch(got.download_url);
    expect(download.headers.get("content-type")).toBe("image/jpeg");
    const bytes = new Uint8Array(await download.arrayBuffer());
    expect(sha256(bytes)).toBe(image.sha256);
    expect((await sharp(bytes).metadata()).exif).toBeUndefined();

    const edited = await fetch(`${base}/images/${image.image_id}`, {
      method: "PATCH",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ title: "Renamed", tags: ["flowers"] }),
    });
    expect(await edited.json()).toMatchObject({ title: "Renamed", tags: ["flowers"] });

    expect((await fetch(`${base}/images/${image.image_id}`, { method: "DELETE", headers: auth })).status).toBe(204);
    expect((await fetch(`${base}/images/${image.image_id}`, { headers: auth })).status).toBe(404);
    expect((await fetch(got.download_url)).status).toBe(404);
    expect((await fetch(got.renditions[0]!.url)).status).toBe(404);
  });

  it("stops cleanly on Ctrl-C", async () => {
    const exited = new Promise<number | null>((done) => server.once("exit", (code) => done(code)));
    server.kill("SIGINT");
    expect(await exited).toBe(0);
  });
});
