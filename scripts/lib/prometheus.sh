# Sourced by scripts/services.sh: a Prometheus scraping the Attune workers (docs/operations.md).
#
# The binary is Debian's `prometheus` package (it brings `promtool` too), installed with apt when missing. The
# package's own service (prometheus.service, on *:9090 with /etc/prometheus) is not the one we run: when this script
# installs the package it stops and disables that service at once, so the port is ours. We run our own process with
#  - config: ops/prometheus/prometheus.yml of this checkout, linked into the state dir with ops/prometheus/rules, so
#    that its relative paths (rules/*.yml, targets/*.json) resolve there;
#  - targets: $PROM_STATE/targets/attune.json (file_sd, re-read by Prometheus on change), written at every `up` from
#    ATTUNE_PROMETHEUS_TARGETS (comma-separated host:port, default 127.0.0.1:9464, the worker's ATTUNE_HTTP_PORT);
#  - storage: $PROM_STATE/data (retention ATTUNE_PROMETHEUS_RETENTION, default 7d; `reset prometheus` deletes it);
#  - address: 127.0.0.1:ATTUNE_PROMETHEUS_PORT, default 9090, Prometheus' usual port, which the Grafana datasource
#    and docker-compose.yml use as well. If something else holds it (e.g. a prometheus.service enabled by hand),
#    `up` refuses and names both ways out: stop that service, or pick another port.
# `up` on a running instance rewrites the targets and reloads the config and rules (POST /-/reload).

PROM_PORT="${ATTUNE_PROMETHEUS_PORT:-9090}"
PROM_TARGETS="${ATTUNE_PROMETHEUS_TARGETS:-127.0.0.1:9464}"
PROM_RETENTION="${ATTUNE_PROMETHEUS_RETENTION:-7d}"
PROM_STATE="$STATE_DIR/prometheus"
PROM_PIDFILE="$PROM_STATE/prometheus.pid"
PROM_LOG="$PROM_STATE/prometheus.log"
PROM_MARKER="--storage.tsdb.path=$PROM_STATE/data"
PROM_URL="http://$HOST:$PROM_PORT"
PROM_OPS="$ROOT/ops/prometheus"

require_prometheus() {
  if command -v prometheus >/dev/null && command -v promtool >/dev/null; then return; fi
  command -v apt-get >/dev/null || die "prometheus/promtool not found and apt-get unavailable: install Prometheus 2.x yourself"
  log prometheus "installing Debian's prometheus package (prometheus, promtool) with apt-get"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null
  command -v prometheus >/dev/null && command -v promtool >/dev/null || die "prometheus installation failed"
  # Under systemd the package starts its own service on *:9090; we only wanted the binaries.
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    as_root systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    log prometheus "stopped and disabled the package's prometheus.service (this script runs its own)"
  fi
}

# The file_sd targets file: one group, job "attune", the workers' /metrics addresses.
prometheus_targets() {
  local list=() t json
  IFS=',' read -r -a list <<<"$PROM_TARGETS"
  for t in "${list[@]}"; do
    t="${t// /}"
    [[ "$t" =~ ^[A-Za-z0-9.-]+:[0-9]+$ ]] || die "prometheus: ATTUNE_PROMETHEUS_TARGETS entry '$t' is not host:port (e.g. 127.0.0.1:9464)"
    json+="${json:+, }\"$t\""
  done
  mkdir -p "$PROM_STATE/targets"
  printf '[{"targets": [%s], "labels": {}}]\n' "$json" >"$PROM_STATE/targets/attune.json.tmp"
  mv "$PROM_STATE/targets/attune.json.tmp" "$PROM_STATE/targets/attune.json"
}

# The repo's config and rules, linked (not copied) so a reload picks up edits of this checkout.
prometheus_link_config() {
  mkdir -p "$PROM_STATE"
  ln -sfn "$PROM_OPS/prometheus.yml" "$PROM_STATE/prometheus.yml"
  ln -sfn "$PROM_OPS/rules" "$PROM_STATE/rules"
}

prometheus_prepare() {
  require_prometheus
  local out
  # Config and rules checked before anything starts: a bad rule file names itself here, not in the log.
  out="$(promtool check config "$PROM_OPS/prometheus.yml" 2>&1)" \
    || { echo "$out" >&2; die "prometheus: promtool check config $PROM_OPS/prometheus.yml failed"; }
}

prometheus_start() {
  local pid
  PROM_T0="$(now_ms)"; PROM_FRESH=0
  prometheus_link_config
  prometheus_targets
  if pid="$(pid_of "$PROM_PIDFILE" "$PROM_MARKER")" && ! pid_of "$PROM_PIDFILE" "--web.listen-address=$HOST:$PROM_PORT " >/dev/null; then
    log prometheus "running on another port (pid $pid): restarting it on $HOST:$PROM_PORT"
    stop_pid prometheus "$PROM_PIDFILE" "$PROM_MARKER" || true
  fi
  if pid="$(pid_of "$PROM_PIDFILE" "$PROM_MARKER")"; then
    curl -fsS -o /dev/null --max-time 10 -X POST "$PROM_URL/-/reload" \
      || die "prometheus: running (pid $pid) but POST $PROM_URL/-/reload failed (log $PROM_LOG)"
    log prometheus "already running (pid $pid): targets ($PROM_TARGETS) and config reloaded"
    return
  fi
  if port_open "$PROM_PORT"; then
    die "prometheus: port $HOST:$PROM_PORT is already in use by a process this script did not start (Debian's prometheus.service? stop it: systemctl disable --now prometheus; or choose another port: ATTUNE_PROMETHEUS_PORT=9091)"
  fi
  mkdir -p "$PROM_STATE/data"
  PROM_FRESH=1
  echo "===== $(date -Is) start" >>"$PROM_LOG"
  setsid nohup prometheus --config.file="$PROM_STATE/prometheus.yml" "$PROM_MARKER" \
    --storage.tsdb.retention.time="$PROM_RETENTION" --web.listen-address="$HOST:$PROM_PORT" \
    --web.enable-lifecycle >>"$PROM_LOG" 2>&1 </dev/null 9>&- &
  echo $! >"$PROM_PIDFILE"
  log prometheus "started pid $! ($PROM_URL, targets $PROM_TARGETS), log $PROM_LOG"
}

prometheus_wait() {
  local deadline=$(( $(date +%s) + TIMEOUT ))
  until [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$PROM_URL/-/ready" 2>/dev/null || true)" == 200 ]]; do
    pid_of "$PROM_PIDFILE" "$PROM_MARKER" >/dev/null || { show_log_tail "$PROM_LOG"; die "prometheus: process exited during start-up"; }
    if (( $(date +%s) >= deadline )); then
      show_log_tail "$PROM_LOG"
      [[ "$PROM_FRESH" == 1 ]] && stop_pid prometheus "$PROM_PIDFILE" "$PROM_MARKER" || true
      die "prometheus: GET $PROM_URL/-/ready did not return 200 within ${TIMEOUT}s"
    fi
    sleep 0.2
  done
  if [[ "$PROM_FRESH" == 1 ]]; then log prometheus "ready in $(secs_since "$PROM_T0") (GET /-/ready 200, $PROM_URL)"
  else log prometheus "ready (GET /-/ready 200, $PROM_URL)"; fi
}

prometheus_down() { stop_pid prometheus "$PROM_PIDFILE" "$PROM_MARKER" || log prometheus "not running (nothing to stop)"; }

prometheus_status() {
  local pid
  if pid="$(pid_of "$PROM_PIDFILE" "$PROM_MARKER")"; then
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$PROM_URL/-/ready" || true)" == 200 ]]; then
      log prometheus "running, ready (pid $pid, $PROM_URL, targets $(tr -d '\n' <"$PROM_STATE/targets/attune.json"))"
    else
      log prometheus "running, NOT ready (pid $pid, log $PROM_LOG)"; return 1
    fi
  elif port_open "$PROM_PORT"; then
    log prometheus "stopped (but $HOST:$PROM_PORT is in use by a process this script did not start)"; return 1
  else
    log prometheus "stopped"; return 1
  fi
}

prometheus_reset() { prometheus_down; rm -rf "$PROM_STATE"; log prometheus "state deleted ($PROM_STATE: TSDB, targets)"; }
