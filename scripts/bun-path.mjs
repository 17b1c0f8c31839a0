// Prints the path of the bun binary that npm's `bun` package brought, for SST_BUN_PATH.
// bun's postinstall moves the binary from its platform package (@oven/bun-<os>-<arch>) to
// bun/bin/bun.exe; where install scripts did not run, it is still in the platform package.
import { existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const packageDir = (name) => {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
};
// The placeholder the package ships is a few hundred bytes; the real binary is ~100 MB.
const isBinary = (path) => existsSync(path) && statSync(path).size > 1_000_000;

const arch = { x64: "x64", arm64: "aarch64" }[process.arch] ?? process.arch;
const candidates = [join(packageDir("bun") ?? "", "bin", "bun.exe")];
for (const variant of ["", "-musl", "-baseline", "-musl-baseline"]) {
  const dir = packageDir(`@oven/bun-${process.platform}-${arch}${variant}`);
  if (dir) candidates.push(join(dir, "bin", "bun"));
}
const found = candidates.find(isBinary);
if (!found) {
  console.error(`no bun binary found (looked at ${candidates.join(", ")}); run npm ci`);
  process.exit(1);
}
console.log(found);
