import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "./support/test-api.ts";

let t: TestApi;
type Content = Record<string, { example?: unknown; examples?: Record<string, { value?: unknown }> }>;
type Operation = {
  operationId?: string;
  summary?: string;
  description?: string;
  security?: unknown[];
  parameters?: { name: string; in: string; description?: string; example?: unknown; schema?: { example?: unknown } }[];
  requestBody?: { required?: boolean; content: Content };
  responses: Record<string, { content?: Content }>;
};
let doc: {
  openapi: string;
  servers: { url: string; variables?: Record<string, { default: string }> }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
};

beforeAll(async () => {
  t = await startTestApi();
  const response = await t.call("GET", "/openapi.json", { user: null });
  expect(response.status).toBe(200);
  doc = (await response.json()) as typeof doc;
});
afterAll(async () => t?.stop());

describe("the OpenAPI document", () => {
  it("is OpenAPI 3.1 and documents every route the app serves", () => {
    expect(doc.openapi).toBe("3.1.0");
    const served = t.app.routes
      // Middleware shows up with wildcard paths; the reference page's script is part of the page.
      .filter((route) => route.method !== "ALL" && !route.path.includes("*") && route.path !== "/docs/scalar.js")
      .map((route) => `${route.method.toLowerCase()} ${route.path.replace(/:([a-z_]+)/g, "{$1}")}`);
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method} ${path}`),
    );
    expect(new Set(served)).toEqual(new Set(documented));
    expect(documented.sort()).toEqual(
      [
        "delete /images/{image_id}",
        "get /docs",
        "get /health",
        "get /images",
        "get /images/{image_id}",
        "get /openapi.json",
        "patch /images/{image_id}",
        "post /images/upload",
        "post /images/check",
        "post /images/{image_id}/trash",
        "post /images/{image_id}/restore",
      ].sort(),
    );
  });

  it("puts every /images operation behind the bearer scheme, with its errors as problem JSON", () => {
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    for (const [path, ops] of Object.entries(doc.paths).filter(([path]) => path.startsWith("/images"))) {
      for (const [method, op] of Object.entries(ops)) {
        expect(op.security, `${method} ${path}`).toEqual([{ bearerAuth: [] }]);
        expect(op.responses["401"]?.content?.["application/problem+json"], `${method} ${path}`).toBeDefined();
      }
    }
  });

  it("names the local server and the deployed one", () => {
    expect(doc.servers[0]!.url).toBe("http://127.0.0.1:3000");
    const deployed = doc.servers[1]!;
    expect(deployed.url).toBe("https://{apiId}.execute-api.{region}.amazonaws.com");
    expect(Object.keys(deployed.variables!).sort()).toEqual(["apiId", "region"]);
  });

  it("gives every operation an operationId, a summary, a description and its security", () => {
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ name: `${method} ${path}`, path, op })),
    );
    const ids = operations.map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(operations.length);
    for (const { name, path, op } of operations) {
      expect(op.operationId, name).toMatch(/^[a-z][A-Za-z]+$/);
      expect(op.summary, name).toBeTruthy();
      expect(op.description, name).toBeTruthy();
      // API.md: /health, /openapi.json and /docs are public; every /images route takes the token.
      expect(op.security, name).toEqual(path.startsWith("/images") ? [{ bearerAuth: [] }] : []);
    }
  });

  it("gives an example for every parameter, request body and response", () => {
    const hasExample = (content: Content[string]) =>
      content.example !== undefined ||
      (content.examples !== undefined &&
        Object.values(content.examples).length > 0 &&
        Object.values(content.examples).every((example) => example.value !== undefined));
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const name = `${method} ${path}`;
        for (const parameter of op.parameters ?? []) {
          expect(parameter.description, `${name} ${parameter.name}`).toBeTruthy();
          expect(parameter.example ?? parameter.schema?.example, `${name} ${parameter.name}`).toBeDefined();
        }
        for (const [type, content] of Object.entries(op.requestBody?.content ?? {})) {
          expect(hasExample(content), `${name} body ${type}`).toBe(true);
        }
        for (const [status, response] of Object.entries(op.responses)) {
          if (status === "204") {
            expect(response.content, `${name} ${status}`).toBeUndefined();
            continue;
          }
          expect(Object.keys(response.content ?? {}), `${name} ${status}`).not.toHaveLength(0);
          for (const [type, content] of Object.entries(response.content!)) {
            expect(hasExample(content), `${name} ${status} ${type}`).toBe(true);
          }
        }
      }
    }
  });

  it("answers every error of an /images route with a problem example of its own status", () => {
    for (const [path, ops] of Object.entries(doc.paths).filter(([path]) => path.startsWith("/images"))) {
      for (const [method, op] of Object.entries(ops)) {
        for (const [status, response] of Object.entries(op.responses).filter(([status]) => Number(status) >= 400)) {
          const example = response.content?.["application/problem+json"]?.example as Record<string, unknown>;
          expect(example, `${method} ${path} ${status}`).toMatchObject({
            type: "about:blank",
            status: Number(status),
            title: expect.any(String),
            detail: expect.any(String),
          });
          if (status === "400") expect(example.errors, `${method} ${path} ${status}`).not.toHaveLength(0);
        }
      }
    }
  });

  it("shows the delivery fields: a placeholder and four renditions of a 4032x3024 photo, signed for CloudFront", () => {
    for (const name of ["ListedImage", "ImageWithLinks"]) {
      const example = (doc.components.schemas[name] as { example: Record<string, unknown> }).example;
      expect(example.placeholder, name).toMatch(/^[A-Za-z0-9+/]+=*$/);
      expect([example.width, example.height], name).toEqual([4032, 3024]);
      const renditions = example.renditions as { width: number; height: number; url: string }[];
      expect(renditions.map((r) => [r.width, r.height])).toEqual([
        [320, 240],
        [640, 480],
        [1080, 810],
        [2048, 1536],
      ]);
      for (const rendition of renditions) {
        expect(rendition.url).toMatch(
          new RegExp(
            `^https://d111111abcdef8\\.cloudfront\\.net/renditions/img_[0-9A-Z]{26}/${rendition.width}\\.webp` +
              "\\?Expires=\\d+&Key-Pair-Id=K[0-9A-Z]+&Signature=[A-Za-z0-9~_-]+$",
          ),
        );
      }
      expect(example.thumbnail_url).toBe(renditions[0]!.url);
    }
  });

  it("documents the parameters, bodies and statuses of API.md", () => {
    const list = doc.paths["/images"]!.get!;
    expect(list.parameters!.map((p) => p.name).sort()).toEqual([
      "cursor",
      "from",
      "limit",
      "tag",
      "to",
      "trashed",
      "user_id",
    ]);
    const upload = doc.paths["/images/upload"]!.post!;
    expect(upload.requestBody!.required).toBe(true);
    expect(Object.keys(upload.requestBody!.content).sort()).toEqual(["application/json", "multipart/form-data"]);
    expect(upload.parameters!.map((p) => p.name)).toEqual(expect.arrayContaining(["idempotency-key", "on_duplicate"]));
    expect(Object.keys(upload.responses).sort()).toEqual([
      "200",
      "201",
      "400",
      "401",
      "409",
      "413",
      "415",
      "422",
      "429",
      "503",
    ]);
    expect(Object.keys(doc.paths["/images/{image_id}"]!.get!.responses)).toEqual(
      expect.arrayContaining(["200", "404"]),
    );
    for (const action of ["trash", "restore"]) {
      expect(Object.keys(doc.paths[`/images/{image_id}/${action}`]!.post!.responses).sort()).toEqual([
        "200",
        "401",
        "404",
        "409",
        "503",
      ]);
    }
    const check = doc.paths["/images/check"]!.post!;
    expect(Object.keys(check.requestBody!.content)).toEqual(["application/json"]);
    expect(Object.keys(check.responses).sort()).toEqual(["200", "400", "401", "503"]);
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(["Image", "ImageWithLinks", "ImagePage", "Problem", "CheckRequest", "CheckResult"]),
    );
  });

  it("is rendered by Scalar at /docs", async () => {
    const response = await t.call("GET", "/docs", { user: null });
    expect(response.headers.get("content-type")).toContain("text/html");
    expect(await response.text()).toContain("/openapi.json");
  });
});
