/**
 * The web gallery (packages/web), built by Vite and served from S3 through CloudFront.
 *
 * The gallery's build needs the API's URL and the user pool client's id, and that client's
 * callback URLs need the gallery's URL. The Router is what breaks the circle: its URL exists
 * before anything is routed to it, so infra/auth.ts can name it, and the site is added to it
 * afterwards (`deployGallery`, called from sst.config.ts).
 *
 * GALLERY_DOMAIN (optional, e.g. gallery.example.com, in a Route 53 zone of the account) gives it
 * a domain known before the first deploy, for CORS_ALLOWED_ORIGINS.
 */
import { DEV_GALLERY_ORIGIN } from "./settings";

const galleryDomain = process.env.GALLERY_DOMAIN?.trim() || undefined;

export const galleryRouter = new sst.aws.Router("GalleryRouter", galleryDomain ? { domain: galleryDomain } : {});

/**
 * https://<distribution>.cloudfront.net, or https://<GALLERY_DOMAIN>; no trailing slash. Under
 * `sst dev` the site is not deployed but served by Vite on this machine (GALLERY_DEV below), so
 * the gallery's address, where the hosted login returns, is that server's.
 */
export const galleryUrl = $dev ? $output(DEV_GALLERY_ORIGIN) : galleryRouter.url;

/**
 * `sst dev` starts this in its multiplexer instead of deploying the site: `vite` in
 * packages/web with the VITE_* settings below, on the port the origin names (and no other:
 * Cognito returns to that exact address, and the API allows that exact origin).
 */
export const GALLERY_DEV = {
  title: "Gallery",
  command: `npm run dev -- --port ${new URL(DEV_GALLERY_ORIGIN).port} --strictPort`,
  url: DEV_GALLERY_ORIGIN,
};

export interface GallerySettings {
  /** The HTTP API the gallery calls. */
  apiUrl: $util.Input<string>;
  /** Cognito's hosted login, https://<prefix>.auth.<region>.amazoncognito.com. */
  authUrl: $util.Input<string>;
  /** The app client whose tokens the API accepts. */
  userPoolClientId: $util.Input<string>;
}

/** Builds the gallery with the deployment's settings (Vite's VITE_* variables) and serves it on the Router. */
export function deployGallery(settings: GallerySettings) {
  return new sst.aws.StaticSite("Gallery", {
    path: "packages/web",
    build: { command: "npm run build", output: "dist" },
    router: { instance: galleryRouter },
    environment: {
      VITE_API_URL: settings.apiUrl,
      VITE_COGNITO_DOMAIN: settings.authUrl,
      VITE_COGNITO_CLIENT_ID: settings.userPoolClientId,
    },
    // packages/web/src/vite-env.d.ts declares these itself; SST's copy stays out of the sources.
    vite: { types: "sst-env.d.ts" },
    dev: GALLERY_DEV,
  });
}
