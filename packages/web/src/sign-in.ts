import { developmentSignIn, startHostedSignIn, type Session } from "./auth.ts";
import type { GallerySettings } from "./config.ts";
import { h } from "./dom.ts";
import { clearFormProblem, field, showFormProblem } from "./messages.ts";
import { toProblem } from "./problem.ts";

/** The page before sign-in: a user name locally, Cognito's hosted login when deployed. */
export function signInView(settings: GallerySettings, onSignedIn: (session: Session) => void): HTMLElement {
  const heading = h("h2", { id: "sign-in-heading", tabindex: "-1" }, "Sign in");
  if (settings.auth.kind === "cognito") {
    const auth = settings.auth;
    return h(
      "section",
      { class: "sign-in panel", "aria-labelledby": "sign-in-heading" },
      heading,
      h("p", {}, "Sign in with your account to see and share images."),
      h("button", { type: "button", class: "primary", onclick: () => void startHostedSignIn(auth) }, "Sign in"),
    );
  }

  const user = field(
    "user_id",
    "User name",
    h("input", { type: "text", autocomplete: "username", required: true, maxlength: "128", spellcheck: "false" }),
    "Development server: any name of letters, digits or . _ @ + : -, no password.",
  );
  const problemBox = h("div", { class: "form-problem", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h("form", { class: "stack", novalidate: true }, user.element, problemBox, submit);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearFormProblem(problemBox, [user]);
    submit.disabled = true;
    developmentSignIn(settings.apiUrl, user.control.value.trim())
      .then(onSignedIn)
      .catch((error: unknown) => showFormProblem(problemBox, [user], toProblem(error)))
      .finally(() => (submit.disabled = false));
  });
  queueMicrotask(() => user.control.focus());
  return h("section", { class: "sign-in panel", "aria-labelledby": "sign-in-heading" }, heading, form);
}
