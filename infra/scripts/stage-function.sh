#!/usr/bin/env bash
# Stages the Cloud Function source from a fresh build (`npm run build`):
#   dist/bundle                    the esbuild bundle of the function and its client libraries
#                                  (package.json main: dist/bundle/index.mjs); only the
#                                  Functions Framework is loaded from node_modules
#   package.json, package-lock.json   the runtime installs production dependencies with npm ci
#   policies/                      policy files, selectable with SCC_RESPONDER_POLICY, each with
#                                  its data compiled beside it (<file>.compiled.json, see
#                                  shared/policy/compiled.ts: a new instance skips the YAML parse)
# into dist/function-source (or $1); Terraform zips that directory (data.archive_file.source).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-$root/dist/function-source}"
case "$out" in
  "" | "/" | "$root" | "$root/dist") echo "stage-function: refusing to stage into '$out'" >&2; exit 2 ;;
esac
main="$root/dist/bundle/index.mjs"
if [[ ! -f "$main" ]]; then
  echo "stage-function: $main is missing; run npm run build first" >&2
  exit 1
fi
rm -rf "$out"
mkdir -p "$out/dist"
cp -R "$root/dist/bundle" "$out/dist/"
cp "$root/package.json" "$root/package-lock.json" "$out/"
cp -R "$root/policies" "$out/policies"
(cd "$root" && node --import tsx scripts/compile-policies.ts "$out/policies")
# Development scripts reference files that are not shipped (tsconfig, scripts/): drop them so
# no buildpack or `npm ci` lifecycle can try to run them.
(cd "$out" && npm pkg delete scripts)
# Reproducible zip input: same build, same bytes, same object name, no needless redeploy.
find "$out" -exec touch -h -d '1980-01-02T00:00:00Z' {} +
echo "stage-function: staged $(find "$out" -type f | wc -l) files in $out"
