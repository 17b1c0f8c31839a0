#!/usr/bin/env bash
# `npm run lint:openapi`: docs/openapi.json against Redocly's recommended rules (redocly.yaml) and
# Spectral's spectral:oas (.spectral.yaml), both pinned devDependencies. Either one's warning fails
# it as an error does: Redocly exits 0 on warnings, so its JSON totals are read here.
set -euo pipefail
cd "$(dirname "$0")/.."
document=docs/openapi.json

echo "Redocly CLI $(npx redocly --version) (recommended):"
if ! report=$(npx redocly lint --format=json 2>/dev/null); then
  npx redocly lint "$document" || true
  exit 1
fi
totals=$(node -e 'const t = JSON.parse(require("fs").readFileSync(0, "utf8")).totals;
  console.log(`${t.errors} errors, ${t.warnings} warnings, ${t.ignored} ignored`); process.exit(t.errors + t.warnings + t.ignored ? 1 : 0)' <<<"$report") || {
  echo "  $totals"
  npx redocly lint "$document" || true
  exit 1
}
echo "  $totals"

echo "Spectral $(npx spectral --version) (spectral:oas):"
npx spectral lint "$document" --fail-severity=hint --format=stylish
