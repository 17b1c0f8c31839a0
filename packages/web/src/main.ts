import "./style.css";
import { createGalleryApi } from "./api.ts";
import {
  completeHostedSignIn,
  forgetSession,
  hostedSignOutUrl,
  loadSession,
  saveSession,
  type Session,
} from "./auth.ts";
import { gallerySettings } from "./config.ts";
import { h, replaceChildren } from "./dom.ts";
import { galleryView } from "./gallery.ts";
import { imageViewer } from "./image-view.ts";
import { clearProblems, showProblem } from "./messages.ts";
import { toProblem, type ApiProblem } from "./problem.ts";
import { signInView } from "./sign-in.ts";
import { trashView } from "./trash-view.ts";
import { uploadPanel } from "./uploads.ts";
import { readViewState, viewStateSearch, type Filters } from "./view-state.ts";

const settings = gallerySettings(import.meta.env, location.origin);
const main = document.getElementById("main")!;
const account = document.getElementById("account")!;

let session: Session | undefined = loadSession();

function signOut(problem?: ApiProblem) {
  forgetSession();
  session = undefined;
  if (!problem && settings.auth.kind === "cognito") {
    location.assign(hostedSignOutUrl(settings.auth));
    return;
  }
  showSignIn();
  if (problem) showProblem("Please sign in again", problem.problem);
}

function showSignIn() {
  // The signed-in view's dialogs go with it.
  document.querySelectorAll("dialog").forEach((dialog) => dialog.remove());
  replaceChildren(account);
  replaceChildren(
    main,
    signInView(settings, (signedIn) => {
      session = signedIn;
      saveSession(signedIn);
      clearProblems();
      showGallery();
    }),
  );
}

function showGallery() {
  const current = session!;
  replaceChildren(
    account,
    h("span", { class: "who" }, "Signed in as ", h("strong", {}, current.label)),
    h("button", { type: "button", onclick: () => signOut() }, "Sign out"),
  );
  const api = createGalleryApi(
    settings.apiUrl,
    () => current.token,
    (problem) => signOut(problem),
  );

  const gallery = galleryView(
    api,
    (filters: Filters) => {
      history.pushState(null, "", `${location.pathname}${viewStateSearch({ filters, image: null })}`);
      shownFilters = JSON.stringify(filters);
      gallery.show(filters);
    },
    (imageId, opener) => {
      const state = readViewState(location.search);
      history.pushState(null, "", `${location.pathname}${viewStateSearch({ ...state, image: imageId })}`);
      viewer.open(imageId, opener);
    },
  );
  const viewer = imageViewer(api, () => current.userId, {
    onClosed() {
      const state = readViewState(location.search);
      if (state.image) history.pushState(null, "", `${location.pathname}${viewStateSearch({ ...state, image: null })}`);
    },
    onChanged: (image) => gallery.replaceImage(image),
    onDeleted: (imageId) => gallery.removeImage(imageId),
    onTrashed: (image) => {
      gallery.removeImage(image.image_id);
      trash.refresh();
    },
  });
  // A restored image is back in the listings: the grid shows its current page again.
  const trash = trashView(api, () => gallery.refresh());

  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  const uploads = uploadPanel(api, () => {
    // Several files finishing together refresh the grid once.
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => gallery.refresh(), 300);
  });

  replaceChildren(main, uploads, gallery.element, trash.element);

  let shownFilters = "";
  const sync = () => {
    const state = readViewState(location.search);
    // Opening or closing an image changes the address too; the grid stays as it is then.
    if (JSON.stringify(state.filters) !== shownFilters) {
      shownFilters = JSON.stringify(state.filters);
      gallery.show(state.filters);
    }
    if (state.image) viewer.open(state.image, null);
    else viewer.close();
  };
  window.onpopstate = sync;
  sync();
}

async function start() {
  if (settings.auth.kind === "cognito") {
    try {
      const completed = await completeHostedSignIn(settings.auth);
      if (completed) {
        session = completed.session;
        saveSession(completed.session);
      }
    } catch (error) {
      showSignIn();
      showProblem("Sign-in failed", toProblem(error));
      return;
    }
  }
  if (session) showGallery();
  else showSignIn();
}

void start();
