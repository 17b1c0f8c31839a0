// What-if stand-in for zod's `locales` namespace (every language's error messages), which the
// bundle keeps only because @hono/zod-openapi passes the whole `z` namespace to a function.
export {};
