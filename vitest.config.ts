import { defineConfig } from "vitest/config";

/**
 * Three projects: `unit` is `npm test` (unit, integration on the embedded emulators, HTTP end to
 * end, the CLI against the dev server); `reliability` is `npm run test:reliability` (hostile
 * input, injected faults, concurrency), which prints one summary line at the end; `browser` is
 * `npm run test:browser` (the web gallery in Debian's Chromium). `npm test` needs only Node: its
 * coverage gate covers the Node packages; `npm run test:coverage` (COVERAGE_WHOLE=1) runs the unit
 * and browser projects together and gates the whole project, the gallery in Chromium included.
 */
const WHOLE_PROJECT = process.env.COVERAGE_WHOLE === "1";
const RELIABILITY = "packages/*/test/reliability/**/*.test.ts";
const BROWSER = "packages/*/test/browser/**/*.test.ts";

export default defineConfig({
  test: {
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["packages/*/test/**/*.test.ts", "infra/**/*.test.ts"],
          exclude: [RELIABILITY, BROWSER, "**/node_modules/**"],
        },
      },
      {
        extends: true,
        test: {
          name: "reliability",
          include: [RELIABILITY],
          globalSetup: ["packages/api/test/reliability/support/summary-setup.ts"],
          testTimeout: 300_000,
        },
      },
      {
        extends: true,
        test: {
          name: "browser",
          include: [BROWSER],
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
    ],
    /**
     * vitest's V8 coverage merged with that of the processes the tests spawn (dev server,
     * Compose server, CLI) and of the gallery in Chromium: packages/core/test/support/v8-coverage/.
     */
    coverage: {
      provider: "custom",
      customProviderModule: "./packages/core/test/support/v8-coverage/provider.ts",
      include: ["packages/*/src/**/*.ts"],
      reporter: ["text", "json-summary"],
      // Lines: of all, and per package (the gallery's: in Chromium, from the browser project).
      thresholds: {
        ...(WHOLE_PROJECT ? { lines: 90, "packages/web/src/**": { lines: 80 } } : {}),
        "packages/core/src/**": { lines: 90 },
        "packages/api/src/**": { lines: 80 },
        "packages/audit/src/**": { lines: 80 },
        "packages/cli/src/**": { lines: 80 },
        "packages/client/src/**": { lines: 80 },
        "packages/local/src/**": { lines: 80 },
      },
    },
  },
});
