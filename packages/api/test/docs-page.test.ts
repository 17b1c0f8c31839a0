import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { OpenAPIHono } from "@hono/zod-openapi";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalAws } from "../../local/src/index.ts";
import { deployedBuildOptions } from "../../../infra/bundle/build-options.mjs";
import type { AppEnv } from "../src/app-env.ts";
import { registerDocs, SCALAR_SCRIPT_PATH } from "../src/docs-page.ts";
import { installedScalarScript, LAMBDA_SCALAR_SCRIPT, scalarScriptCandidates } from "../src/docs-script.ts";
import { startTestApi, type TestApi } from "./support/test-api.ts";

const ROOT = join(import.meta.dirname, "../../..");
const SCRIPT = installedScalarScript();
let t: TestApi;
beforeAll(async () => {
  t = await startTestApi();
});
afterAll(async () => t?.stop());

const scriptSrc = (html: string) => /<script src="([^"]+)"/.exec(html)?.[1];

describe("/docs", () => {
  it("is a page that loads Scalar's script from this server, with nothing that reaches another host", async () => {
    const response = await t.call("GET", "/docs", { user: null });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    const html = await response.text();
    expect(scriptSrc(html)).toMatch(/^\/docs\/scalar\.js\?v=[0-9a-f]{16}$/);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).toContain('"url": "/openapi.json"');
    for (const setting of ['"withDefaultFonts": false', '"telemetry": false', '"disabled": true'])
      expect(html).toContain(setting);
  });

  it("serves the pinned package's script, cached for good under its hash, gzipped when asked", async () => {
    expect(SCRIPT.replaceAll("\\", "/")).toMatch(
      /\/node_modules\/@scalar\/api-reference\/dist\/browser\/standalone\.js$/,
    );
    const src = scriptSrc(await (await t.call("GET", "/docs", { user: null })).text())!;
    const plain = await t.call("GET", src, { user: null });
    expect(plain.status).toBe(200);
    expect(plain.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(plain.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect(Buffer.from(await plain.arrayBuffer()).equals(readFileSync(SCRIPT))).toBe(true);

    const zipped = await t.call("GET", src, { user: null, headers: { "accept-encoding": "gzip, br" } });
    expect(zipped.headers.get("content-encoding")).toBe("gzip");
    expect(zipped.headers.get("vary")).toBe("accept-encoding");
    const bytes = Buffer.from(await zipped.arrayBuffer());
    expect(bytes.length).toBeLessThan(readFileSync(SCRIPT).length / 3);
    expect(gunzipSync(bytes).equals(readFileSync(SCRIPT))).toBe(true);

    const again = await t.call("GET", src, { user: null, headers: { "if-none-match": plain.headers.get("etag")! } });
    expect(again.status).toBe(304);
    // Without the page's hash (an older page, or typed by hand) it is revalidated.
    const unversioned = await t.call("GET", SCALAR_SCRIPT_PATH, { user: null });
    expect(unversioned.headers.get("cache-control")).toBe("no-cache");
  });

  it("reads the Lambda package's copy first, and says so when no copy can be read", async () => {
    // infra/api.ts copies the file packages/api resolves, named from the repository's root.
    expect(installedScalarScript(join(ROOT, "packages/api/package.json"))).toBe(SCRIPT);
    expect(scalarScriptCandidates({ LAMBDA_TASK_ROOT: "/var/task" })).toEqual([
      join("/var/task", LAMBDA_SCALAR_SCRIPT),
      SCRIPT,
    ]);
    const app = new OpenAPIHono<AppEnv>();
    registerDocs(app, { scriptCandidates: () => ["/nowhere/standalone.js"] });
    const page = await app.request("/docs");
    expect(page.status).toBe(503);
    expect(await page.text()).toContain('<a href="/openapi.json">');
    const script = await app.request(SCALAR_SCRIPT_PATH);
    expect(script.status).toBe(503);
    expect(script.headers.get("content-type")).toBe("application/problem+json");
    expect(await script.json()).toMatchObject({
      detail: "the API reference's script is not deployed with this server",
    });
  });
});

describe("/docs in the deployed bundle", () => {
  it("serves the script copied beside the bundle (infra/api.ts copyFiles), which the bundle does not hold", async () => {
    const task = mkdtempSync(join(tmpdir(), "images-docs-bundle-"));
    const aws = await startLocalAws({ tableName: "docs-test", bucketName: "docs-test" });
    try {
      const { metafile } = await build({
        ...deployedBuildOptions,
        entryPoints: { index: join(ROOT, "packages/api/src/handlers/api.ts") },
        outdir: task,
        outExtension: { ".js": ".mjs" },
        metafile: true,
        logLevel: "error",
      });
      const bundled = Object.values(metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
      expect(bundled).toBeLessThan(1_200_000);
      const driver = join(task, "drive.mjs");
      writeFileSync(
        driver,
        `const { handler } = await import("./index.mjs");
const answers = [];
for (const path of ["/docs", "${SCALAR_SCRIPT_PATH}"]) {
  const r = await handler({ version: "2.0", routeKey: "$default", rawPath: path, rawQueryString: "",
    headers: { host: "api.test", "accept-encoding": "gzip" },
    requestContext: { http: { method: "GET", path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "t" },
      requestId: "t", routeKey: "$default", stage: "$default", timeEpoch: Date.now() }, isBase64Encoded: false }, {});
  answers.push({ status: r.statusCode, type: r.headers["content-type"], encoding: r.headers["content-encoding"],
    base64: r.isBase64Encoded, length: r.body.length, body: r.statusCode === 200 && path === "/docs" ? r.body : "" });
}
process.stdout.write("\\nANSWERS " + JSON.stringify(answers) + "\\n");`,
      );
      const answers = async () => {
        const env = {
          PATH: process.env.PATH,
          ...aws.env,
          AWS_ENDPOINT_GUARD: "local",
          LOG_LEVEL: "silent",
          LAMBDA_TASK_ROOT: task,
        };
        // Run from the task root, as Lambda does, where no node_modules can be found.
        const { stdout } = await promisify(execFile)(process.execPath, [driver], { env, cwd: task }).catch((error) => {
          // Its stderr quotes a line of the minified bundle: only the last lines say what failed.
          throw new Error(String(error.stderr).split("\n").slice(-8).join("\n").slice(-2000));
        });
        const line = stdout.split("\n").find((text) => text.startsWith("ANSWERS "))!;
        return JSON.parse(line.slice("ANSWERS ".length)) as Record<string, any>[];
      };
      // tmpdir() has no node_modules above it, so without the copy nothing can be read.
      const [missingPage, missingScript] = await answers();
      expect([missingPage!.status, missingScript!.status, missingScript!.type]).toEqual([
        503,
        503,
        "application/problem+json",
      ]);

      mkdirSync(join(task, "scalar"));
      copyFileSync(SCRIPT, join(task, LAMBDA_SCALAR_SCRIPT));
      const [page, script] = await answers();
      expect(page!.status).toBe(200);
      expect(page!.body).toMatch(/<script src="\/docs\/scalar\.js\?v=[0-9a-f]{16}"/);
      expect(script).toMatchObject({
        status: 200,
        type: "text/javascript; charset=utf-8",
        encoding: "gzip",
        base64: true,
      });
      // Within Lambda's 6 MB answer, as base64.
      expect(script!.length).toBeLessThan(6_000_000);
    } finally {
      await aws.stop();
      rmSync(task, { recursive: true, force: true });
    }
  });
});
