#!/usr/bin/env bash
# Checks the Node.js the web console needs (make ui-deps runs it):
#
#   check-node.sh            building (esbuild 0.28.2) and the unit tests: Node.js >= 18
#   check-node.sh --browser  also the browser tests: playwright-core 1.65.2 needs Node.js >= 20
#
# Without --browser, a Node.js 18 or 19 passes with a note that the browser
# tests cannot run on it; below the minimum it fails, saying what is needed.
set -euo pipefail
need=18
[ "${1:-}" = --browser ] && need=20
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "check-node: node and npm are needed to build the web console (Node.js >= $need); run scripts/install-deps.sh" >&2
  exit 1
fi
version=$(node -p 'process.versions.node')
major=${version%%.*}
if [ "$major" -lt "$need" ]; then
  echo "check-node: Node.js $version is too old: the web console needs Node.js >= $need" \
    "(browser tests: >= 20, for playwright-core 1.65.2; Debian 12's nodejs is 18): install Node.js 20 or later" >&2
  exit 1
fi
if [ "$major" -lt 20 ]; then
  echo "check-node: Node.js $version builds the web console, but its browser tests need Node.js >= 20" \
    "(playwright-core 1.65.2); install Node.js 20 or later to run them" >&2
fi
