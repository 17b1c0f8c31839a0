import { spawn, type ChildProcess } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createAwsClients, loadConfig } from "@images/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkStore } from "../../../audit/src/check-store.ts";
import { tinyPng } from "../../../core/test/support/fixtures.ts";
import { signDevelopmentToken } from "../../src/development-token.ts";
import { recordCounts } from "./support/counts.ts";
import { childCoverageEnv } from "../../../core/test/support/v8-coverage/child-env.ts";

/**
 * The dev server as a user runs it, in its own process, under 50 concurrent clients making
 * over 300 mixed uploads, lists, edits and deletes, some on the same images. No 5xx; every
 * acknowledged upload is listed and every acknowledged delete is gone; the store is clean.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
const CLIENTS = 50;
const OPERATIONS_PER_CLIENT = 7;
const USERS = ["u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9"];
const TAGS = ["red", "green", "blue", "hot"];

let server: ChildProcess;
let output = "";
let base = "";
let endpoints = { dynamo: "", s3: "" };
const tokens = new Map<string, string>();

beforeAll(async () => {
  server = spawn(process.execPath, ["--import", "tsx", "packages/api/src/dev-server.ts"], {
    cwd: ROOT,
    env: { ...process.env, ...childCoverageEnv(), PORT: "0", LOG_LEVEL: "warn", UPLOAD_RATE_LIMIT_PER_MINUTE: "100000" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  await new Promise<void>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`dev server did not start:\n${output}`)), 30_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const api = /Images API\s+(\S+)/.exec(output)?.[1];
      const dynamo = /DynamoDB\s+(\S+)/.exec(output)?.[1];
      const s3 = /S3\s+(\S+)/.exec(output)?.[1];
      if (api && dynamo && s3 && output.includes("Get a token")) {
        clearTimeout(timer);
        base = api;
        endpoints = { dynamo, s3 };
        done();
      }
    };
    server.stdout!.on("data", read);
    server.stderr!.on("data", read);
  });
  for (const user of USERS) tokens.set(user, await signDevelopmentToken(user));
});
afterAll(() => {
  server?.kill("SIGINT");
});

function random(seed: number) {
  let state = seed;
  return () => (state = (state * 48271) % 2147483647) / 2147483647;
}

describe("50 concurrent clients on the dev server", () => {
  it("never answers 5xx and loses nothing", async () => {
    const statuses: number[] = [];
    const uploaded = new Map<string, string>(); // image id -> owner
    const deleted = new Set<string>();
    const call = async (user: string, method: string, path: string, body?: RequestInit["body"], json = false) => {
      const headers: Record<string, string> = { authorization: `Bearer ${tokens.get(user)}` };
      if (json) headers["content-type"] = "application/json";
      const response = await fetch(`${base}${path}`, { method, headers, body });
      statuses.push(response.status);
      return response;
    };
    const upload = async (user: string, seed: number) => {
      const form = new FormData();
      form.append("file", new Blob([await tinyPng(seed)]));
      form.append("title", `image ${seed}`);
      form.append("tags", [TAGS[seed % 4], TAGS[(seed + 1) % 4]].join(","));
      const response = await call(user, "POST", "/images/upload", form);
      if (response.status === 201) uploaded.set(((await response.json()) as { image_id: string }).image_id, user);
      else await response.body?.cancel();
    };

    // Images many clients fight over: all of u0's, edited and deleted from several clients at once.
    for (let i = 0; i < 10; i++) await upload("u0", 1000 + i);
    const contested = [...uploaded.keys()];

    const client = async (index: number) => {
      const next = random(index + 1);
      const user = USERS[index % USERS.length]!;
      for (let op = 0; op < OPERATIONS_PER_CLIENT; op++) {
        const roll = next();
        const own = [...uploaded.entries()].filter(([, owner]) => owner === user).map(([id]) => id);
        const target =
          user === "u0" ? contested[Math.floor(next() * contested.length)] : own[Math.floor(next() * own.length)];
        if (roll < 0.35 || !target) {
          await upload(user, index * 100 + op);
        } else if (roll < 0.65) {
          const filters = [
            "",
            `user_id=${user}`,
            `tag=${TAGS[op % 4]}`,
            `user_id=u0&tag=hot`,
            `from=2020-01-01&limit=5`,
          ];
          await (await call(user, "GET", `/images?${filters[op % filters.length]}`)).body?.cancel();
        } else if (roll < 0.8) {
          const body = JSON.stringify({ title: `edited by client ${index}`, tags: [TAGS[op % 4]!, "edited"] });
          await (await call(user, "PATCH", `/images/${target}`, body, true)).body?.cancel();
        } else if (roll < 0.95) {
          const response = await call(user, "DELETE", `/images/${target}`);
          if (response.status === 204) deleted.add(target);
        } else {
          await (await call(user, "GET", `/images/${target}`)).body?.cancel();
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, index) => client(index)));

    const operations = statuses.length;
    const serverErrors = statuses.filter((status) => status >= 500);
    const allowed = new Set([200, 201, 204, 404, 409]);
    const unexpected = statuses.filter((status) => !allowed.has(status));

    // Every acknowledged upload that was not deleted is there and listed; every delete is gone.
    for (const [imageId, owner] of uploaded) {
      const response = await call(owner, "GET", `/images/${imageId}`);
      expect(response.status, imageId).toBe(deleted.has(imageId) ? 404 : 200);
      await response.body?.cancel();
    }
    for (const user of USERS) {
      const listed = new Set<string>();
      let cursor: string | null = null;
      do {
        const page = (await (
          await call(
            user,
            "GET",
            `/images?user_id=${user}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
          )
        ).json()) as {
          items: { image_id: string }[];
          next_cursor: string | null;
        };
        page.items.forEach((item) => listed.add(item.image_id));
        cursor = page.next_cursor;
      } while (cursor);
      const expected = [...uploaded].filter(([id, owner]) => owner === user && !deleted.has(id)).map(([id]) => id);
      expect([...listed].sort()).toEqual(expected.sort());
    }

    const config = loadConfig({
      TABLE_NAME: "images",
      BUCKET_NAME: "images",
      DYNAMODB_ENDPOINT: endpoints.dynamo,
      S3_ENDPOINT: endpoints.s3,
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      AWS_ENDPOINT_GUARD: "local",
    });
    const { dynamo, s3 } = createAwsClients(config);
    const report = await checkStore({ dynamo, s3, tableName: "images", bucketName: "images", verifyDigests: true });
    recordCounts({
      requests: operations,
      concurrent: operations,
      violations: report.violations.length,
      unexpected: unexpected.length,
    });
    console.log(
      `concurrency: ${operations} operations from ${CLIENTS} clients, ${uploaded.size} uploads, ${deleted.size} deletes, ` +
        `statuses ${JSON.stringify(Object.fromEntries([...new Set(statuses)].map((s) => [s, statuses.filter((x) => x === s).length])))}`,
    );
    expect(operations).toBeGreaterThanOrEqual(300);
    expect(serverErrors).toEqual([]);
    expect(unexpected).toEqual([]);
    expect(report.violations).toEqual([]);
  });
});
