import { fileSha256, type GalleryApi, type Image, type ImageWithLinks } from "./api.ts";
import { formatBytes } from "@images/client";
import { h, replaceChildren } from "./dom.ts";
import { announce, field } from "./messages.ts";
import { problemLines, toProblem } from "./problem.ts";
import { parseTags } from "./view-state.ts";

const CONCURRENT_UPLOADS = 3;

/** What the API takes (the hint below says so): the picker offers these files only. */
export const ACCEPTED_FILES = [
  "image/jpeg",
  "image/png",
  "image/webp",
  "image/gif",
  "image/avif",
  ".jpg",
  ".jpeg",
  ".png",
  ".webp",
  ".gif",
  ".avif",
].join(",");

/**
 * Upload by drag and drop or the file picker, several files at once, each with its own
 * progress bar and outcome. `onUploaded` gets each image that ends ready.
 */
export function uploadPanel(api: GalleryApi, onUploaded: (image: Image | ImageWithLinks) => void): HTMLElement {
  const title = field(
    "title",
    "Title",
    h("input", { type: "text", maxlength: "200" }),
    "Optional: each file's name when empty.",
  );
  const tags = field(
    "tags",
    "Tags",
    h("input", { type: "text", spellcheck: "false" }),
    "Comma-separated, e.g. beach, holiday",
  );
  const picker = h("input", {
    type: "file",
    multiple: true,
    accept: ACCEPTED_FILES,
    hidden: true,
    "aria-label": "Images to upload",
  });
  const choose = h("button", { type: "button", class: "primary", onclick: () => picker.click() }, "Choose images…");
  const list = h("ul", { class: "upload-list", "aria-label": "Uploads" });
  const zone = h(
    "div",
    { class: "drop-zone", "data-testid": "drop-zone" },
    h("p", {}, "Drop images here, or"),
    choose,
    picker,
    h("p", { class: "hint" }, "JPEG, PNG, WebP, GIF or AVIF. Files over 4 MiB go straight to storage."),
  );

  const queue: (() => Promise<void>)[] = [];
  let running = 0;
  const pump = () => {
    while (running < CONCURRENT_UPLOADS && queue.length > 0) {
      running++;
      void queue.shift()!().finally(() => {
        running--;
        pump();
      });
    }
  };

  /**
   * Asks which of the files the visitor already has (by sha256, before any byte is sent): those
   * are marked so and not sent. If the question fails, every file is sent, and on_duplicate=return
   * still stores none twice.
   */
  async function checkFirst(files: File[], rows: ReturnType<typeof uploadRow>[]) {
    rows.forEach((row) => row.setStatus("Checking…"));
    try {
      const digests = await Promise.all(files.map((file) => fileSha256(file)));
      const asked = digests.filter((digest): digest is string => digest !== null);
      const known = asked.length > 0 ? await api.knownDigests(asked) : new Map<string, string>();
      return digests.map((digest) => ({
        digest: digest ?? undefined,
        existing: digest ? known.get(digest) : undefined,
      }));
    } catch {
      return files.map(() => ({ digest: undefined, existing: undefined }));
    }
  }

  async function enqueue(files: File[]) {
    const metadata = { title: title.control.value.trim(), tags: parseTags(tags.control.value) };
    const rows = files.map((file) => uploadRow(file));
    for (const row of rows) list.prepend(row.element);
    const checked = await checkFirst(files, rows);
    for (const [index, file] of files.entries()) {
      const row = rows[index]!;
      const { digest, existing } = checked[index]!;
      if (existing) {
        row.done("Already uploaded");
        row.element.dataset.existingImageId = existing;
        announce(`${file.name} is already uploaded`);
        continue;
      }
      row.setStatus("Waiting");
      queue.push(async () => {
        try {
          const image = await api.uploadImage(
            file,
            { title: metadata.title || file.name.replace(/\.[^.]+$/, "") || file.name, tags: metadata.tags },
            {
              onPhase: (phase) => row.setStatus(phase === "checking" ? "Checking…" : "Uploading…"),
              onProgress: (sent, total) => row.setProgress(sent / total),
            },
            digest,
          );
          if (image.status === "ready") {
            row.done(`Ready`);
            announce(`${file.name} uploaded`);
            onUploaded(image);
          } else {
            row.fail("Refused", [image.failure_reason ?? "the file could not be used"]);
            announce(`${file.name} was refused`);
          }
        } catch (error) {
          const problem = toProblem(error);
          row.fail(problem.status ? `Failed (${problem.status})` : "Failed", problemLines(problem));
          announce(`${file.name} failed: ${problem.detail}`);
        }
      });
    }
    pump();
  }

  picker.addEventListener("change", () => {
    void enqueue([...(picker.files ?? [])]);
    picker.value = "";
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    void enqueue([...(event.dataTransfer?.files ?? [])]);
  });

  return h(
    "section",
    { class: "panel uploader", "aria-labelledby": "upload-heading" },
    h("h2", { id: "upload-heading" }, "Upload images"),
    h("div", { class: "upload-fields" }, title.element, tags.element),
    zone,
    list,
  );
}

/**
 * One file's row: its name (kept whole on screen, whatever the outcome), size, bar and a short
 * status; why it failed goes on a line of its own below, so a long detail never squeezes the name.
 */
function uploadRow(file: File) {
  const progress = h("progress", { max: "100", value: "0", "aria-label": `Upload of ${file.name}` });
  const status = h("span", { class: "upload-status" }, "Waiting");
  const details = h("div", { class: "upload-details" });
  const element = h(
    "li",
    { class: "upload-row" },
    h("span", { class: "upload-name", title: file.name }, file.name),
    h("span", { class: "upload-size" }, formatBytes(file.size)),
    progress,
    status,
    details,
  );
  return {
    element,
    setStatus: (text: string) => (status.textContent = text),
    setProgress(fraction: number) {
      const percent = Math.min(100, Math.round(fraction * 100));
      progress.value = percent;
      status.textContent = `Uploading ${percent}%`;
    },
    done(text: string) {
      progress.value = 100;
      status.textContent = text;
      element.classList.add("upload-done");
    },
    fail(text: string, lines: string[] = []) {
      status.textContent = text;
      element.classList.add("upload-failed");
      replaceChildren(details, lines.length > 0 ? h("ul", {}, ...lines.map((line) => h("li", {}, line))) : null);
    },
  };
}
