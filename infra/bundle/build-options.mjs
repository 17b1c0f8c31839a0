/**
 * The esbuild options SST uses for the functions in infra/api.ts (`nodejs: { minify: true,
 * install: { sharp }, plugins }`, ESM by default): bundled and minified for Node 22, module fields
 * before main, the createRequire banner, every @aws-sdk package bundled, `sharp` left out because
 * it is installed beside the bundle, and this folder's plugins. The bench and infra/bundle.test.ts
 * build the function with these, so that what they measure and test is what is deployed.
 */
import plugins from "./plugins.mjs";

export const deployedBuildOptions = {
  bundle: true,
  minify: true,
  platform: "node",
  target: "node22",
  format: "esm",
  mainFields: ["module", "main"],
  external: ["sharp"],
  banner: {
    js: "import { createRequire as topLevelCreateRequire } from 'module';const require = topLevelCreateRequire(import.meta.url);",
  },
  plugins,
};
