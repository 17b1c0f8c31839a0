import { defineConfig } from "vitest/config";

/**
 * Two projects: `unit` is `npm test` (unit, integration on the embedded emulators, HTTP end to
 * end); `reliability` is `npm run test:reliability` (hostile input, injected faults, concurrency),
 * which prints one summary line at the end.
 */
const RELIABILITY = "packages/*/test/reliability/**/*.test.ts";

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
          exclude: [RELIABILITY, "**/node_modules/**"],
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
    ],
    coverage: {
      provider: "v8",
      include: ["packages/*/src/**/*.ts"],
      reporter: ["text", "json-summary"],
      thresholds: {
        "packages/core/src/**": { lines: 90 },
      },
    },
  },
});
