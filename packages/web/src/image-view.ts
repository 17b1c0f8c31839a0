import type { GalleryApi, Image, ImageWithLinks } from "./api.ts";
import { formatBytes } from "@images/client";
import { formatDate, h, replaceChildren } from "./dom.ts";
import { announce, clearFormProblem, field, showFormProblem, type Field } from "./messages.ts";
import { picture, VIEW_SIZES } from "./picture.ts";
import { toProblem } from "./problem.ts";
import { parseTags } from "./view-state.ts";

export interface ImageViewer {
  open(imageId: string, opener?: HTMLElement | null): void;
  close(): void;
  readonly openImageId: string | null;
}

interface Callbacks {
  /** The dialog closed (Escape, the Close button, a delete): the page drops `image` from the URL. */
  onClosed(): void;
  onChanged(image: Image): void;
  onDeleted(imageId: string): void;
  /** Moved to the trash: out of the grid, into "Recently deleted". */
  onTrashed(image: Image): void;
}

/**
 * One image in a modal dialog: the full image, its metadata and, for its owner, the edit form
 * and delete (behind a confirmation). Escape closes either dialog; focus goes back where it was.
 */
export function imageViewer(api: GalleryApi, currentUser: () => string, callbacks: Callbacks): ImageViewer {
  const title = h("h2", { id: "image-dialog-title" }, "Image");
  const closeButton = h("button", { type: "button", class: "icon-button", "aria-label": "Close" }, "✕");
  const body = h("div", { class: "dialog-body" });
  const dialog = h(
    "dialog",
    { class: "image-dialog", "aria-labelledby": "image-dialog-title" },
    h("div", { class: "dialog-header" }, title, closeButton),
    body,
  );
  const confirm = confirmDialog();
  document.body.append(dialog, confirm.dialog);

  let openImageId: string | null = null;
  let opener: HTMLElement | null = null;
  let generation = 0;

  closeButton.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    openImageId = null;
    generation++;
    callbacks.onClosed();
    if (opener?.isConnected) opener.focus();
    else document.getElementById("gallery-heading")?.focus();
    opener = null;
  });
  // A click on the backdrop (the dialog element itself, outside its content) closes it.
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close();
  });

  function render(image: ImageWithLinks) {
    title.textContent = image.title;
    const mine = image.user_id === currentUser();
    replaceChildren(
      body,
      h(
        "figure",
        { class: "full-image" },
        // The rendition the screen needs (VIEW_SIZES), never the original; images stored before
        // the size ladder show their thumbnail.
        image.status === "ready" && (image.renditions.length > 0 || image.thumbnail_url)
          ? picture({
              renditions: image.renditions,
              fallbackUrl: image.thumbnail_url ?? "",
              placeholder: image.placeholder,
              sizes: VIEW_SIZES,
              alt: image.title,
              width: image.width,
              height: image.height,
              className: "full",
              lazy: false,
            })
          : h("p", {}, `No image to show: ${image.status}.`),
        image.download_url
          ? h(
              "figcaption",
              {},
              h(
                "a",
                { href: image.download_url, download: "", target: "_blank", rel: "noopener", class: "download" },
                "Download original",
              ),
              ` (${formatBytes(image.size_bytes)})`,
            )
          : null,
      ),
      h(
        "div",
        { class: "dialog-side" },
        metadataList(image),
        mine && image.status !== "trashed" ? editForm(image) : null,
      ),
    );
  }

  function metadataList(image: ImageWithLinks) {
    const rows: [string, string | null | undefined][] = [
      ["Owner", image.user_id],
      ["Uploaded", formatDate(image.upload_time)],
      // As the camera wrote it (its own offset, or its local time when it gave none).
      ["Taken", image.taken_at ? image.taken_at.replace("T", " ") : undefined],
      ["Tags", image.tags.length > 0 ? image.tags.join(", ") : "none"],
      ["Description", image.description],
      ["Status", image.status === "ready" ? undefined : image.status],
      ["Why it failed", image.failure_reason],
      ["Type", image.content_type],
      ["Size", formatBytes(image.size_bytes)],
      ["Pixels", image.width !== null && image.height !== null ? `${image.width} × ${image.height}` : undefined],
      ["SHA-256", image.sha256],
    ];
    return h(
      "dl",
      { class: "metadata" },
      ...rows
        .filter((row): row is [string, string] => typeof row[1] === "string" && row[1] !== "")
        .flatMap(([name, value]) => [h("dt", {}, name), h("dd", { "data-field": name }, value)]),
    );
  }

  function editForm(image: ImageWithLinks) {
    const titleField = field("title", "Title", h("input", { type: "text", required: true, maxlength: "200" }));
    const description = field("description", "Description", h("textarea", { rows: "3", maxlength: "2000" }));
    const tags = field("tags", "Tags", h("input", { type: "text", spellcheck: "false" }), "Comma-separated");
    titleField.control.value = image.title;
    description.control.value = image.description ?? "";
    tags.control.value = image.tags.join(", ");
    const fields: Field<HTMLInputElement | HTMLTextAreaElement>[] = [titleField, description, tags];
    const problemBox = h("div", { class: "form-problem", role: "alert", hidden: true });
    const save = h("button", { type: "submit", class: "primary" }, "Save changes");
    const trash = h("button", { type: "button" }, "Move to trash");
    const remove = h("button", { type: "button", class: "danger" }, "Delete image…");
    const form = h(
      "form",
      { class: "stack edit-form", novalidate: true, "aria-labelledby": "edit-heading" },
      h("h3", { id: "edit-heading" }, "Edit"),
      ...fields.map((f) => f.element),
      problemBox,
      h("div", { class: "form-actions" }, save, trash, remove),
    );
    const mine = generation;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      clearFormProblem(problemBox, fields);
      save.disabled = true;
      const patch = {
        title: titleField.control.value.trim(),
        description: description.control.value.trim() || null,
        tags: parseTags(tags.control.value),
      };
      api
        .updateImage(image.image_id, patch)
        .then((updated) => {
          if (mine !== generation) return;
          const merged = { ...image, ...updated };
          render(merged);
          callbacks.onChanged(updated);
          announce("Changes saved");
          body.querySelector<HTMLButtonElement>(".edit-form button[type=submit]")?.focus();
        })
        .catch((error: unknown) => showFormProblem(problemBox, fields, toProblem(error)))
        .finally(() => (save.disabled = false));
    });
    trash.addEventListener("click", async () => {
      trash.disabled = true;
      try {
        const trashed = await api.trashImage(image.image_id);
        callbacks.onTrashed(trashed);
        announce(`Moved ${image.title} to Recently deleted`);
        opener = null;
        dialog.close();
      } catch (error) {
        showFormProblem(problemBox, fields, toProblem(error));
        trash.focus();
      } finally {
        trash.disabled = false;
      }
    });
    remove.addEventListener("click", async () => {
      if (!(await confirm.ask(image.title))) {
        remove.focus();
        return;
      }
      try {
        await api.deleteImage(image.image_id);
        callbacks.onDeleted(image.image_id);
        announce(`Deleted ${image.title}`);
        opener = null;
        dialog.close();
      } catch (error) {
        showFormProblem(problemBox, fields, toProblem(error));
        remove.focus();
      }
    });
    return form;
  }

  return {
    get openImageId() {
      return openImageId;
    },
    open(imageId, from) {
      if (openImageId === imageId && dialog.open) return;
      openImageId = imageId;
      opener = from ?? (document.activeElement instanceof HTMLElement ? document.activeElement : null);
      const mine = ++generation;
      title.textContent = "Loading…";
      replaceChildren(body, h("p", {}, "Loading the image…"));
      if (!dialog.open) dialog.showModal();
      closeButton.focus();
      api
        .getImage(imageId)
        .then((image) => mine === generation && render(image))
        .catch((error: unknown) => {
          if (mine !== generation) return;
          const problem = toProblem(error);
          title.textContent = "Image not available";
          replaceChildren(
            body,
            h(
              "div",
              { class: "form-problem", role: "alert" },
              h("p", {}, problem.detail, ` (${problem.status} ${problem.title})`),
            ),
          );
        });
    },
    close() {
      if (dialog.open) dialog.close();
    },
  };
}

/** "Delete …?" as an alert dialog: Cancel has the focus, Escape cancels. */
function confirmDialog() {
  const message = h("p", { id: "confirm-message" });
  const cancel = h("button", { type: "button", autofocus: true }, "Cancel");
  const confirmButton = h("button", { type: "button", class: "danger" }, "Delete");
  const dialog = h(
    "dialog",
    {
      class: "confirm-dialog",
      role: "alertdialog",
      "aria-labelledby": "confirm-title",
      "aria-describedby": "confirm-message",
    },
    h("h2", { id: "confirm-title" }, "Delete this image?"),
    message,
    h("div", { class: "form-actions" }, cancel, confirmButton),
  );
  let answer: (yes: boolean) => void = () => undefined;
  cancel.addEventListener("click", () => dialog.close("cancel"));
  confirmButton.addEventListener("click", () => dialog.close("delete"));
  dialog.addEventListener("close", () => answer(dialog.returnValue === "delete"));
  return {
    dialog,
    ask(imageTitle: string): Promise<boolean> {
      message.textContent = `“${imageTitle}”, its thumbnail and its details are removed for good.`;
      dialog.returnValue = "";
      dialog.showModal();
      cancel.focus();
      return new Promise((resolve) => (answer = resolve));
    },
  };
}
