import type { BuildOptions } from "esbuild";

export declare const deployedBuildOptions: BuildOptions & { plugins: NonNullable<BuildOptions["plugins"]> };
