import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig, type ImageStore } from "@images/core";
import { createApp } from "../src/app.ts";
import { createTokenVerifier } from "../src/auth.ts";
import { createDevelopmentSite } from "../src/development-site.ts";
import { createLogger } from "../src/logger.ts";

/**
 * `POST /dev/token` and the gallery exist in `npm run dev` alone: the app that Lambda runs
 * (createApp) has neither, so no deployment can hand out tokens.
 */
const config = loadConfig({ TABLE_NAME: "t", BUCKET_NAME: "b" });
const store = new Proxy({} as ImageStore, {
  get: (_target, name) => (name === "health" ? async () => undefined : undefined),
});
const app = createApp({ config, store, logger: createLogger({ level: "silent" }) });

const gallery = mkdtempSync(join(tmpdir(), "images-gallery-"));
mkdirSync(join(gallery, "assets"));
writeFileSync(join(gallery, "index.html"), "<!doctype html><title>Images</title><main id=main></main>");
writeFileSync(join(gallery, "assets", "index-abc.js"), "console.log('gallery')");
afterAll(() => rmSync(gallery, { recursive: true, force: true }));

const tokenRequest = (userId: unknown) => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ user_id: userId }),
});

describe("the app Lambda runs", () => {
  it("has no development token route and no gallery", async () => {
    expect(app.routes.filter((route) => route.path.startsWith("/dev"))).toEqual([]);
    const token = await app.request("/dev/token", tokenRequest("alice"));
    expect(token.status).toBe(404);
    expect(await token.json()).toMatchObject({ status: 404, detail: "no route for POST /dev/token" });
    expect((await app.request("/")).status).toBe(404);
  });
});

describe("npm run dev's site", () => {
  const site = createDevelopmentSite(app, gallery);

  it("gives a development token the API accepts for the name picked", async () => {
    const answer = await site.request("/dev/token", tokenRequest("alice"));
    expect(answer.status).toBe(201);
    const { token, user_id } = (await answer.json()) as { token: string; user_id: string };
    expect(user_id).toBe("alice");
    expect(await createTokenVerifier({ kind: "development" })(token)).toBe("alice");
    const listed = await site.request("/images?limit=1", { headers: { authorization: `Bearer ${token}` } });
    expect(listed.status).not.toBe(401);
  });

  it("refuses a name that is not a user id with a problem naming the field", async () => {
    for (const userId of ["two words", "", 42, undefined]) {
      const answer = await site.request("/dev/token", tokenRequest(userId));
      expect(answer.status).toBe(400);
      expect(answer.headers.get("content-type")).toBe("application/problem+json");
      expect(await answer.json()).toMatchObject({ status: 400, errors: [{ path: "user_id" }] });
    }
  });

  it("serves the built gallery at / and its assets, and everything else from the API", async () => {
    const page = await site.request("/");
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await page.text()).toContain("<main id=main>");
    expect(await (await site.request("/assets/index-abc.js")).text()).toBe("console.log('gallery')");
    expect(await (await site.request("/health")).json()).toEqual({ status: "ok" });
    expect((await site.request("/images")).status).toBe(401);
    expect((await site.request("/assets/missing.js")).status).toBe(404);
  });

  it("answers 405 with Allow for another method on /dev/token", async () => {
    for (const method of ["GET", "PUT", "DELETE"]) {
      const answer = await site.request("/dev/token", { method });
      expect(answer.status).toBe(405);
      expect(answer.headers.get("allow")).toBe("OPTIONS, POST");
    }
  });

  it("says how to build the gallery when it is not built", async () => {
    const unbuilt = createDevelopmentSite(app, join(gallery, "nowhere"));
    expect(await (await unbuilt.request("/")).text()).toContain("npm run build -w @images/web");
  });
});
