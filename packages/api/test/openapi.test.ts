import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "./support/test-api.ts";

let t: TestApi;
type Operation = {
  security?: unknown[];
  parameters?: { name: string; in: string }[];
  requestBody?: { required?: boolean; content: Record<string, unknown> };
  responses: Record<string, { content?: Record<string, unknown> }>;
};
let doc: {
  openapi: string;
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
      // Middleware shows up with wildcard paths; documents are not operations.
      .filter(
        (route) =>
          route.method !== "ALL" && !route.path.includes("*") && !["/openapi.json", "/docs"].includes(route.path),
      )
      .map((route) => `${route.method.toLowerCase()} ${route.path.replace(/:([a-z_]+)/g, "{$1}")}`);
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method} ${path}`),
    );
    expect(new Set(served)).toEqual(new Set(documented));
    expect(documented.sort()).toEqual(
      [
        "delete /images/{image_id}",
        "get /health",
        "get /images",
        "get /images/{image_id}",
        "patch /images/{image_id}",
        "post /images/upload",
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

  it("documents the parameters, bodies and statuses of API.md", () => {
    const list = doc.paths["/images"]!.get!;
    expect(list.parameters!.map((p) => p.name).sort()).toEqual(["cursor", "from", "limit", "tag", "to", "user_id"]);
    const upload = doc.paths["/images/upload"]!.post!;
    expect(upload.requestBody!.required).toBe(true);
    expect(Object.keys(upload.requestBody!.content).sort()).toEqual(["application/json", "multipart/form-data"]);
    expect(upload.parameters!.map((p) => p.name)).toContain("idempotency-key");
    expect(Object.keys(upload.responses).sort()).toEqual([
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
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(["Image", "ImageWithLinks", "ImagePage", "Problem"]),
    );
  });

  it("is rendered by Scalar at /docs", async () => {
    const response = await t.call("GET", "/docs", { user: null });
    expect(response.headers.get("content-type")).toContain("text/html");
    expect(await response.text()).toContain("/openapi.json");
  });
});
