import type { GalleryApi, Image, ListedImage } from "./api.ts";
import { formatDate, h } from "./dom.ts";
import { announce } from "./messages.ts";
import { tilePicture } from "./picture.ts";
import { problemLines, toProblem } from "./problem.ts";

export interface TrashView {
  element: HTMLElement;
  /** Lists the visitor's trash again, first page (when opened, and after a trash). */
  refresh(): void;
}

/**
 * "Recently deleted": the visitor's own trashed images, most recently trashed first, each with
 * when it is purged and a Restore button. Hidden until the visitor opens it; a restored image
 * goes back to the gallery (`onRestored`).
 */
export function trashView(api: GalleryApi, onRestored: (image: Image) => void): TrashView {
  const list = h("ul", { class: "trash-grid", "aria-label": "Recently deleted images, most recent first" });
  const summary = h("p", { class: "trash-summary", "aria-live": "polite" });
  const more = h("button", { type: "button", class: "trash-more", hidden: true }, "Load more");
  const problem = h("div", { class: "form-problem trash-problem", role: "alert", hidden: true });
  const toggle = h("button", { type: "button", "aria-expanded": "false", "aria-controls": "trash-body" }, "Show");
  const body = h("div", { id: "trash-body", hidden: true }, summary, problem, list, more);
  let cursor: string | null = null;
  let shown = 0;
  let generation = 0;

  function describe() {
    summary.textContent =
      shown === 0
        ? "Nothing here. Images you move to the trash stay here until they are purged."
        : `${shown} image${shown === 1 ? "" : "s"} in the trash${cursor ? ", more below" : ""}.`;
    more.hidden = cursor === null;
  }

  async function load(first: boolean) {
    const mine = first ? ++generation : generation;
    more.disabled = true;
    if (first) summary.textContent = "Loading…";
    try {
      const page = await api.listTrash({ limit: 24, ...(first || !cursor ? {} : { cursor }) });
      if (mine !== generation) return;
      problem.hidden = true;
      if (first) {
        list.replaceChildren();
        shown = 0;
      }
      for (const image of page.items) list.append(item(image));
      shown += page.items.length;
      cursor = page.next_cursor;
      describe();
    } catch (error) {
      if (mine !== generation) return;
      problem.replaceChildren(...problemLines(toProblem(error)).map((line) => h("p", {}, line)));
      problem.hidden = false;
      summary.textContent = "The trash could not be listed.";
    } finally {
      more.disabled = false;
    }
  }

  function item(image: ListedImage): HTMLElement {
    const restore = h("button", { type: "button", class: "primary" }, "Restore");
    const entry = h(
      "li",
      { "data-image-id": image.image_id, class: "trash-item" },
      h(
        "div",
        { class: "thumb" },
        tilePicture(image),
        h("span", { class: "thumb-title" }, image.title),
        h(
          "span",
          { class: "thumb-meta" },
          image.purge_at ? `Kept until ${formatDate(image.purge_at)}` : `Trashed ${formatDate(image.trashed_at ?? "")}`,
        ),
      ),
      restore,
    );
    restore.setAttribute("aria-label", `Restore ${image.title}`);
    restore.addEventListener("click", async () => {
      restore.disabled = true;
      try {
        const restored = await api.restoreImage(image.image_id);
        entry.remove();
        shown--;
        describe();
        announce(`Restored ${image.title}`);
        onRestored(restored);
      } catch (error) {
        problem.replaceChildren(...problemLines(toProblem(error)).map((line) => h("p", {}, line)));
        problem.hidden = false;
        restore.disabled = false;
      }
    });
    return entry;
  }

  const open = () => body.hidden === false;
  toggle.addEventListener("click", () => {
    const opening = !open();
    body.hidden = !opening;
    toggle.setAttribute("aria-expanded", String(opening));
    toggle.textContent = opening ? "Hide" : "Show";
    if (opening) void load(true);
  });
  more.addEventListener("click", () => void load(false));

  const element = h(
    "section",
    { class: "panel trash", "aria-labelledby": "trash-heading" },
    h("div", { class: "panel-heading" }, h("h2", { id: "trash-heading" }, "Recently deleted"), toggle),
    body,
  );
  return {
    element,
    refresh() {
      if (open()) void load(true);
    },
  };
}
