import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { serveStatic } from "@hono/node-server/serve-static";
import { Hono } from "hono";
import { UserId } from "@images/core";
import type { App } from "./app.ts";
import { signDevelopmentToken } from "./development-token.ts";
import { problemResponse } from "./problem.ts";

/** Where `npm run build -w @images/web` writes the gallery (`npm run dev` builds it first). */
export const GALLERY_DIR = join(import.meta.dirname, "../../web/dist");

/**
 * `npm run dev` only, never createApp (so never Lambda): the API, and beside it the built web
 * gallery at `/` and `POST /dev/token {"user_id"}`, which answers `{"token"}`: a development
 * token, so the page and the CLI can sign in locally by picking a user name.
 */
export function createDevelopmentSite(api: App, galleryDir = GALLERY_DIR) {
  const site = new Hono();

  site.post("/dev/token", async (c) => {
    const body = (await c.req.json().catch(() => undefined)) as { user_id?: unknown } | undefined;
    const parsed = UserId.safeParse(body?.user_id);
    if (!parsed.success) {
      const message = parsed.error.issues[0]?.message ?? "is required";
      return problemResponse(400, `user_id: ${message}`, { issues: [{ path: "user_id", message }] });
    }
    return c.json({ user_id: parsed.data, token: await signDevelopmentToken(parsed.data) }, 201);
  });
  site.all("/dev/token", (c) =>
    c.req.method === "OPTIONS"
      ? c.body(null, 204, { allow: "OPTIONS, POST" })
      : problemResponse(405, `${c.req.method} is not allowed here; use OPTIONS, POST`, {
          headers: { allow: "OPTIONS, POST" },
        }),
  );

  const index = join(galleryDir, "index.html");
  if (existsSync(index)) {
    // serveStatic resolves `root` against the working directory.
    const root = relative(process.cwd(), galleryDir) || ".";
    site.get("/", async (c) => c.html(await readFile(index, "utf8")));
    site.get("/assets/*", serveStatic({ root }));
    site.get("/favicon.svg", serveStatic({ root }));
  } else {
    site.get("/", (c) =>
      c.html(
        "<!doctype html><title>Images</title><p>The gallery is not built: run <code>npm run dev</code> (it builds it), or <code>npm run build -w @images/web</code>.</p>",
      ),
    );
  }

  site.all("*", (c) => api.fetch(c.req.raw, c.env));
  return site;
}
