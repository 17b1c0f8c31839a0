import type { GalleryApi, Image, ListedImage } from "./api.ts";
import { formatDate, h } from "./dom.ts";
import { clearFormProblem, field, showFormProblem, type Field } from "./messages.ts";
import { tilePicture } from "./picture.ts";
import { toProblem } from "./problem.ts";
import { hasFilters, listQuery, viewStateSearch, type Filters } from "./view-state.ts";

export interface GalleryView {
  element: HTMLElement;
  /** Shows the first page for these filters (and puts them in the form). */
  show(filters: Filters): void;
  /** Shows the current filters' first page again (after an upload). */
  refresh(): void;
  replaceImage(image: Image): void;
  removeImage(imageId: string): void;
}

/**
 * The filter form (owner, tag, date range) and the grid of thumbnails, newest first; the next
 * page loads as the end of the grid scrolls into view (or by the "Load more" button).
 */
export function galleryView(
  api: GalleryApi,
  onFilter: (filters: Filters) => void,
  onOpen: (imageId: string, opener: HTMLElement) => void,
): GalleryView {
  const user = field("user_id", "Owner", h("input", { type: "text", spellcheck: "false", autocomplete: "off" }));
  const tag = field("tag", "Tag", h("input", { type: "text", spellcheck: "false", autocomplete: "off" }));
  const from = field("from", "From", h("input", { type: "date" }));
  const to = field("to", "To", h("input", { type: "date" }));
  const fields: Field[] = [user, tag, from, to];
  const problemBox = h("div", { class: "form-problem", role: "alert", hidden: true });
  const clear = h("button", { type: "button" }, "Clear filters");
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter images" },
    ...fields.map((f) => f.element),
    h("div", { class: "filter-actions" }, h("button", { type: "submit", class: "primary" }, "Apply filters"), clear),
    problemBox,
  );
  const summary = h("p", { class: "summary", "aria-live": "polite" });
  const grid = h("ul", { class: "grid", "aria-label": "Images, newest first" });
  const more = h("button", { type: "button", class: "load-more", hidden: true }, "Load more");
  const sentinel = h("div", { class: "sentinel", "aria-hidden": "true" });

  let filters: Filters = { user: "", tag: "", from: "", to: "" };
  let cursor: string | null = null;
  let loading = false;
  let shown = 0;
  // Answers for filters that are no longer shown are dropped.
  let generation = 0;

  const readForm = (): Filters => ({
    user: user.control.value.trim(),
    tag: tag.control.value.trim(),
    from: from.control.value,
    to: to.control.value,
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onFilter(readForm());
  });
  clear.addEventListener("click", () => onFilter({ user: "", tag: "", from: "", to: "" }));
  more.addEventListener("click", () => void loadPage());

  function describe() {
    if (shown === 0) {
      summary.textContent = hasFilters(filters)
        ? "No images match these filters."
        : "No images yet: upload some above.";
    } else {
      summary.textContent = `${shown} image${shown === 1 ? "" : "s"} shown${cursor ? ", more below" : ""}.`;
    }
    more.hidden = cursor === null;
  }

  async function loadPage(first = false) {
    if (loading && !first) return;
    if (!first && cursor === null) return;
    const mine = first ? ++generation : generation;
    loading = true;
    more.disabled = true;
    if (first) summary.textContent = "Loading…";
    try {
      const page = await api.listImages(listQuery(filters, first ? null : cursor));
      if (mine !== generation) return;
      clearFormProblem(problemBox, fields);
      if (first) {
        grid.replaceChildren();
        shown = 0;
      }
      for (const image of page.items) grid.append(thumbnail(image));
      shown += page.items.length;
      cursor = page.next_cursor;
      describe();
    } catch (error) {
      if (mine !== generation) return;
      showFormProblem(problemBox, fields, toProblem(error));
      if (first) {
        // What is left on screen would belong to other filters.
        grid.replaceChildren();
        shown = 0;
        cursor = null;
        more.hidden = true;
      }
      summary.textContent = "The images could not be listed.";
    } finally {
      if (mine === generation) {
        loading = false;
        more.disabled = false;
        // A short page may leave the end in view, where the observer will not fire again.
        requestAnimationFrame(fillViewport);
      }
    }
  }

  function fillViewport() {
    if (cursor !== null && !loading && sentinel.getBoundingClientRect().top < window.innerHeight + 400) void loadPage();
  }

  new IntersectionObserver(
    (entries) => {
      if (entries.some((entry) => entry.isIntersecting)) void loadPage();
    },
    { rootMargin: "400px" },
  ).observe(sentinel);

  function thumbnail(image: ListedImage): HTMLElement {
    const link = h(
      "a",
      {
        class: "thumb",
        href: viewStateSearch({ filters, image: image.image_id }) || "?",
        "data-image-id": image.image_id,
      },
      tilePicture(image),
      h("span", { class: "thumb-title" }, image.title),
      h("span", { class: "thumb-meta" }, `${image.user_id} · ${formatDate(image.upload_time)}`),
    );
    link.addEventListener("click", (event) => {
      // Modified clicks open the shareable link in a new tab, as links do.
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      onOpen(image.image_id, link);
    });
    return h("li", { "data-image-id": image.image_id }, link);
  }

  const element = h(
    "section",
    { class: "panel browse", "aria-labelledby": "gallery-heading" },
    h("h2", { id: "gallery-heading", tabindex: "-1" }, "Gallery"),
    form,
    summary,
    grid,
    more,
    sentinel,
  );

  return {
    element,
    show(next) {
      filters = next;
      user.control.value = next.user;
      tag.control.value = next.tag;
      from.control.value = next.from;
      to.control.value = next.to;
      cursor = null;
      void loadPage(true);
    },
    refresh() {
      cursor = null;
      void loadPage(true);
    },
    replaceImage(image) {
      const item = grid.querySelector<HTMLElement>(`li[data-image-id="${CSS.escape(image.image_id)}"]`);
      item?.querySelector(".thumb-title")?.replaceChildren(image.title);
    },
    removeImage(imageId) {
      const item = grid.querySelector(`li[data-image-id="${CSS.escape(imageId)}"]`);
      if (!item) return;
      item.remove();
      shown--;
      describe();
    },
  };
}
