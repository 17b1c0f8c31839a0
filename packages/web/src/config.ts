/**
 * What the gallery needs to know, fixed at build time (Vite's `VITE_*` variables, which the
 * stack's StaticSite sets). With none set, it is the development build that `npm run dev`
 * serves: the API on the page's own origin, and sign-in by picking a user name.
 */
export type AuthSettings =
  { kind: "development" } | { kind: "cognito"; domainUrl: string; clientId: string; redirectUri: string };

export interface GallerySettings {
  /** The API's base URL, without a trailing slash; "" is the page's own origin. */
  apiUrl: string;
  auth: AuthSettings;
}

export interface GalleryEnv {
  VITE_API_URL?: string;
  VITE_COGNITO_DOMAIN?: string;
  VITE_COGNITO_CLIENT_ID?: string;
}

export function gallerySettings(env: GalleryEnv, origin: string): GallerySettings {
  const apiUrl = (env.VITE_API_URL ?? "").replace(/\/+$/, "");
  const domain = env.VITE_COGNITO_DOMAIN?.replace(/\/+$/, "");
  const clientId = env.VITE_COGNITO_CLIENT_ID;
  if (domain && clientId) {
    const domainUrl = domain.startsWith("https://") ? domain : `https://${domain}`;
    return { apiUrl, auth: { kind: "cognito", domainUrl, clientId, redirectUri: `${origin}/` } };
  }
  return { apiUrl, auth: { kind: "development" } };
}
