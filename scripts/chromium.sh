#!/usr/bin/env bash
# Debian's chromium for the dashboard's browser test (Playwright drives it). Installs it
# as root when missing; otherwise says so and the test skips with that reason.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium from Debian's packages…" >&2
  export DEBIAN_FRONTEND=noninteractive
  (apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null) ||
    echo "chromium could not be installed: the dashboard browser test will skip" >&2
else
  echo "chromium is missing (apt-get install chromium): the dashboard browser test will skip" >&2
fi
