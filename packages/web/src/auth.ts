import type { AuthSettings } from "./config.ts";
import { ApiProblem, problemFrom } from "./problem.ts";

/** Who is signed in, with the bearer token the API gets. */
export interface Session {
  token: string;
  userId: string;
  /** What the page shows: the e-mail address where the token has one, else the user id. */
  label: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

const SESSION_KEY = "images.session";
const PENDING_KEY = "images.sign-in";

/** The claims of a JWT, read without checking it (the API checks it). */
export function tokenClaims(token: string): Record<string, unknown> {
  const payload = token.split(".")[1];
  if (!payload) return {};
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  } catch {
    return {};
  }
}

export function sessionFromToken(token: string): Session {
  const claims = tokenClaims(token);
  const userId = typeof claims.sub === "string" ? claims.sub : "";
  const label = typeof claims.email === "string" ? claims.email : userId;
  const expiresAt = typeof claims.exp === "number" ? claims.exp * 1000 : Date.now() + 3600_000;
  return { token, userId, label, expiresAt };
}

export function loadSession(storage: Storage = localStorage): Session | undefined {
  try {
    const session = JSON.parse(storage.getItem(SESSION_KEY) ?? "null") as Session | null;
    // A minute's margin: a token about to expire would fail the next request.
    if (session && session.expiresAt > Date.now() + 60_000) return session;
  } catch {
    // An unreadable entry is no session.
  }
  storage.removeItem(SESSION_KEY);
  return undefined;
}

export const saveSession = (session: Session, storage: Storage = localStorage) =>
  storage.setItem(SESSION_KEY, JSON.stringify(session));

export const forgetSession = (storage: Storage = localStorage) => storage.removeItem(SESSION_KEY);

/** Development: `POST /dev/token`, which only `npm run dev` serves. */
export async function developmentSignIn(apiUrl: string, userId: string): Promise<Session> {
  const response = await fetch(`${apiUrl}/dev/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user_id: userId }),
  });
  const body = (await response.json().catch(() => undefined)) as { token?: unknown } | undefined;
  if (!response.ok || typeof body?.token !== "string") {
    throw new ApiProblem(problemFrom(response.status, body, "Sign-in failed"));
  }
  return sessionFromToken(body.token);
}

const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

const randomString = () => base64url(crypto.getRandomValues(new Uint8Array(32)));

/** Deployed: off to Cognito's hosted login (authorization code with PKCE); back at `redirectUri`. */
export async function startHostedSignIn(auth: Extract<AuthSettings, { kind: "cognito" }>): Promise<void> {
  const verifier = randomString();
  const state = randomString();
  const challenge = base64url(
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))),
  );
  // The page to come back to (filters, an open image) survives the round trip.
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, returnTo: location.search }));
  const url = new URL(`${auth.domainUrl}/oauth2/authorize`);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: auth.clientId,
    redirect_uri: auth.redirectUri,
    scope: "openid email profile",
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  }).toString();
  location.assign(url.toString());
}

/**
 * When the page is Cognito's redirect back (`?code=&state=`), trades the code for tokens and
 * answers the session (the ID token: its `sub` is the user id, its `aud` the client id the API
 * expects), and the search string to restore. Answers undefined on any other page load.
 */
export async function completeHostedSignIn(
  auth: Extract<AuthSettings, { kind: "cognito" }>,
): Promise<{ session: Session; returnTo: string } | undefined> {
  const params = new URLSearchParams(location.search);
  const error = params.get("error_description") ?? params.get("error");
  const code = params.get("code");
  if (!code && !error) return undefined;
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? "null") as {
    verifier: string;
    state: string;
    returnTo: string;
  } | null;
  sessionStorage.removeItem(PENDING_KEY);
  history.replaceState(null, "", `${location.pathname}${pending?.returnTo ?? ""}`);
  const fail = (detail: string) =>
    new ApiProblem({ type: "about:blank", title: "Sign-in failed", status: 401, detail });
  if (error) throw fail(error);
  if (!pending || params.get("state") !== pending.state)
    throw fail("the sign-in answer does not match this page: sign in again");

  const response = await fetch(`${auth.domainUrl}/oauth2/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: auth.clientId,
      code: code!,
      redirect_uri: auth.redirectUri,
      code_verifier: pending.verifier,
    }),
  });
  const body = (await response.json().catch(() => ({}))) as { id_token?: string; error?: string };
  if (!response.ok || !body.id_token) throw fail(body.error ?? `the token endpoint answered HTTP ${response.status}`);
  return { session: sessionFromToken(body.id_token), returnTo: pending.returnTo };
}

/** Deployed: Cognito's logout ends its own session too, then comes back to the gallery. */
export function hostedSignOutUrl(auth: Extract<AuthSettings, { kind: "cognito" }>): string {
  const url = new URL(`${auth.domainUrl}/logout`);
  url.search = new URLSearchParams({ client_id: auth.clientId, logout_uri: auth.redirectUri }).toString();
  return url.toString();
}
