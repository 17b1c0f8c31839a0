// Stands in for zod's `locales` namespace in the deployed bundle (see plugins.mjs): nothing in
// the service reads `z.locales`, and English is configured by zod itself.
export {};
