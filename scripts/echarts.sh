#!/usr/bin/env bash
# Vendors Apache ECharts for the dashboard from the npm registry (never a CDN at run time):
# hub/dashboard/vendor/echarts.min.js, once. npm comes from Debian's packages if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
version=5.5.1
out=hub/dashboard/vendor
[ -s "$out/echarts-$version.min.js" ] && exit 0
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing npm from Debian's packages…" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq npm >/dev/null
  else
    echo "npm is missing: install it (apt-get install npm) for the dashboard's charts" >&2
    exit 1
  fi
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "echarts@$version" --silent >/dev/null && tar -xzf "echarts-$version.tgz")
mkdir -p "$out"
cp "$tmp/package/dist/echarts.min.js" "$out/echarts-$version.min.js"
cp "$tmp/package/LICENSE" "$out/ECHARTS-LICENSE"
