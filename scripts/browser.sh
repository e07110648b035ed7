#!/usr/bin/env bash
# Headless Chromium for the browser tests (ops page, eval report): Debian's `chromium` package, installed with apt
# when missing. Test tools' own browser downloads (`npx playwright install`, `npm install puppeteer`) reach hosts
# outside the npm registry and fail on machines without general internet access, so the tests drive this one with
# playwright-core. Prints the browser's path; ATTUNE_CHROMIUM overrides it.
set -euo pipefail
bin="${ATTUNE_CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$bin" ]]; then
  command -v apt-get >/dev/null || { echo "browser.sh: error: $bin missing and apt-get unavailable: install Chromium and set ATTUNE_CHROMIUM" >&2; exit 1; }
  as_root() { if [[ "$(id -u)" -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
  echo "browser:  installing Debian's chromium with apt-get (once)" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
  [[ -x "$bin" ]] || { echo "browser.sh: error: chromium installation did not produce $bin" >&2; exit 1; }
fi
echo "$bin"
