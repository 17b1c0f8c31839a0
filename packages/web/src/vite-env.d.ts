/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** The API's base URL; unset: the page's own origin (npm run dev). */
  readonly VITE_API_URL?: string;
  /** Cognito's hosted UI, e.g. https://images-prod.auth.eu-west-1.amazoncognito.com; unset: development sign-in. */
  readonly VITE_COGNITO_DOMAIN?: string;
  readonly VITE_COGNITO_CLIENT_ID?: string;
}
