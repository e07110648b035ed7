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
step "starting Kafka, the schema registry and Redis"
bash scripts/services.sh up kafka registry redis

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
echo
echo "Services are still running; stop them with: npm run services:down"
