import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startLocalAws, type LocalAws } from "@images/local";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tinyPng } from "../../core/test/support/fixtures.ts";
import { signDevelopmentToken } from "../src/development-token.ts";
import { childCoverageEnv } from "../../core/test/support/v8-coverage/child-env.ts";

/**
 * The Compose server (packages/api/src/server.ts) as docker-compose.yml runs it, here on the
 * embedded emulators in place of LocalStack: a separate process given only endpoints, serving its
 * renditions through the local CDN twin at PUBLIC_URL.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
let aws: LocalAws;
let server: ChildProcess;
let base: string;
let output = "";

const freePort = () =>
  new Promise<number>((done) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => done(port));
    });
  });

beforeAll(async () => {
  aws = await startLocalAws({ tableName: "compose-test", bucketName: "compose-test" });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(process.execPath, ["--import", "tsx", "packages/api/src/server.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...childCoverageEnv(),
      ...aws.env,
      HOST: "127.0.0.1",
      PORT: String(port),
      PUBLIC_URL: base,
      VITEST: undefined,
      AWS_ENDPOINT_GUARD: "local",
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  await new Promise<void>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`the Compose server did not start:\n${output}`)), 30_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('"event":"listening"')) {
        clearTimeout(timer);
        done();
      }
    };
    server.stdout!.on("data", read);
    server.stderr!.on("data", read);
  });
});
afterAll(async () => {
  if (server && server.exitCode === null) server.kill("SIGKILL");
  await aws?.stop();
});

describe("the Compose server", () => {
  it("stores an upload and serves its renditions from its own /media, checked as CloudFront checks them", async () => {
    const auth = { authorization: `Bearer ${await signDevelopmentToken("cora")}` };
    const form = new FormData();
    form.append("file", new Blob([await tinyPng(3)]), "tiny.png");
    form.append("title", "tiny");
    const created = await fetch(`${base}/images/upload`, { method: "POST", headers: auth, body: form });
    expect(created.status).toBe(201);
    const { image_id } = (await created.json()) as { image_id: string };
    const got = (await (await fetch(`${base}/images/${image_id}`, { headers: auth })).json()) as {
      renditions: { url: string; size_bytes: number }[];
    };
    const url = got.renditions[0]!.url;
    expect(url.startsWith(`${base}/media/`)).toBe(true);
    const answer = await fetch(url);
    expect(answer.status).toBe(200);
    expect((await answer.arrayBuffer()).byteLength).toBe(got.renditions[0]!.size_bytes);
    const first = /Signature=(.)/.exec(url)![1];
    expect((await fetch(url.replace(/Signature=./, `Signature=${first === "A" ? "B" : "A"}`))).status).toBe(403);
  });
});
