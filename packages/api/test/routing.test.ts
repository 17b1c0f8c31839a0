import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tinyPng } from "../../core/test/support/fixtures.ts";
import { problemOf, startTestApi, type TestApi } from "./support/test-api.ts";

/**
 * Every path and method: a path the API has answers its methods, 405 with the right Allow for
 * any other, and OPTIONS; a path it does not have answers 404 whatever the method. HEAD is
 * served wherever GET is. Each answer carries the server's own request id.
 */
const ORIGIN = "https://gallery.example";
const lines: string[] = [];
let t: TestApi;
let cors: TestApi;
let imageId: string;
beforeAll(async () => {
  t = await startTestApi({}, { write: (line) => lines.push(line) });
  cors = await startTestApi({ CORS_ALLOWED_ORIGINS: ORIGIN });
  const response = await t.upload("alice", await tinyPng(5), { title: "routed" });
  imageId = ((await response.json()) as { image_id: string }).image_id;
});
afterAll(async () => {
  await t?.stop();
  await cors?.stop();
});

const RESOURCES: [string, string][] = [
  ["/images", "GET, HEAD, OPTIONS"],
  ["/images/upload", "OPTIONS, POST"],
  ["/images/{id}", "DELETE, GET, HEAD, OPTIONS, PATCH"],
  ["/images/img_01ARZ3NDEKTSV4RRFFQ69G5FAV", "DELETE, GET, HEAD, OPTIONS, PATCH"],
  ["/health", "GET, HEAD, OPTIONS"],
  ["/openapi.json", "GET, HEAD, OPTIONS"],
  ["/docs", "GET, HEAD, OPTIONS"],
];
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"];
const path = (template: string) => template.replace("{id}", imageId);

describe("405 with Allow for every method a path does not have", () => {
  it.each(RESOURCES)("%s allows %s", async (template, allow) => {
    for (const method of METHODS.filter((m) => !allow.split(", ").includes(m))) {
      for (const user of ["alice", null]) {
        const response = await t.call(method, path(template), {
          user,
          json: ["GET", "HEAD"].includes(method) ? undefined : {},
        });
        expect([method, response.status]).toEqual([method, 405]);
        expect([method, response.headers.get("allow")]).toEqual([method, allow]);
        expect(response.headers.get("x-request-id")).toBeTruthy();
        if (method !== "HEAD") await problemOf(response, 405);
      }
    }
  });

  it("answers GET /images/upload with 405, not 415 and not a lookup of an image called 'upload'", async () => {
    const response = await t.call("GET", "/images/upload");
    const problem = await problemOf(response, 405);
    expect(response.headers.get("allow")).toBe("OPTIONS, POST");
    expect(problem.detail).toContain("GET");
  });
});

describe("404 for every path the API does not have, whatever the method", () => {
  it.each([
    "/images/x/y",
    `/images/${"img_01ARZ3NDEKTSV4RRFFQ69G5FAV"}/extra`,
    "/images/upload/more",
    "/images/",
    "/nothing-here",
    "/",
    "/health/",
    "/dev/token",
  ])("%s", async (target) => {
    for (const method of METHODS) {
      const response = await t.call(method, target, { json: ["GET", "HEAD"].includes(method) ? undefined : {} });
      expect([method, response.status]).toEqual([method, 404]);
      expect(response.headers.get("allow")).toBeNull();
      expect(response.headers.get("x-request-id")).toBeTruthy();
      if (method !== "HEAD") await problemOf(response, 404);
    }
  });
});

describe("HEAD and OPTIONS", () => {
  it("answers HEAD wherever GET answers, with GET's status and no body", async () => {
    for (const [target, status] of [
      ["/images", 200],
      [`/images/${imageId}`, 200],
      ["/images/img_01ARZ3NDEKTSV4RRFFQ69G5FAV", 404],
      ["/health", 200],
    ] as const) {
      const response = await t.call("HEAD", target);
      expect([target, response.status]).toEqual([target, status]);
      expect(await response.text()).toBe("");
    }
    expect((await t.call("HEAD", "/images", { user: null })).status).toBe(401);
  });

  it("answers OPTIONS with 204 and Allow on every path the API has, without a token", async () => {
    for (const [template, allow] of RESOURCES) {
      const response = await t.call("OPTIONS", path(template), { user: null });
      expect([template, response.status]).toEqual([template, 204]);
      expect(response.headers.get("allow")).toBe(allow);
    }
  });

  it("answers a CORS preflight for the configured origin on paths it has, with Allow; 404 elsewhere", async () => {
    const preflight = (target: string) =>
      cors.call("OPTIONS", target, {
        user: null,
        headers: {
          origin: ORIGIN,
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type",
        },
      });
    const upload = await preflight("/images/upload");
    expect(upload.status).toBe(204);
    expect(upload.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(upload.headers.get("allow")).toBe("OPTIONS, POST");
    await problemOf(await preflight("/images/x/y"), 404);
  });

  it("lets the configured origin read a 404 and a 405", async () => {
    for (const [method, target, status] of [
      ["GET", "/images/x/y", 404],
      ["GET", "/images/upload", 405],
    ] as const) {
      const response = await cors.call(method, target, { headers: { origin: ORIGIN } });
      expect(response.status).toBe(status);
      expect(response.headers.get("access-control-allow-origin")).toBe(ORIGIN);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    }
  });
});

describe("request ids", () => {
  const logged = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);

  it("keeps the server's own id in the logs and the answer, and logs the client's beside it", async () => {
    const response = await t.call("GET", "/images", { headers: { "x-request-id": "client-chosen-id" } });
    const own = response.headers.get("x-request-id");
    expect(own).toMatch(/^[0-9a-f-]{36}$/);
    const entry = logged().find((line) => line.event === "request" && line.requestId === own);
    expect(entry).toMatchObject({ requestId: own, clientRequestId: "client-chosen-id", status: 200 });
    expect(logged().some((line) => line.requestId === "client-chosen-id")).toBe(false);
  });

  it("bounds and sanitises the client's id, and never lets two requests share the server's", async () => {
    const long = await t.call("GET", "/images", { headers: { "x-request-id": `${"x".repeat(500)}` } });
    const odd = await t.call("GET", "/images", { headers: { "x-request-id": 'a"b\\c\u00e9{}' } });
    const same = await t.call("GET", "/images", { headers: { "x-request-id": 'a"b\\c\u00e9{}' } });
    const ids = [long, odd, same].map((response) => response.headers.get("x-request-id"));
    expect(new Set(ids).size).toBe(3);
    const entries = logged().filter((line) => ids.includes(line.requestId as string));
    expect(entries.map((entry) => entry.clientRequestId)).toEqual(["x".repeat(128), "a_b_c_{}", "a_b_c_{}"]);
  });

  it("logs 404 and 405 answers with their status and the server's id", async () => {
    const response = await t.call("GET", "/images/upload", { headers: { "x-request-id": "probe" } });
    expect(logged().find((line) => line.requestId === response.headers.get("x-request-id"))).toMatchObject({
      status: 405,
      clientRequestId: "probe",
      method: "GET",
      path: "/images/upload",
    });
  });
});
