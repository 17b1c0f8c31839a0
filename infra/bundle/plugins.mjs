/**
 * esbuild plugins for the deployed functions (SST's `nodejs.plugins`, see infra/api.ts; the
 * bench builds with the same list). infra/bundle.test.ts checks that each still finds what it
 * targets in the installed libraries, and that the bundle built with them serves requests.
 */
import { fileURLToPath } from "node:url";

/**
 * zod's `locales` namespace holds every language's error messages (256 KiB minified). The
 * service answers in English, which zod loads on its own (`classic/schemas.js` imports `en`);
 * the namespace stays in the bundle only because @hono/zod-openapi hands the whole `z` object to
 * a function, so esbuild cannot see that nothing reads `z.locales`. Resolved to an empty module.
 */
export const zodLocales = {
  name: "zod-locales",
  setup(build) {
    const importer = /[\\/]zod[\\/]v4[\\/](classic[\\/]external|core[\\/]index)\.js$/;
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      importer.test(args.importer) ? { path: fileURLToPath(new URL("./zod-locales.mjs", import.meta.url)) } : undefined,
    );
  },
};

/**
 * The SDK clients' default credential chain tries the environment first and, failing that, SSO,
 * profile files, web identity and instance metadata, which bring the STS and SSO clients along
 * (about 80 KiB minified). A Lambda function always finds its role's credentials in the
 * environment, so the deployed bundle takes the environment provider alone.
 */
export const lambdaCredentials = {
  name: "lambda-credentials",
  setup(build) {
    build.onResolve({ filter: /^@aws-sdk\/credential-provider-node$/ }, () => ({
      path: fileURLToPath(new URL("./lambda-credentials.mjs", import.meta.url)),
    }));
  },
};

export default [zodLocales, lambdaCredentials];
