import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDevServer, type DevServer } from "../../../cli/test/support/dev-server.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "./support/chromium.ts";

/**
 * The API reference at /docs as a newcomer without internet sees it, in Debian's Chromium
 * against `npm run dev`: every request to a host other than 127.0.0.1 is aborted, and the page
 * must still render every operation, having asked no other host for anything (no CDN script,
 * no fonts, no telemetry).
 */

let server: DevServer;
let context: BrowserContext;
let page: Page;
let profile: string;
const requested: string[] = [];
const blocked: string[] = [];
const failed: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  server = await startDevServer();
  profile = mkdtempSync(join(tmpdir(), "images-chromium-docs-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: CHROMIUM_ARGS,
  });
  await context.route("**/*", (route) => {
    const url = route.request().url();
    requested.push(url);
    if (new URL(url).hostname === "127.0.0.1") return route.continue();
    blocked.push(url);
    return route.abort("blockedbyclient");
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("requestfailed", (request) => failed.push(`${request.url()} ${request.failure()?.errorText}`));
  page.on("pageerror", (error) => pageErrors.push(error.message));
});

afterAll(async () => {
  await context?.close();
  await server?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

describe("/docs in Chromium, offline", () => {
  it("renders every operation of /openapi.json with no request leaving the machine", async () => {
    const document = (await (await fetch(`${server.base}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { summary?: string }>>;
    };
    const summaries = Object.values(document.paths).flatMap((operations) =>
      Object.values(operations).map((operation) => operation.summary!),
    );
    expect(summaries.length).toBeGreaterThanOrEqual(6);

    await page.goto(`${server.base}/docs`);
    await page.getByRole("heading", { name: "Images API" }).first().waitFor({ timeout: 30_000 });
    for (const summary of summaries) await page.getByText(summary, { exact: true }).first().waitFor();
    // Its sidebar lists them as links too, and the first one's details are on the page.
    await page
      .getByRole("button", { name: /Test Request/ })
      .first()
      .waitFor();
    await page.waitForLoadState("networkidle");
    await page.screenshot({ path: join(tmpdir(), "images-docs-offline.png") });

    expect(blocked).toEqual([]);
    expect(requested.length).toBeGreaterThan(0);
    expect(requested.every((url) => new URL(url).hostname === "127.0.0.1")).toBe(true);
    expect(requested).toContain(`${server.base}/openapi.json`);
    expect(requested.some((url) => url.startsWith(`${server.base}/docs/scalar.js?v=`))).toBe(true);
    expect(failed).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
