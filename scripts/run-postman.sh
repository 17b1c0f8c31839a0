#!/usr/bin/env bash
# `npm run test:postman`: docs/postman_collection.json end to end with newman against `npm run dev`
# (in memory, on a free port), with a development token for `newman-user` as the `token`
# variable. Prints newman's summary; any failed request or assertion fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

for fixture in FreshFlower.jpg Elephants_3840x2160.jpg oceans.svg; do
  if ! [ -f "../shared/fixtures/images/$fixture" ]; then
    echo "test:postman: ../shared/fixtures/images/$fixture is missing (the fixtures sit beside the repository)" >&2
    exit 2
  fi
done

work=$(mktemp -d)
log="$work/dev.log"
server=""
stop_server() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    # The server runs in its own process group (setsid): npm, tsx and node stop together.
    kill -TERM -- "-$server" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop_server EXIT

# PORT=0: the system picks a free port, and the server prints the one it got.
PORT=0 DATA_DIR="" LOG_LEVEL=warn setsid npm run dev >"$log" 2>&1 &
server=$!

base_url=""
for _ in $(seq 1 240); do
  base_url=$(sed -n 's/^Images API *\(http[^ ]*\)$/\1/p' "$log" | head -n 1)
  [ -n "$base_url" ] && break
  if ! kill -0 "$server" 2>/dev/null; then
    echo "test:postman: npm run dev stopped before it served:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.5
done
if [ -z "$base_url" ]; then
  echo "test:postman: npm run dev did not serve within 120 s:" >&2
  cat "$log" >&2
  exit 1
fi
curl -fsS "$base_url/health" >/dev/null
echo "npm run dev serves $base_url"

token=$(npm run --silent token -- newman-user)

status=0
npx --no-install newman run docs/postman_collection.json \
  --env-var "baseUrl=$base_url" \
  --env-var "token=$token" \
  --working-dir "$repo" \
  --reporters cli,json \
  --reporter-json-export "$work/newman.json" \
  --color off || status=$?

if [ -f "$work/newman.json" ]; then
  node -e '
    const { run } = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const s = run.stats;
    console.log(`newman: ${s.requests.total} requests (${s.requests.failed} failed), ` +
      `${s.assertions.total} assertions (${s.assertions.failed} failed), ` +
      `${s.testScripts.failed + s.prerequestScripts.failed} script errors, ${run.failures.length} failures`);
  ' "$work/newman.json"
fi
if [ "$status" -ne 0 ]; then
  echo "test:postman: newman failed (exit $status); the server's log:" >&2
  cat "$log" >&2
fi
exit "$status"
