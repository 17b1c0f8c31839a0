// Preloaded (node --import) into the processes the tests spawn (the dev server, the Compose
// server, the CLI) while `npm test` measures coverage: it starts V8's precise coverage before the
// program's first module and, when the process exits, writes the coverage of the project's
// sources with the code V8 ran (tsx's output, with its inline source map) to
// $IMAGES_CHILD_COVERAGE_DIR. packages/core/test/support/v8-coverage/provider.ts merges these files
// into vitest's report. (NODE_V8_COVERAGE writes no script sources, and a TypeScript file's
// offsets are in tsx's output, not on disk: hence this.)
import { Session } from "node:inspector";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.env.IMAGES_CHILD_COVERAGE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  // On the main thread the session answers synchronously, so this also works in an exit handler.
  const post = (method, params = {}) => {
    let answer;
    let failure;
    session.post(method, params, (error, result) => {
      failure = error;
      answer = result;
    });
    if (failure) throw failure;
    return answer;
  };
  post("Profiler.enable");
  post("Profiler.startPreciseCoverage", { callCount: true, detailed: true });
  const ours = (url) => /^file:\/\/.*\/packages\/[^/]+\/src\//.test(url) && !url.includes("/node_modules/");
  let written = false;
  process.on("exit", () => {
    if (written) return;
    written = true;
    try {
      const { result } = post("Profiler.takePreciseCoverage");
      post("Debugger.enable");
      const scripts = result
        .filter((script) => ours(script.url))
        .map((script) => ({
          url: script.url,
          functions: script.functions,
          source: post("Debugger.getScriptSource", { scriptId: script.scriptId }).scriptSource,
        }));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `child-${process.pid}-${Date.now()}.json`), JSON.stringify({ result: scripts }));
    } catch (error) {
      process.stderr.write(`child coverage not written: ${error}\n`);
    }
  });
}
