/**
 * Debian's Chromium as the browser tests start it (playwright-core downloads no browser): the
 * flags keep it from reaching out to Google's hosts, which this machine's closed network refuses.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
