#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs dependencies when missing, brings up the real services
# (Kafka, schema registry, Redis, the 3-master Redis Cluster for the cluster suite, and the secured services of the
# security suite), then runs every layer: unit, functional, cluster, fault and security. Services stay up for the
# next run; `npm run services:down` stops them.
# Only the cluster suite uses the Redis Cluster (127.0.0.1:7000-7002, or ATTUNE_REDIS_CLUSTER_NODES); the other
# suites use the single Redis.
set -euo pipefail
cd "$(dirname "$0")/.."

[[ -d node_modules ]] || npm ci --no-audit --no-fund
# secure: the TLS + ACL Redis and TLS Cluster and the broker's SASL_SSL listener of test/security (certificates
# are made once and cached in the state dir; the secured Redis servers start in a few seconds).
# prometheus: installs Debian's package, whose promtool the rules and metrics tests run (the dashboard and alert
# tests start Prometheus instances of their own with the same script, on ports and state dirs of theirs).
bash scripts/services.sh up kafka registry redis cluster secure prometheus
# Headless Chromium (Debian's) for the browser tests of the ops page and the eval report.
# (assigned apart from export: `export X="$(cmd)"` takes export's status, and set -e would miss a failed install)
ATTUNE_CHROMIUM="$(bash scripts/browser.sh)"
export ATTUNE_CHROMIUM
export ATTUNE_LOG_LEVEL="${ATTUNE_LOG_LEVEL:-warn}"
report="$(mktemp -t attune-vitest.XXXXXX.json)"
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
# A plain closing line any CI can read: passed, failed (and skipped) tests of the whole run.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$report" || true
rm -f "$report"
exit "$status"
