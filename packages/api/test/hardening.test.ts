import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tinyPng } from "../../core/test/support/fixtures.ts";
import { problemOf, startTestApi, type TestApi } from "./support/test-api.ts";

const ORIGIN = "https://gallery.example";
const lines: string[] = [];
let t: TestApi;
beforeAll(async () => {
  t = await startTestApi(
    { UPLOAD_RATE_LIMIT_PER_MINUTE: "2", CORS_ALLOWED_ORIGINS: ORIGIN },
    { write: (line) => lines.push(line) },
  );
});
afterAll(async () => t?.stop());

describe("hardening", () => {
  it("limits uploads per user with 429 and Retry-After, storing nothing for the refused one", async () => {
    for (const seed of [1, 2]) expect((await t.upload("rita", await tinyPng(seed), { title: "ok" })).status).toBe(201);
    const before = await t.snapshot();
    const refused = await t.upload("rita", await tinyPng(3), { title: "one too many" });
    await problemOf(refused, 429);
    const wait = Number(refused.headers.get("retry-after"));
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60);
    expect(await t.snapshot()).toEqual(before);
    // Another user is not affected.
    expect((await t.upload("sam", await tinyPng(4), { title: "ok" })).status).toBe(201);
    const large = await t.call("POST", "/images/upload", {
      user: "rita",
      json: { title: "t", content_type: "image/png", size_bytes: 10 },
    });
    await problemOf(large, 429);
  });

  it("answers CORS for the configured origin only", async () => {
    const preflight = (origin: string) =>
      t.call("OPTIONS", "/images", {
        user: null,
        headers: { origin, "access-control-request-method": "GET", "access-control-request-headers": "authorization" },
      });
    const allowed = await preflight(ORIGIN);
    expect(allowed.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(allowed.headers.get("access-control-allow-headers")).toContain("authorization");
    const other = await preflight("https://evil.example");
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("logs one JSON line a request, each with its request id, and never a token or a signed link", async () => {
    const upload = await t.upload("tom", await tinyPng(9), { title: "logged" });
    const { image_id } = (await upload.json()) as { image_id: string };
    const got = await t.call("GET", `/images/${image_id}`, { user: "tom" });
    const { download_url } = (await got.json()) as { download_url: string };
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const request = entries.find((entry) => entry.event === "request" && entry.path === `/images/${image_id}`);
    expect(request).toMatchObject({
      method: "GET",
      status: 200,
      userId: "tom",
      requestId: got.headers.get("x-request-id"),
    });
    expect(entries.every((entry) => typeof entry.requestId === "string")).toBe(true);
    const all = lines.join("\n");
    expect(all).not.toMatch(/Bearer|eyJ|X-Amz-Signature/);
    expect(all).not.toContain(new URL(download_url).search);
  });
});
