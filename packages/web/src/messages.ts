import { h, replaceChildren, uniqueId } from "./dom.ts";
import { fieldErrors, type Problem } from "./problem.ts";

const messages = () => document.getElementById("messages")!;

/** A problem for the whole page (role=alert): what was being done, the detail, each field at fault. */
export function showProblem(doing: string, problem: Problem): void {
  const errors = problem.errors ?? [];
  const dismiss = h("button", { type: "button", class: "link-button", onclick: clearProblems }, "Dismiss");
  replaceChildren(
    messages(),
    h(
      "div",
      { class: "message message-error" },
      h(
        "p",
        {},
        h("strong", {}, `${doing}: `),
        problem.detail,
        problem.status ? ` (${problem.status} ${problem.title})` : "",
      ),
      errors.length > 0 ? h("ul", {}, ...errors.map((e) => h("li", {}, `${e.path || "request"}: ${e.message}`))) : null,
      dismiss,
    ),
  );
}

export const clearProblems = () => replaceChildren(messages());

/** A quiet announcement for screen readers (role=status), also shown briefly on screen. */
export function announce(text: string): void {
  const status = document.getElementById("status")!;
  status.textContent = text;
  const toast = h("div", { class: "toast", "aria-hidden": "true" }, text);
  document.body.append(toast);
  setTimeout(() => toast.remove(), 3000);
}

/** A labelled form control with a place for its errors. */
export interface Field<T extends HTMLInputElement | HTMLTextAreaElement = HTMLInputElement> {
  name: string;
  control: T;
  element: HTMLElement;
  error: HTMLElement;
}

export function field<T extends HTMLInputElement | HTMLTextAreaElement>(
  name: string,
  label: string,
  control: T,
  hint?: string,
): Field<T> {
  const id = uniqueId(name);
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : undefined;
  control.id = id;
  control.name = name;
  control.setAttribute("aria-describedby", [hintId, errorId].filter(Boolean).join(" "));
  const error = h("p", { id: errorId, class: "field-error" });
  const element = h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    control,
    hint ? h("p", { id: hintId!, class: "hint" }, hint) : null,
    error,
  );
  return { name, control, element, error };
}

/**
 * Shows a problem on a form: each of `errors[]` under its field (aria-invalid), the rest and
 * the detail in the form's own alert box. Answers whether any field got an error.
 */
export function showFormProblem(
  box: HTMLElement,
  fields: Field<HTMLInputElement | HTMLTextAreaElement>[],
  problem: Problem,
) {
  clearFormProblem(box, fields);
  const byField = fieldErrors(problem);
  let first: HTMLElement | undefined;
  for (const f of fields) {
    const texts = byField.get(f.name);
    if (!texts) continue;
    byField.delete(f.name);
    f.control.setAttribute("aria-invalid", "true");
    f.error.textContent = texts.join("; ");
    first ??= f.control;
  }
  const rest = [...byField.entries()].map(([name, texts]) => `${name || "request"}: ${texts.join("; ")}`);
  replaceChildren(
    box,
    h("p", {}, problem.detail, problem.status ? ` (${problem.status} ${problem.title})` : ""),
    rest.length > 0 ? h("ul", {}, ...rest.map((text) => h("li", {}, text))) : null,
  );
  box.hidden = false;
  first?.focus();
}

export function clearFormProblem(box: HTMLElement, fields: Field<HTMLInputElement | HTMLTextAreaElement>[]) {
  box.hidden = true;
  replaceChildren(box);
  for (const f of fields) {
    f.control.removeAttribute("aria-invalid");
    f.error.textContent = "";
  }
}
