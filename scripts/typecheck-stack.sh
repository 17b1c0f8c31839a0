#!/usr/bin/env bash
# Type-checks the AWS stack (sst.config.ts, infra/) without AWS: `sst install` writes SST's
# component sources and the Pulumi providers to .sst/platform, fetching them from the npm
# registry with the bun binary of npm's `bun` package; then tsc checks the stack against them.
set -euo pipefail
cd "$(dirname "$0")/.."

SST_BUN_PATH="$(node scripts/bun-path.mjs)"
export SST_BUN_PATH
# Without these, sst would download pulumi and bun from the internet and send telemetry.
export SST_SKIP_DEPENDENCY_CHECK=true SST_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
# Any stage name will do: install reads the config but deploys nothing.
npx --no-install sst install --stage "${SST_STAGE:-typecheck}"
npx --no-install tsc -p tsconfig.stack.json
echo "stack type-check: ok"
