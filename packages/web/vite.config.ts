import { defineConfig } from "vite";

/**
 * `npm run build -w @images/web` writes the gallery to dist/, which `npm run dev` serves at `/`
 * and the stack deploys as a static site. `npm run dev -w @images/web` serves the sources with
 * hot reload on :5173, sending API calls to the dev server on :3000 (start `npm run dev` too).
 */
const API = process.env.IMAGES_API_URL ?? "http://127.0.0.1:3000";

export default defineConfig({
  root: import.meta.dirname,
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
  server: {
    host: "127.0.0.1",
    proxy: Object.fromEntries(["/images", "/dev", "/health"].map((path) => [path, API])),
  },
});
