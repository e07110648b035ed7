#!/usr/bin/env bash
# The main job end to end on a fresh machine: services up, the bundled data set replayed into Kafka, the worker
# consuming it, and some real customers' recommendations printed from the output topic.
# Environment: ATTUNE_DEMO_LIMIT=<n> replays only the first n events (default: all 386,354).
set -euo pipefail
cd "$(dirname "$0")/.."

export ATTUNE_TOPIC_PREFIX="${ATTUNE_TOPIC_PREFIX:-attune-demo}"
export ATTUNE_KEY_PREFIX="${ATTUNE_KEY_PREFIX:-attune-demo}"
export ATTUNE_GROUP_ID="${ATTUNE_GROUP_ID:-attune-demo-workers}"
export ATTUNE_LOG_LEVEL="${ATTUNE_LOG_LEVEL:-warn}"
# A demo on public data: without ATTUNE_PSEUDONYM_KEY the worker pseudonymises user ids with the public demo key
# (warned). Anything that is not a demo must set a key of its own.
export ATTUNE_DEMO=true
attune() { node bin/attune.js "$@"; }

step() { printf '\n== %s\n' "$*"; }

step "installing dependencies"
[[ -d node_modules ]] || npm ci --no-audit --no-fund
step "starting Kafka, the schema registry, Redis and Prometheus (it scrapes the worker's /metrics)"
bash scripts/services.sh up kafka registry redis prometheus

step "starting from a clean slate (topics ${ATTUNE_TOPIC_PREFIX}.*, Redis keys ${ATTUNE_KEY_PREFIX}:*)"
attune reset --yes
attune topics

step "replaying the UCI Online Retail data set (data/online-retail.csv.gz) into ${ATTUNE_TOPIC_PREFIX}.events"
limit=()
[[ -n "${ATTUNE_DEMO_LIMIT:-}" ]] && limit=(--limit "$ATTUNE_DEMO_LIMIT")
attune replay "${limit[@]}"

step "running the worker until it has caught up"
node bin/attune.js worker &
worker=$!
trap 'kill -TERM $worker 2>/dev/null || true' EXIT
started=$(date +%s%3N)
attune lag --wait --timeout 900
elapsed=$(( $(date +%s%3N) - started ))
events=$(attune lag | sed -n 's/.*: \([0-9]*\) events.*/\1/p')
echo "worker processed ${events} events in $((elapsed / 1000)).$(( (elapsed % 1000) / 100 )) s: $(( events * 1000 / (elapsed > 0 ? elapsed : 1) )) events/s (including group join)"
curl -s "http://127.0.0.1:${ATTUNE_HTTP_PORT:-9464}/metrics" | grep -E '^attune_(events_total|dlq_records_total|recommendation_lists_total|segment_changes_total|freshness_seconds_count|online_(interactions|hits)_total)' || true

step "segment members at the end of the replay (rules: config/segments.yaml)"
attune segments

step "recommendations of the most active customers, read back from ${ATTUNE_TOPIC_PREFIX}.recommendations"
attune show --top 5 --items 5

step "stopping the worker (SIGTERM: drain, commit, exit)"
kill -TERM "$worker"
wait "$worker" && echo "worker exited cleanly"
trap - EXIT

step "serving the lookup API and the ops page (attune api), left running"
state_dir="${ATTUNE_STATE_DIR:-$HOME/.local/state/attune}"
mkdir -p "$state_dir"
api_port="${ATTUNE_API_PORT:-8090}"
api_pid_file="$state_dir/demo-api.pid"
# A previous demo's API still holds the port: stop it first (only if the pid file names a live `attune api`).
old_api="$(cat "$api_pid_file" 2>/dev/null || true)"
if [[ -n "$old_api" ]] && tr '\0' ' ' 2>/dev/null <"/proc/$old_api/cmdline" | grep -q 'attune.js api'; then
  kill -TERM "$old_api" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$old_api" 2>/dev/null || break; sleep 0.1; done
fi
nohup node bin/attune.js api >"$state_dir/demo-api.log" 2>&1 </dev/null &
echo $! >"$api_pid_file"
api_pid=$!
for _ in $(seq 1 100); do
  kill -0 "$api_pid" 2>/dev/null || break
  curl -sf "http://127.0.0.1:${api_port}/healthz" >/dev/null && break
  sleep 0.2
done
# Our process must be the one answering (not a leftover on the port): alive, and /healthz up.
kill -0 "$api_pid" 2>/dev/null && curl -sf "http://127.0.0.1:${api_port}/healthz" >/dev/null || { echo "attune api did not start; its log:"; tail -20 "$state_dir/demo-api.log"; exit 1; }

echo
echo "Ops page:    http://127.0.0.1:${api_port}/ui/#key=attune-demo-key   (the demo's public API key)"
echo "Lookup API:  http://127.0.0.1:${api_port}/v1/users/<user id>/recommendations (docs/api.md; OpenAPI at /openapi.json)"
echo "Prometheus:  http://127.0.0.1:${ATTUNE_PROMETHEUS_PORT:-9090}   (alerts at /alerts; the Grafana dashboard: ops/grafana)"
echo
echo "The API (pid $(cat "$api_pid_file"), log $state_dir/demo-api.log) and the services are still running."
echo "Stop the API with: kill \$(cat $api_pid_file); the services with: npm run services:down"
