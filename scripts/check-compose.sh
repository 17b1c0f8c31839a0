#!/usr/bin/env bash
# Checks docker-compose.yml without a Docker engine: the Compose tool validates it against its
# schema, and LocalStack must stay on the pinned release that runs without an auth token.
set -euo pipefail
cd "$(dirname "$0")/.."

if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
else
  echo "no Compose tool: install Docker Compose (Debian: apt-get install docker-compose)" >&2
  exit 1
fi

resolved="$("${compose[@]}" -f docker-compose.yml config)"
if ! grep -q "image: localstack/localstack:4.14.0$" <<<"$resolved"; then
  echo "docker-compose.yml: LocalStack must be pinned to localstack/localstack:4.14.0" >&2
  exit 1
fi
echo "docker-compose.yml: valid (${compose[*]})"
