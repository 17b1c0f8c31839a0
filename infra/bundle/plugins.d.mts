import type { Plugin } from "esbuild";

export declare const zodLocales: Plugin;
declare const plugins: Plugin[];
export default plugins;
