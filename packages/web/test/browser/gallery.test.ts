import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ImageWithLinks } from "@images/client";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import sharp from "sharp";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tinyPng } from "../../../core/test/support/fixtures.ts";
import { FIXTURES_DIR, ROOT, startDevServer, type DevServer } from "../../../cli/test/support/dev-server.ts";
import { coverageBuildOptions, rememberBuild, startPageCoverage, writePageCoverage } from "./support/page-coverage.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "./support/chromium.ts";

/**
 * The web gallery end to end, as a person uses it, in Debian's Chromium (apt's `chromium`,
 * driven by playwright-core; no browser is downloaded) against `npm run dev`'s server: sign in,
 * upload real images by drop and by the file picker, filter by tag, open one, edit it, delete it.
 * Screenshots go to test/browser/screenshots/; SCREENSHOT_DOCS=1 also writes docs/gallery.png.
 */
const SHOTS = join(ROOT, "packages/web/test/browser/screenshots");
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };

let server: DevServer;
let context: BrowserContext;
let page: Page;
let profile: string;
const requests: { method: string; url: string }[] = [];
const consoleErrors: string[] = [];

async function shot(name: string, fullPage = false) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
}

/** A file dropped on the drop zone, as a person dragging it from their desktop would. */
async function dropFiles(names: string[], bytesOf = (name: string): Buffer => readFileSync(join(FIXTURES_DIR, name))) {
  const files = names.map((name) => ({
    name,
    type: name.endsWith(".png") ? "image/png" : name.endsWith(".webp") ? "image/webp" : "image/jpeg",
    base64: bytesOf(name).toString("base64"),
  }));
  const dataTransfer = await page.evaluateHandle((files) => {
    const transfer = new DataTransfer();
    for (const file of files) {
      const bytes = Uint8Array.from(atob(file.base64), (c) => c.charCodeAt(0));
      transfer.items.add(new File([bytes], file.name, { type: file.type }));
    }
    return transfer;
  }, files);
  await page.dispatchEvent("[data-testid=drop-zone]", "dragover", { dataTransfer });
  await page.dispatchEvent("[data-testid=drop-zone]", "drop", { dataTransfer });
}

const uploadRow = (name: string) => page.locator(".upload-row", { hasText: name });
const thumbnails = () => page.locator(".grid .thumb");
const dialog = () => page.getByRole("dialog", { name: /./ }).and(page.locator(".image-dialog"));

/** An image as GET /images/{id} answers it, with the signed-in visitor's token. */
async function imageAsApiAnswers(imageId: string): Promise<ImageWithLinks> {
  const token = await page.evaluate(() => JSON.parse(localStorage.getItem("images.session")!).token as string);
  const answer = await fetch(`${server.base}/images/${imageId}`, { headers: { authorization: `Bearer ${token}` } });
  return (await answer.json()) as ImageWithLinks;
}

const pathOf = (url: string) => new URL(url).pathname;

async function waitForThumbnails(count: number) {
  await page.waitForFunction(
    (count) => {
      const images = [...document.querySelectorAll<HTMLImageElement>(".grid img")];
      return images.length === count && images.every((img) => img.complete && img.naturalWidth > 0);
    },
    count,
    { timeout: 30_000 },
  );
}

beforeAll(async () => {
  // The gallery the dev server serves, built from the sources under test.
  rememberBuild(
    await build({
      root: join(ROOT, "packages/web"),
      configFile: join(ROOT, "packages/web/vite.config.ts"),
      logLevel: "warn",
      ...coverageBuildOptions(),
    }),
  );
  rmSync(SHOTS, { recursive: true, force: true });
  mkdirSync(SHOTS, { recursive: true });
  server = await startDevServer();
  profile = mkdtempSync(join(tmpdir(), "images-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: DESKTOP,
    args: CHROMIUM_ARGS,
  });
  // Only this machine's loopback: the page must need nothing else.
  await context.route("**/*", (route) => {
    const { hostname } = new URL(route.request().url());
    return hostname === "127.0.0.1" ? route.continue() : route.abort("blockedbyclient");
  });
  page = context.pages()[0] ?? (await context.newPage());
  await startPageCoverage(page);
  page.on("request", (request) => requests.push({ method: request.method(), url: request.url() }));
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(error.message));
});

afterAll(async () => {
  await writePageCoverage(join(ROOT, "packages/web/dist"));
  await context?.close();
  await server?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

describe("the web gallery in Chromium", () => {
  it("signs in by picking a user name, showing the API's problem for a bad one", async () => {
    await page.goto(server.base);
    const name = page.getByLabel("User name");
    await name.fill("not a name!");
    await page.getByRole("button", { name: "Sign in" }).click();
    const error = page.locator(".field-error", { hasText: "must be 1-128 letters" });
    await error.waitFor();
    expect(await name.getAttribute("aria-invalid")).toBe("true");
    await shot("01-sign-in-problem");

    await name.fill("alice");
    await name.press("Enter");
    await page.getByText("Signed in as").waitFor();
    expect(await page.locator(".account strong").textContent()).toBe("alice");
    await page.getByText("No images yet").waitFor();
  });

  it("uploads several files by drop and by the picker, each with a progress bar; large ones straight to S3", async () => {
    // What each upload row showed on its way, recorded as it changed.
    await page.evaluate(() => {
      const seen: Record<string, string[]> = {};
      (window as unknown as { uploadSteps: typeof seen }).uploadSteps = seen;
      new MutationObserver(() => {
        for (const row of document.querySelectorAll(".upload-row")) {
          const name = row.querySelector(".upload-name")!.textContent!;
          const step = `${row.querySelector(".upload-status")!.textContent} ${row.querySelector("progress")!.value}`;
          const steps = (seen[name] ??= []);
          if (steps.at(-1) !== step) steps.push(step);
        }
      }).observe(document.querySelector(".upload-list")!, {
        subtree: true,
        childList: true,
        characterData: true,
        attributes: true,
      });
    });

    await page.getByLabel("Tags").first().fill("flowers, garden");
    await dropFiles(["FreshFlower.jpg", "Spring.png", "wood-d.webp"]);
    for (const name of ["FreshFlower.jpg", "Spring.png", "wood-d.webp"]) {
      await uploadRow(name).locator(".upload-status", { hasText: "Ready" }).waitFor({ timeout: 30_000 });
    }

    await page.getByLabel("Tags").first().fill("safari");
    // The picker: the button opens it, and the chosen files arrive on its input.
    const chooser = page.waitForEvent("filechooser");
    await page.getByRole("button", { name: "Choose images…" }).click();
    await (await chooser).setFiles(join(FIXTURES_DIR, "Elephants_3840x2160.jpg"));
    const elephants = uploadRow("Elephants_3840x2160.jpg");
    await elephants.locator(".upload-status", { hasText: /Uploading|Checking|Ready/ }).waitFor();
    await elephants.locator(".upload-status", { hasText: "Ready" }).waitFor({ timeout: 60_000 });

    const bars = page.getByRole("progressbar");
    expect(await bars.count()).toBe(4);
    for (const bar of await bars.all())
      expect(await bar.evaluate((element: HTMLProgressElement) => element.value)).toBe(100);
    const steps = await page.evaluate(
      () => (window as unknown as { uploadSteps: Record<string, string[]> }).uploadSteps,
    );
    // XHR upload progress drove each bar; the large file was then checked by the service (polled).
    for (const name of ["FreshFlower.jpg", "Elephants_3840x2160.jpg"]) {
      expect(
        steps[name]?.some((step) => /^Uploading \d+% \d+$/.test(step)),
        steps[name]?.join(" | "),
      ).toBe(true);
      expect(steps[name]?.at(-1)).toBe("Ready 100");
    }
    expect(steps["Elephants_3840x2160.jpg"]).toContain("Checking… 100");

    // The 8 MB file went in the JSON mode: a presigned POST to the S3 emulator, not through the API.
    const uploads = requests.filter((request) => request.method === "POST");
    // Each asked first which files the visitor had (none), then sent them with on_duplicate=return.
    expect(uploads.filter((request) => request.url.startsWith(`${server.base}/images/upload`))).toHaveLength(4);
    expect(uploads.filter((request) => request.url === `${server.base}/images/check`)).toHaveLength(2);
    expect(uploads.some((request) => request.url.startsWith(server.s3))).toBe(true);

    await waitForThumbnails(4);
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot("02-uploads");

    // Newest first, as a fresh visit shows them.
    await page.reload();
    await waitForThumbnails(4);
    // The three dropped files went up together, in any order; the picked one after them.
    const titles = await thumbnails().locator(".thumb-title").allTextContents();
    expect(titles[0]).toBe("Elephants_3840x2160");
    expect(titles.slice(1).sort()).toEqual(["FreshFlower", "Spring", "wood-d"]);
    await shot("03-gallery", true);
    if (process.env.SCREENSHOT_DOCS === "1")
      copyFileSync(join(SHOTS, "03-gallery.png"), join(ROOT, "docs/gallery.png"));
  });

  it("keeps a failed upload's file name on screen, with the API's detail and each field error once", async () => {
    // The picker offers the formats the API takes, no others.
    expect(await page.getByLabel("Images to upload").getAttribute("accept")).toBe(
      "image/jpeg,image/png,image/webp,image/gif,image/avif,.jpg,.jpeg,.png,.webp,.gif,.avif",
    );
    const failedRow = () => page.locator(".upload-row.upload-failed").first();
    const nameShown = () =>
      failedRow()
        .locator(".upload-name")
        .evaluate((name: HTMLElement) => ({
          text: name.textContent,
          whole: name.scrollWidth <= name.clientWidth,
          width: name.getBoundingClientRect().width,
        }));

    // A file the API refuses, under a long name: the name stays whole beside a short status.
    const name = "holiday-2026-the-view-from-the-cliff-path.svg";
    const svg = readFileSync(join(FIXTURES_DIR, "oceans.svg")).toString("base64");
    const transfer = await page.evaluateHandle(
      ({ name, svg }) => {
        const data = new DataTransfer();
        data.items.add(new File([Uint8Array.from(atob(svg), (c) => c.charCodeAt(0))], name, { type: "image/svg+xml" }));
        return data;
      },
      { name, svg },
    );
    await page.dispatchEvent("[data-testid=drop-zone]", "drop", { dataTransfer: transfer });
    await failedRow()
      .locator(".upload-status", { hasText: /^Failed \(4\d\d\)$/ })
      .waitFor();
    expect(await nameShown()).toMatchObject({ text: name, whole: true });
    expect(await failedRow().locator(".upload-details li").count()).toBeGreaterThan(0);

    // Tags split on commas only: a space inside one is the API's field error, said once. (A file
    // not uploaded yet: one the visitor has is not sent at all, below.)
    await page.getByLabel("Tags").first().fill("garden party, flowers");
    const another = await sharp(join(FIXTURES_DIR, "FreshFlower.jpg")).jpeg({ quality: 70 }).toBuffer();
    await dropFiles(["FreshFlower.jpg"], () => another);
    const tagged = page.locator(".upload-row.upload-failed", { hasText: "FreshFlower.jpg" });
    await tagged.locator(".upload-status", { hasText: "Failed (400)" }).waitFor();
    expect(await tagged.locator(".upload-name").textContent()).toBe("FreshFlower.jpg");
    expect(await tagged.locator(".upload-details li").allTextContents()).toEqual([
      expect.stringMatching(/^tags\.0: must be 1-64 letters/),
    ]);
    await shot("02b-failed-uploads");
    await page.getByLabel("Tags").first().fill("");
    expect(consoleErrors.filter((text) => !/Failed to load resource/.test(text))).toEqual([]);
  });

  it("sends no byte of a file the visitor already has: the row says it is already uploaded", async () => {
    const before = requests.filter((request) => request.url.startsWith(`${server.base}/images/upload`)).length;
    await dropFiles(["Spring.png"]);
    const row = page.locator(".upload-row.upload-done", { hasText: "Spring.png" }).first();
    await row.locator(".upload-status", { hasText: "Already uploaded" }).waitFor();
    expect(await row.getAttribute("data-existing-image-id")).toMatch(/^img_/);
    expect(requests.filter((request) => request.url === `${server.base}/images/check`).length).toBeGreaterThan(0);
    expect(requests.filter((request) => request.url.startsWith(`${server.base}/images/upload`)).length).toBe(before);
    await waitForThumbnails(4);
  });

  it("filters by tag, with the filter in a shareable address", async () => {
    await page.getByRole("search").getByLabel("Tag").fill("safari");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.waitForURL(/\?tag=safari$/);
    await waitForThumbnails(1);
    expect(await page.locator(".summary").textContent()).toBe("1 image shown.");

    await page.reload();
    await waitForThumbnails(1);
    expect(await page.getByRole("search").getByLabel("Tag").inputValue()).toBe("safari");
    expect(await thumbnails().locator(".thumb-title").allTextContents()).toEqual(["Elephants_3840x2160"]);
    await shot("04-filtered-by-tag");

    // An impossible range is the API's problem, shown on the filter form.
    await page.getByRole("search").getByLabel("From").fill("2026-12-31");
    await page.getByRole("search").getByLabel("To").fill("2026-01-01");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.locator(".filters .form-problem").waitFor();
    expect(await page.locator(".filters .form-problem").textContent()).toMatch(/400 Bad Request/);
    expect(await page.getByRole("search").getByLabel("From").getAttribute("aria-invalid")).toBe("true");
    expect(await thumbnails().count()).toBe(0);
    await shot("05-filter-problem");
    await page.goto(`${server.base}/?tag=safari`);
    await waitForThumbnails(1);
  });

  it("opens an image by keyboard, edits it (showing field errors), and closes with Escape", async () => {
    await thumbnails().first().focus();
    await page.keyboard.press("Enter");
    await dialog().waitFor();
    await page.waitForURL(/image=img_/);
    await page.getByRole("heading", { name: "Elephants_3840x2160" }).waitFor();
    // The view shows a rendition (the 640 px one for its 630 CSS px at DPR 1), never the original,
    // which "Download original" offers.
    await page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>(".image-dialog img.full");
      return img?.complete && img.naturalWidth > 0;
    });
    const shown = await page.locator(".image-dialog img.full").evaluate((img: HTMLImageElement) => ({
      src: img.currentSrc,
      width: img.getBoundingClientRect().width,
    }));
    const viewed = await imageAsApiAnswers(new URL(page.url()).searchParams.get("image")!);
    const rendition = viewed.renditions.find((candidate) => pathOf(candidate.url) === pathOf(shown.src));
    expect(pathOf(shown.src)).toMatch(/^\/media\//);
    expect(rendition?.width).toBe(640);
    expect(rendition!.width).toBeGreaterThanOrEqual(shown.width);
    const original = dialog().getByRole("link", { name: "Download original" });
    expect(await original.getAttribute("href")).toMatch(new RegExp(`^${server.s3}/`));
    expect(await page.locator('dd[data-field="Pixels"]').textContent()).toBe("3840 × 2160");
    expect(await page.locator('dd[data-field="Owner"]').textContent()).toBe("alice");
    await shot("06-image-view");

    const tags = dialog().getByLabel("Tags");
    await tags.fill("safari, not ok!");
    await dialog().getByRole("button", { name: "Save changes" }).click();
    await dialog().locator(".field-error", { hasText: "must be 1-64 letters" }).waitFor();
    expect(await tags.getAttribute("aria-invalid")).toBe("true");
    expect(await dialog().locator(".field-error:not(:empty)").allTextContents()).toEqual([
      // Split on commas only: "not ok!" is the second tag, refused whole.
      expect.stringMatching(/^#2: must be 1-64 letters/),
    ]);
    await shot("07-edit-problem");

    await dialog().getByLabel("Title").fill("Elephants at dusk");
    await dialog().getByLabel("Description").fill("A family crossing the plain");
    await tags.fill("safari, africa");
    await dialog().getByRole("button", { name: "Save changes" }).click();
    await page.getByRole("heading", { name: "Elephants at dusk" }).waitFor();
    expect(await page.locator('dd[data-field="Tags"]').textContent()).toBe("safari, africa");
    expect(await page.locator('dd[data-field="Description"]').textContent()).toBe("A family crossing the plain");
    expect(await tags.getAttribute("aria-invalid")).toBeNull();

    await page.keyboard.press("Escape");
    await dialog().waitFor({ state: "hidden" });
    await page.waitForURL(/\?tag=safari$/);
    expect(await page.evaluate(() => document.activeElement?.getAttribute("data-image-id"))).toMatch(/^img_/);
    expect(await thumbnails().first().locator(".thumb-title").textContent()).toBe("Elephants at dusk");
  });

  it("deletes an image only after confirmation", async () => {
    await thumbnails().first().click();
    await page.getByRole("heading", { name: "Elephants at dusk" }).waitFor();
    const remove = page.getByRole("button", { name: "Delete image…" });
    const confirm = page.getByRole("alertdialog", { name: "Delete this image?" });

    await remove.click();
    await confirm.waitFor();
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Cancel");
    await shot("08-confirm-delete");
    await page.keyboard.press("Escape");
    await confirm.waitFor({ state: "hidden" });
    expect(await dialog().isVisible()).toBe(true);

    const imageId = new URL(page.url()).searchParams.get("image")!;
    await remove.click();
    await confirm.getByRole("button", { name: "Delete" }).click();
    await dialog().waitFor({ state: "hidden" });
    await page.getByText("No images match these filters.").waitFor();
    const token = await page.evaluate(() => JSON.parse(localStorage.getItem("images.session")!).token as string);
    const gone = await fetch(`${server.base}/images/${imageId}`, { headers: { authorization: `Bearer ${token}` } });
    expect(gone.status).toBe(404);
  });

  it("moves an image to Recently deleted, lists it there with its purge date, and restores it", async () => {
    await page.goto(server.base);
    await waitForThumbnails(3);
    const first = thumbnails().first();
    const title = (await first.locator(".thumb-title").textContent())!;
    const imageId = (await first.getAttribute("data-image-id"))!;
    await first.click();
    await page.getByRole("heading", { name: title }).waitFor();
    await page.getByRole("button", { name: "Move to trash" }).click();
    await dialog().waitFor({ state: "hidden" });
    await page.locator(`.grid .thumb[data-image-id="${imageId}"]`).waitFor({ state: "detached" });
    expect((await imageAsApiAnswers(imageId)).status).toBe("trashed");

    const trash = page.getByRole("region", { name: "Recently deleted" });
    await trash.getByRole("button", { name: "Show" }).click();
    const entry = trash.locator(`li[data-image-id="${imageId}"]`);
    await entry.waitFor();
    expect(await entry.locator(".thumb-meta").textContent()).toMatch(/^Kept until /);
    expect(await trash.locator(".trash-summary").textContent()).toBe("1 image in the trash.");
    await entry.scrollIntoViewIfNeeded();
    await shot("08b-recently-deleted");

    await trash.getByRole("button", { name: `Restore ${title}` }).click();
    await entry.waitFor({ state: "detached" });
    await trash.getByText("Nothing here.").waitFor();
    await page.locator(`.grid .thumb[data-image-id="${imageId}"]`).waitFor();
    const restored = await imageAsApiAnswers(imageId);
    expect(restored.status).toBe("ready");
    expect(restored.tags).toEqual(["flowers", "garden"]);
    expect(restored.renditions.length).toBeGreaterThan(0);
  });

  it("shows another user's image without edit or delete", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("User name").fill("bob");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("Signed in as").waitFor();
    await page.getByRole("search").getByLabel("Tag").fill("flowers");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await waitForThumbnails(3);
    await thumbnails().first().click();
    await page.locator('dd[data-field="Owner"]', { hasText: "alice" }).waitFor();
    expect(await page.getByRole("button", { name: "Delete image…" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: "Save changes" }).count()).toBe(0);
    await page.getByRole("button", { name: "Close" }).click();
    await dialog().waitFor({ state: "hidden" });
  });

  it("loads the next page as the end of the grid scrolls into view", async () => {
    // 30 small images from another user, through the API: more than one page (24).
    const { token } = (await (
      await fetch(`${server.base}/dev/token`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ user_id: "carol" }),
      })
    ).json()) as { token: string };
    for (let i = 0; i < 30; i++) {
      const form = new FormData();
      form.append("file", new Blob([new Uint8Array(await tinyPng(i))], { type: "image/png" }), `tiny-${i}.png`);
      form.append("title", `Tiny ${i}`);
      form.append("tags", "many");
      const answer = await fetch(`${server.base}/images/upload`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body: form,
      });
      expect(answer.status).toBe(201);
    }

    await page.goto(`${server.base}/?tag=many`);
    await page.locator(".summary", { hasText: "24 images shown, more below." }).waitFor();
    expect(await thumbnails().count()).toBe(24);
    expect(await thumbnails().first().locator(".thumb-title").textContent()).toBe("Tiny 29");
    await page.locator(".sentinel").scrollIntoViewIfNeeded();
    await page.locator(".summary", { hasText: "30 images shown." }).waitFor();
    expect(await thumbnails().last().locator(".thumb-title").textContent()).toBe("Tiny 0");
    expect(await page.getByRole("button", { name: "Load more" }).isVisible()).toBe(false);
    await page.goto(`${server.base}/?tag=flowers`);
  });

  it("names every control, shows where the focus is, and fits a phone's width", async () => {
    const tree = await page.locator("body").ariaSnapshot();
    const unnamed = tree
      .split("\n")
      .filter((line) => /- (button|link|textbox|searchbox|progressbar|dialog)\s*(\[|:|$)/.test(line.trim()));
    expect(unnamed, tree).toEqual([]);

    // From the top of a fresh page: the skip link first, then the controls in reading order.
    await page.reload();
    await waitForThumbnails(3);
    const focused: string[] = [];
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press("Tab");
      const outline = await page.evaluate(() => {
        const style = getComputedStyle(document.activeElement!);
        return `${style.outlineStyle} ${style.outlineWidth} ${document.activeElement!.outerHTML.slice(0, 80)}`;
      });
      expect(outline).not.toMatch(/^none|^\S+ 0px/);
      focused.push(
        await page.evaluate(
          () =>
            document.activeElement!.textContent?.trim() ||
            document.activeElement!.getAttribute("aria-label") ||
            (document.activeElement as HTMLInputElement).labels?.[0]?.textContent ||
            "",
        ),
      );
    }
    expect(focused.slice(0, 6)).toEqual([
      "Skip to the gallery",
      "Sign out",
      "Title",
      "Tags",
      "Choose images…",
      "Owner",
    ]);

    await page.setViewportSize(PHONE);
    await page.evaluate(() => window.scrollTo(0, 0));
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await shot("09-phone");
    await thumbnails().first().click();
    await dialog().waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await shot("10-phone-image");
    await page.keyboard.press("Escape");

    // The problems the tests asked for (400, 404, the 415 of a refused file) are the only errors.
    expect(consoleErrors.filter((text) => !/status of (40[04]|415)/.test(text))).toEqual([]);
  });
});

/** One image request of a page, as the DevTools protocol's Network domain saw it. */
interface ImageFetch {
  url: string;
  status: number;
  /** Answered from the HTTP cache, the memory cache, a prefetch or a service worker. */
  fromCache: boolean;
  /** `encodedDataLength`: what came over the network, headers included (0 from a cache). */
  bytes: number;
  done: boolean;
}

/** Records the http(s) image requests of a page through CDP (no routing: see below). */
async function watchImageFetches(target: Page) {
  const cdp = await target.context().newCDPSession(target);
  await cdp.send("Network.enable");
  let fetches = new Map<string, ImageFetch>();
  cdp.on("Network.requestWillBeSent", (event) => {
    if (event.type === "Image" && /^https?:/.test(event.request.url))
      fetches.set(event.requestId, { url: event.request.url, status: 0, fromCache: false, bytes: 0, done: false });
  });
  cdp.on("Network.requestServedFromCache", (event) => {
    const fetch = fetches.get(event.requestId);
    if (fetch) fetch.fromCache = true;
  });
  cdp.on("Network.responseReceived", (event) => {
    const fetch = fetches.get(event.requestId);
    if (!fetch) return;
    fetch.status = event.response.status;
    // (A memory-cache hit is reported by requestServedFromCache.)
    const { fromDiskCache, fromPrefetchCache, fromServiceWorker } = event.response;
    if (fromDiskCache || fromPrefetchCache || fromServiceWorker) fetch.fromCache = true;
  });
  cdp.on("Network.loadingFinished", (event) => {
    const fetch = fetches.get(event.requestId);
    if (!fetch) return;
    fetch.bytes = event.encodedDataLength;
    fetch.done = true;
  });
  cdp.on("Network.loadingFailed", (event) => {
    const fetch = fetches.get(event.requestId);
    if (fetch) fetch.done = true;
  });
  const all = () => [...fetches.values()];
  return {
    all,
    /** The requests that went over the network: not from any cache, and with bytes on the wire. */
    overNetwork: () => all().filter((fetch) => !fetch.fromCache && fetch.bytes > 0),
    reset: () => void (fetches = new Map()),
    /** Waits until every request seen so far has finished or failed. */
    async settled() {
      const deadline = Date.now() + 30_000;
      while (all().some((fetch) => !fetch.done) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(all().filter((fetch) => !fetch.done)).toEqual([]);
    },
  };
}

const sum = (numbers: number[]) => numbers.reduce((total, n) => total + n, 0);

/**
 * Delivery (issue 13): the grid's and the open view's `<img srcset sizes>` over the renditions,
 * the ThumbHash painted until a picture arrives, and what Chromium fetches. These contexts are
 * not routed, since Playwright turns the HTTP cache off in a routed context (request
 * interception); Chromium's host resolver keeps them on this machine's loopback instead.
 */
describe("delivery in Chromium: renditions, placeholders, the browser's cache", () => {
  const USER = "dave";
  let browser: Browser;
  let token: string;
  /** The 16 MP photo, as the API answered it once ready. */
  let large: ImageWithLinks;
  /** What was uploaded; the service stores the original re-encoded, `large.size_bytes`. */
  let uploadedBytes: number;

  const api = async (path: string, init: RequestInit = {}) =>
    fetch(`${server.base}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) },
    });

  /** A fresh context (its own empty cache) signed in as USER, as the sign-in form leaves it. */
  async function signedInContext(options: Parameters<Browser["newContext"]>[0]) {
    const context = await browser.newContext(options);
    const session = { token, userId: USER, label: USER, expiresAt: Date.now() + 30 * 60_000 };
    await context.addInitScript((session) => {
      localStorage.setItem("images.session", JSON.stringify(session));
    }, session);
    return context;
  }

  async function gridLoaded(target: Page, count: number) {
    await target.waitForFunction(
      (count) => {
        const images = [...document.querySelectorAll<HTMLImageElement>(".grid img")];
        return images.length === count && images.every((img) => img.complete && img.naturalWidth > 0);
      },
      count,
      { timeout: 30_000 },
    );
    return target.locator(".grid img").evaluateAll((images: HTMLImageElement[]) => images.map((img) => img.currentSrc));
  }

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_ARGS, "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
    });
    const answer = await fetch(`${server.base}/dev/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user_id: USER }),
    });
    token = ((await answer.json()) as { token: string }).token;

    for (const name of ["FreshFlower.jpg", "Spring.png", "wood-d.webp"]) {
      const form = new FormData();
      form.append("file", new Blob([new Uint8Array(readFileSync(join(FIXTURES_DIR, name)))]), name);
      form.append("title", name);
      expect((await api("/images/upload", { method: "POST", body: form })).status).toBe(201);
    }

    // A 16 MP photo (4899 × 3266, JPEG quality 90), straight to S3 in the JSON mode as the
    // gallery sends large files.
    const photo = await sharp(join(FIXTURES_DIR, "Elephants_3840x2160.jpg"))
      .resize(4899, 3266, { fit: "cover" })
      .jpeg({ quality: 90 })
      .toBuffer();
    uploadedBytes = photo.length;
    const started = (await (
      await api("/images/upload", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ title: "Elephants 16 MP", content_type: "image/jpeg", size_bytes: photo.length }),
      })
    ).json()) as { image: { image_id: string }; upload: { url: string; fields: Record<string, string> } };
    const form = new FormData();
    for (const [name, value] of Object.entries(started.upload.fields)) form.append(name, value);
    form.append("file", new Blob([new Uint8Array(photo)], { type: "image/jpeg" }), "elephants-16mp.jpg");
    const stored = await fetch(started.upload.url, { method: "POST", body: form });
    expect(stored.status, await stored.text()).toBeLessThan(300);
    for (const deadline = Date.now() + 60_000; ;) {
      large = (await (await api(`/images/${started.image.image_id}`)).json()) as ImageWithLinks;
      if (large.status !== "pending" || Date.now() > deadline) break;
      await new Promise((done) => setTimeout(done, 250));
    }
    expect(large).toMatchObject({ status: "ready", width: 4899, height: 3266 });
    expect(large.renditions.map((rendition) => rendition.width)).toEqual([320, 640, 1080, 2048]);
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("paints each tile's placeholder until its rendition arrives, over srcset and sizes", async () => {
    // Routed (so uncached): the renditions are held back until the placeholders have been seen.
    const context = await signedInContext({ viewport: DESKTOP });
    try {
      let release = () => {};
      let held = Promise.resolve();
      const hold = () => (held = new Promise<void>((done) => (release = done)));
      hold();
      await context.route(
        (url) => url.pathname.startsWith("/media/"),
        async (route) => {
          await held;
          await route.continue();
        },
      );
      const view = await context.newPage();
      await view.goto(`${server.base}/?user=${USER}`);
      await view.locator(".summary", { hasText: "4 images shown." }).waitFor();
      const listed = ((await (await api(`/images?user_id=${USER}`)).json()) as { items: ImageWithLinks[] }).items;
      const tiles = await view.locator(".grid img").evaluateAll((images: HTMLImageElement[]) =>
        images.map((img) => ({
          srcset: img.getAttribute("srcset"),
          sizes: img.getAttribute("sizes"),
          width: img.getAttribute("width"),
          height: img.getAttribute("height"),
          loading: img.getAttribute("loading"),
          decoding: img.getAttribute("decoding"),
          complete: img.complete && img.naturalWidth > 0,
          background: img.style.backgroundImage,
        })),
      );
      expect(tiles).toHaveLength(listed.length);
      tiles.forEach((tile, i) => {
        const image = listed[i]!;
        expect(tile).toMatchObject({
          srcset: image.renditions.map((rendition) => `${rendition.url} ${rendition.width}w`).join(", "),
          sizes: "auto, (max-width: 760px) 279px, 359px",
          width: String(image.width),
          height: String(image.height),
          loading: "lazy",
          decoding: "async",
          complete: false,
        });
        expect(image.placeholder).toEqual(expect.any(String));
        expect(tile.background).toMatch(/^url\("data:image\/png;base64,/);
      });
      await view.screenshot({ path: join(SHOTS, "11-placeholders.png") });

      release();
      await gridLoaded(view, listed.length);
      expect(
        await view
          .locator(".grid img")
          .evaluateAll((images: HTMLImageElement[]) => images.map((img) => img.style.backgroundImage || img.className)),
      ).toEqual(listed.map(() => ""));

      // The open view: the ladder, its sizes, the placeholder, and the original behind a link.
      hold();
      await view.goto(`${server.base}/?user=${USER}&image=${large.image_id}`);
      const full = view.locator(".image-dialog img.full");
      await full.waitFor();
      expect(await full.getAttribute("srcset")).toBe(
        large.renditions.map((rendition) => `${rendition.url} ${rendition.width}w`).join(", "),
      );
      expect(await full.getAttribute("sizes")).toMatch(/^\(max-width: 760px\) calc\(100vw - 58px\)/);
      expect(await full.evaluate((img: HTMLImageElement) => img.style.backgroundImage)).toMatch(/^url\("data:/);
      const download = view.getByRole("link", { name: "Download original" });
      expect(pathOf((await download.getAttribute("href"))!)).toBe(pathOf(large.download_url!));
      await view.screenshot({ path: join(SHOTS, "12-view-placeholder.png") });
      release();
      await view.waitForFunction(() => {
        const img = document.querySelector<HTMLImageElement>(".image-dialog img.full");
        return img?.complete && img.naturalWidth > 0 && img.style.backgroundImage === "";
      });
    } finally {
      await context.close();
    }
  });

  it("reloading the gallery fetches no image bytes over the network", async () => {
    const context = await signedInContext({ viewport: DESKTOP });
    try {
      const view = await context.newPage();
      const fetches = await watchImageFetches(view);
      const address = `${server.base}/?user=${USER}`;
      await view.goto(address);
      // Rendition URLs stay the same within a window (an hour); a reload that crosses into the
      // next one gets new URLs, so that measurement is taken again.
      for (let attempt = 1; ; attempt++) {
        const shown = await gridLoaded(view, 4);
        await fetches.settled();
        // The first visit did download every picture it shows.
        for (const src of shown) expect(fetches.overNetwork().map((fetch) => fetch.url)).toContain(src);
        const firstBytes = sum(fetches.overNetwork().map((fetch) => fetch.bytes));

        // page.reload() is what "reloading the gallery" means to a person (F5). Chromium then
        // revalidates the document only; the renditions (fresh for a year, immutable) come from
        // the cache without a request to the server. Navigating to the same address again
        // (page.goto, a link or the address bar) is measured too.
        fetches.reset();
        await view.reload();
        const reloaded = await gridLoaded(view, 4);
        await fetches.settled();
        const afterReload = fetches.overNetwork();

        fetches.reset();
        await view.goto(address);
        const revisited = await gridLoaded(view, 4);
        await fetches.settled();
        const afterGoto = fetches.overNetwork();

        if (attempt === 1 && (reloaded.join() !== shown.join() || revisited.join() !== shown.join())) {
          fetches.reset();
          await view.goto(address);
          continue;
        }
        console.log(
          `gallery of ${shown.length} images: first visit ${firstBytes} image bytes over the network; ` +
            `reload ${sum(afterReload.map((fetch) => fetch.bytes))} bytes in ${afterReload.length} requests; ` +
            `same address again ${sum(afterGoto.map((fetch) => fetch.bytes))} bytes in ${afterGoto.length} requests`,
        );
        expect(firstBytes).toBeGreaterThan(0);
        expect(reloaded).toEqual(shown);
        expect(afterReload).toEqual([]);
        expect(revisited).toEqual(shown);
        expect(afterGoto).toEqual([]);
        break;
      }
    } finally {
      await context.close();
    }
  });

  it("opening a 16 MP photo on a 390 px, DPR 3 phone fetches a rendition of at most 10% of the original", async () => {
    const context = await signedInContext({ viewport: PHONE, deviceScaleFactor: 3, isMobile: true, hasTouch: true });
    try {
      const view = await context.newPage();
      const fetches = await watchImageFetches(view);
      await view.goto(`${server.base}/?user=${USER}&image=${large.image_id}`);
      await view.waitForFunction(
        () => {
          const img = document.querySelector<HTMLImageElement>(".image-dialog img.full");
          return img?.complete && img.naturalWidth > 0;
        },
        undefined,
        { timeout: 30_000 },
      );
      const shown = await view.locator(".image-dialog img.full").evaluate((img: HTMLImageElement) => ({
        src: img.currentSrc,
        cssWidth: img.getBoundingClientRect().width,
      }));
      await fetches.settled();

      const rendition = large.renditions.find((candidate) => pathOf(candidate.url) === pathOf(shown.src));
      expect(rendition, shown.src).toBeDefined();
      // Enough pixels for the screen: the picture is about 332 CSS px wide, so 3x needs ~1000.
      expect(rendition!.width).toBeGreaterThanOrEqual(Math.round(shown.cssWidth * 3));
      const fetched = fetches.overNetwork().filter((fetch) => fetch.url === shown.src);
      expect(fetched).toHaveLength(1);
      const renditionBytes = fetched[0]!.bytes;
      // The original was never fetched.
      expect(fetches.all().filter((fetch) => fetch.url.startsWith(server.s3))).toEqual([]);

      console.log(
        `16 MP photo (${large.width}×${large.height}) at 390 px, DPR 3: fetched the ${rendition!.width}×${rendition!.height} ` +
          `rendition, ${renditionBytes} bytes over the network (size_bytes ${rendition!.size_bytes}); ` +
          `original ${large.size_bytes} bytes (uploaded ${uploadedBytes}): ` +
          `${((100 * renditionBytes) / large.size_bytes).toFixed(1)}%`,
      );
      expect(renditionBytes).toBeLessThanOrEqual(0.1 * large.size_bytes);
      await view.screenshot({ path: join(SHOTS, "13-phone-16mp.png") });
    } finally {
      await context.close();
    }
  });
});
