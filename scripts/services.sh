#!/usr/bin/env bash
# Attune local services without Docker: Kafka (KRaft, jars from Maven Central), Apicurio Registry
# (Confluent-compatible API), Redis, and optionally a 3-master Redis Cluster and the secured (TLS, SASL, ACL) services.
#
#   bash scripts/services.sh up     [kafka] [registry] [redis] [cluster] [secure] [prometheus]
#                                                                   (default: kafka registry redis)
#   bash scripts/services.sh down   [components]                                   (default: all)
#   bash scripts/services.sh status [components]                                   (default: all)
#   bash scripts/services.sh reset  [components]  down + delete their state (Kafka: all topics, offsets; secure: certs)
#   bash scripts/services.sh env [secure]          print the ATTUNE_* variables (eval "$(... env)")
#
# secure (docs/security.md): a TLS + ACL Redis on 6390 and a 3-master TLS + ACL Redis Cluster on 7100-7102, and
# Kafka (its SASL_SSL listener on 19094, SCRAM-SHA-512 and PLAIN, is always on; PLAINTEXT 19092 stays the
# default). Certificates (a local CA) and passwords are generated once into $STATE_DIR/secure (scripts/lib/secure.sh).
#
# Downloads are cached in ${ATTUNE_CACHE_DIR:-$HOME/.cache/attune} (Maven also fills ~/.m2), runtime
# state (pid files, Kafka log dirs, logs) lives in ${ATTUNE_STATE_DIR:-$HOME/.local/state/attune}.
# prometheus (docs/operations.md): Debian's prometheus package, our own process scraping the workers (job "attune",
# targets ATTUNE_PROMETHEUS_TARGETS, default 127.0.0.1:9464) with ops/prometheus/ config and alert rules, on
# 127.0.0.1:ATTUNE_PROMETHEUS_PORT (default 9090); scripts/lib/prometheus.sh.
# `up` is idempotent and waits on real readiness checks; `down` stops only what this script started.
# Port overrides: ATTUNE_KAFKA_PORT, ATTUNE_KAFKA_CONTROLLER_PORT, ATTUNE_KAFKA_SASL_PORT, ATTUNE_REGISTRY_PORT,
# ATTUNE_REDIS_PORT, ATTUNE_REDIS_CLUSTER_PORTS ("7000 7001 7002"), ATTUNE_REDIS_TLS_PORT,
# ATTUNE_REDIS_TLS_CLUSTER_PORTS ("7100 7101 7102"). Readiness timeout per service: ATTUNE_SERVICES_TIMEOUT (s).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POM="$ROOT/services/pom.xml"
CACHE_DIR="${ATTUNE_CACHE_DIR:-$HOME/.cache/attune}"
STATE_DIR="${ATTUNE_STATE_DIR:-$HOME/.local/state/attune}"

KAFKA_PORT="${ATTUNE_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${ATTUNE_KAFKA_CONTROLLER_PORT:-19093}"
REGISTRY_PORT="${ATTUNE_REGISTRY_PORT:-8081}"
REDIS_PORT="${ATTUNE_REDIS_PORT:-6379}"
read -r -a CLUSTER_PORTS <<<"${ATTUNE_REDIS_CLUSTER_PORTS:-7000 7001 7002}"
TIMEOUT="${ATTUNE_SERVICES_TIMEOUT:-180}"
HOST=127.0.0.1

pom_property() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" "$POM" | head -n1; }
KAFKA_VERSION="$(pom_property kafka.version)"
APICURIO_VERSION="$(pom_property apicurio.version)"
KAFKA_LIBS="$CACHE_DIR/kafka-$KAFKA_VERSION/libs"
APICURIO_HOME="$CACHE_DIR/apicurio-registry-$APICURIO_VERSION"
REGISTRY_BASE="http://$HOST:$REGISTRY_PORT/apis/ccompat/v7"

# ---------------------------------------------------------------------------------------------- helpers
log() { printf '%-9s %s\n' "$1:" "${*:2}"; }
die() { printf 'services.sh: error: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
secs_since() { awk -v a="$1" -v b="$(now_ms)" 'BEGIN { printf "%.2fs", (b - a) / 1000 }'; }

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# pid_of PIDFILE MARKER: print the pid if it is alive and its command line contains MARKER.
pid_of() {
  local pid
  [[ -s "$1" ]] || return 1
  pid="$(tr -dc '0-9' <"$1")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2" || return 1
  echo "$pid"
}

# stop_pid NAME PIDFILE MARKER: SIGTERM (controlled shutdown), wait up to 60 s, then SIGKILL.
stop_pid() {
  local name="$1" pidfile="$2" marker="$3" pid t0
  if ! pid="$(pid_of "$pidfile" "$marker")"; then
    [[ -e "$pidfile" ]] && rm -f "$pidfile" && log "$name" "stale pid file removed"
    return 1
  fi
  t0="$(now_ms)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name" "pid $pid ignored SIGTERM for 60s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  log "$name" "stopped (pid $pid) in $(secs_since "$t0")"
}

show_log_tail() { [[ -f "$1" ]] && { echo "---- last lines of $1 ----" >&2; tail -n 40 "$1" >&2; echo "----" >&2; }; return 0; }

require_java() {
  command -v java >/dev/null || die "java not found on PATH (need Java 17+; Debian: apt-get install -y openjdk-17-jre-headless)"
  local major
  major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | cut -d. -f1)"
  [[ "${major:-0}" -ge 17 ]] || die "Java 17+ required (found java.specification.version=${major:-unknown})"
}
require_mvn() {
  command -v mvn >/dev/null || die "mvn not found on PATH (needed once to download from Maven Central; Debian: apt-get install -y maven)"
}
require_node() {
  command -v node >/dev/null || die "node not found on PATH (Node 20+ is needed for the Kafka readiness check)"
  [[ -d "$ROOT/node_modules/kafkajs" ]] || die "node_modules/kafkajs missing: run 'npm ci' in $ROOT first"
}
as_root() { if [[ "$(id -u)" -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi; }
require_redis() {
  if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then return; fi
  command -v apt-get >/dev/null || die "redis-server/redis-cli not found and apt-get unavailable: install Redis 7 yourself"
  log redis "installing redis-server and redis-tools with apt-get"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server redis-tools >/dev/null
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || die "redis installation failed"
}
redis_ping() { [[ "$(redis-cli -h "$HOST" -p "$1" ping 2>/dev/null)" == PONG ]]; }

# ---------------------------------------------------------------------------------------------- kafka
KAFKA_STATE="$STATE_DIR/kafka"
KAFKA_PIDFILE="$KAFKA_STATE/kafka.pid"
KAFKA_LOG="$KAFKA_STATE/kafka.log"
KAFKA_MARKER="-Dattune.service=kafka"

kafka_download() {
  [[ -f "$KAFKA_LIBS/.complete" ]] && return
  require_mvn
  local t0 tmp="$KAFKA_LIBS.tmp.$$"
  t0="$(now_ms)"
  log kafka "downloading the broker classpath (kafka_2.13:$KAFKA_VERSION) from Maven Central into $KAFKA_LIBS"
  rm -rf "$tmp"
  mvn -B -q -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
    || die "mvn failed to gather the Kafka classpath (see the output above)"
  ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "kafka_2.13 jar missing from $tmp"
  touch "$tmp/.complete"
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
  log kafka "downloaded $(ls "$KAFKA_LIBS"/*.jar | wc -l) jars ($(du -sh "$KAFKA_LIBS" | cut -f1)) in $(secs_since "$t0")"
}

# Downloads happen before any service starts, so start-up times do not include them.
kafka_prepare() {
  pid_of "$KAFKA_PIDFILE" "$KAFKA_MARKER" >/dev/null && return
  require_java
  require_node
  require_openssl
  kafka_download
  secure_material
}

kafka_start() {
  local pid
  secure_material
  if pid="$(pid_of "$KAFKA_PIDFILE" "$KAFKA_MARKER")"; then
    # A broker started with another configuration (before the SASL_SSL listener, other ports or passwords)
    # is restarted once with the current one; its data stays.
    kafka_render_properties "$KAFKA_STATE/server.properties.next"
    if cmp -s "$KAFKA_STATE/server.properties.next" "$KAFKA_STATE/server.properties"; then
      rm -f "$KAFKA_STATE/server.properties.next"
      KAFKA_T0="$(now_ms)"; KAFKA_FRESH=0
      log kafka "already running (pid $pid)"
      return
    fi
    rm -f "$KAFKA_STATE/server.properties.next"
    log kafka "running with an older configuration (pid $pid): restarting it with the current one"
    stop_pid kafka "$KAFKA_PIDFILE" "$KAFKA_MARKER" || true
  fi
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$KAFKA_SASL_PORT"; do
    if port_open "$p"; then die "kafka: port $HOST:$p is already in use by a process this script did not start"; fi
  done
  kafka_prepare
  mkdir -p "$KAFKA_STATE/data"
  kafka_render_properties "$KAFKA_STATE/server.properties"
  local java_opts=(-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true "$KAFKA_MARKER"
    "-Dlog4j.configuration=file:$ROOT/services/kafka/log4j.properties" -cp "$KAFKA_LIBS/*")
  if [[ ! -f "$KAFKA_STATE/data/meta.properties" ]]; then
    local cluster_id t0
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    t0="$(now_ms)"
    java "${java_opts[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_STATE/server.properties" \
      --add-scram "$(kafka_scram_arg)" >"$KAFKA_STATE/format.log" 2>&1 9>&- \
      || { show_log_tail "$KAFKA_STATE/format.log"; die "kafka: storage format failed"; }
    echo "$KAFKA_SCRAM_USERNAME:$(sha1sum <<<"$KAFKA_SCRAM_PASSWORD" | cut -c1-12)" >"$KAFKA_STATE/data/.attune-scram-users"
    log kafka "formatted $KAFKA_STATE/data (cluster id $cluster_id) in $(secs_since "$t0")"
  fi
  KAFKA_T0="$(now_ms)"; KAFKA_FRESH=1
  echo "===== $(date -Is) start" >>"$KAFKA_LOG"
  setsid nohup java "${java_opts[@]}" kafka.Kafka "$KAFKA_STATE/server.properties" >>"$KAFKA_LOG" 2>&1 </dev/null 9>&- &
  echo $! >"$KAFKA_PIDFILE"
  log kafka "started pid $! ($HOST:$KAFKA_PORT, controller $KAFKA_CONTROLLER_PORT), log $KAFKA_LOG"
}

kafka_wait() {
  local pid out
  pid="$(pid_of "$KAFKA_PIDFILE" "$KAFKA_MARKER")" || { show_log_tail "$KAFKA_LOG"; die "kafka: process exited during start-up"; }
  if ! out="$(node "$ROOT/scripts/lib/kafka-ready.mjs" --brokers "$HOST:$KAFKA_PORT" --timeout "$TIMEOUT" --pid "$pid")"; then
    show_log_tail "$KAFKA_LOG"
    [[ "$KAFKA_FRESH" == 1 ]] && stop_pid kafka "$KAFKA_PIDFILE" "$KAFKA_MARKER" || true
    die "kafka: not ready within ${TIMEOUT}s (admin describeCluster on $HOST:$KAFKA_PORT)"
  fi
  kafka_scram_users
  if [[ "$KAFKA_FRESH" == 1 ]]; then
    log kafka "ready in $(secs_since "$KAFKA_T0") (admin describeCluster ok: $out; SASL_SSL on $HOST:$KAFKA_SASL_PORT)"
  else
    log kafka "ready (admin describeCluster ok)"
  fi
}

kafka_down() { stop_pid kafka "$KAFKA_PIDFILE" "$KAFKA_MARKER" || log kafka "not running (nothing to stop)"; }

kafka_status() {
  local pid
  if pid="$(pid_of "$KAFKA_PIDFILE" "$KAFKA_MARKER")"; then
    if node "$ROOT/scripts/lib/kafka-ready.mjs" --brokers "$HOST:$KAFKA_PORT" --timeout 5 --pid "$pid" >/dev/null 2>&1; then
      log kafka "running, ready (pid $pid, $HOST:$KAFKA_PORT, data $KAFKA_STATE/data)"
    else
      log kafka "running, NOT ready (pid $pid, $HOST:$KAFKA_PORT, log $KAFKA_LOG)"; return 1
    fi
  elif port_open "$KAFKA_PORT"; then
    log kafka "stopped (but $HOST:$KAFKA_PORT is in use by a process this script did not start)"; return 1
  else
    log kafka "stopped"; return 1
  fi
}

kafka_reset() {
  kafka_down
  rm -rf "$KAFKA_STATE/data" "$KAFKA_STATE/format.log"
  log kafka "state deleted ($KAFKA_STATE/data); the next up formats a new cluster"
}

# ---------------------------------------------------------------------------------------------- registry
REGISTRY_STATE="$STATE_DIR/registry"
REGISTRY_PIDFILE="$REGISTRY_STATE/registry.pid"
REGISTRY_LOG="$REGISTRY_STATE/registry.log"
REGISTRY_MARKER="-Dattune.service=registry"
REGISTRY_COMPAT="BACKWARD"

registry_download() {
  [[ -f "$APICURIO_HOME/.complete" ]] && return
  # Not through mvn: the 3.0.9 parent POM is missing from Central, so Maven cannot read the artifact
  # descriptor (see services/pom.xml). Fetch the one file by its repository path and check its sha1.
  local t0 tmp="$APICURIO_HOME.tmp.$$" path sum want
  # Maven itself says where its central repository is (the super POM's first repository), so the address
  # follows the Maven installation; ATTUNE_MAVEN_REPO_URL overrides it.
  MAVEN_REPO_URL="${ATTUNE_MAVEN_REPO_URL:-$(mvn -q -B -f "$POM" org.apache.maven.plugins:maven-help-plugin:3.5.1:evaluate \
    -Dexpression='project.repositories[0].url' -DforceStdout 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' | tr -d '[:space:]')}"
  [[ "$MAVEN_REPO_URL" == http* ]] || die "registry: could not ask Maven for its repository URL; set ATTUNE_MAVEN_REPO_URL"
  path="io/apicurio/apicurio-registry-app/$APICURIO_VERSION/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz"
  command -v curl >/dev/null || die "curl not found (needed once to download Apicurio Registry)"
  t0="$(now_ms)"
  log registry "downloading apicurio-registry-app:$APICURIO_VERSION:tar.gz:all (~110 MB, once) into $APICURIO_HOME"
  rm -rf "$tmp" && mkdir -p "$tmp"
  curl -fsSL --retry 3 -o "$tmp/app.tar.gz" "$MAVEN_REPO_URL/$path" || die "registry: download of $MAVEN_REPO_URL/$path failed"
  want="$(curl -fsSL --retry 3 "$MAVEN_REPO_URL/$path.sha1" | cut -c1-40)" || die "registry: download of $path.sha1 failed"
  sum="$(sha1sum "$tmp/app.tar.gz" | cut -c1-40)"
  [[ "$sum" == "$want" ]] || die "registry: sha1 mismatch for $path (got $sum, expected $want)"
  tar -xzf "$tmp/app.tar.gz" -C "$tmp" && rm -f "$tmp/app.tar.gz" || die "registry: could not unpack the archive"
  [[ -n "$(registry_jar "$tmp")" ]] || die "registry: no runner jar in the unpacked archive ($tmp)"
  touch "$tmp/.complete"
  rm -rf "$APICURIO_HOME"
  mv "$tmp" "$APICURIO_HOME"
  log registry "downloaded and unpacked ($(du -sh "$APICURIO_HOME" | cut -f1)) in $(secs_since "$t0")"
}

# The runnable jar: a Quarkus legacy-jar (<name>-runner.jar + lib/, 3.0.x) or a fast-jar (quarkus-run.jar).
registry_jar() { find "$1" -maxdepth 2 \( -name quarkus-run.jar -o -name '*-runner.jar' \) -print -quit; }

registry_prepare() {
  pid_of "$REGISTRY_PIDFILE" "$REGISTRY_MARKER" >/dev/null && return
  require_java
  registry_download
}

registry_start() {
  local pid
  if pid="$(pid_of "$REGISTRY_PIDFILE" "$REGISTRY_MARKER")"; then
    REGISTRY_T0="$(now_ms)"; REGISTRY_FRESH=0
    log registry "already running (pid $pid)"
    return
  fi
  if port_open "$REGISTRY_PORT"; then die "registry: port $HOST:$REGISTRY_PORT is already in use by a process this script did not start"; fi
  registry_prepare
  mkdir -p "$REGISTRY_STATE"
  REGISTRY_T0="$(now_ms)"; REGISTRY_FRESH=1
  echo "===== $(date -Is) start" >>"$REGISTRY_LOG"
  # Storage: Apicurio's default, SQL on an in-memory H2 database (gone on stop).
  # C1 only (TieredStopAtLevel=1): halves start-up on a 2-CPU machine; schema look-ups are light.
  # apicurio.rules.global.compatibility is the default global rule, enforced on registration; 3.0.9's
  # ccompat GET /config does not report that default, so registry_wait also PUTs it (see there).
  local jar
  jar="$(registry_jar "$APICURIO_HOME")"
  [[ -n "$jar" ]] || die "registry: no runner jar in $APICURIO_HOME (delete that dir to download again)"
  (cd "$REGISTRY_STATE" && exec setsid nohup java -Xmx512m -XX:+UseG1GC -XX:TieredStopAtLevel=1 "$REGISTRY_MARKER" \
      -Dquarkus.http.host="$HOST" -Dquarkus.http.port="$REGISTRY_PORT" \
      -Dapicurio.rules.global.compatibility="$REGISTRY_COMPAT" \
      -jar "$jar" >>"$REGISTRY_LOG" 2>&1 </dev/null 9>&-) &
  echo $! >"$REGISTRY_PIDFILE"
  log registry "started pid $! ($HOST:$REGISTRY_PORT), log $REGISTRY_LOG"
}

registry_wait() {
  local pid deadline code cfg
  deadline=$(( $(date +%s) + TIMEOUT ))
  while :; do
    pid="$(pid_of "$REGISTRY_PIDFILE" "$REGISTRY_MARKER")" || { show_log_tail "$REGISTRY_LOG"; die "registry: process exited during start-up"; }
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$REGISTRY_BASE/subjects" 2>/dev/null || true)"
    [[ "$code" == 200 ]] && break
    if (( $(date +%s) >= deadline )); then
      show_log_tail "$REGISTRY_LOG"
      [[ "$REGISTRY_FRESH" == 1 ]] && stop_pid registry "$REGISTRY_PIDFILE" "$REGISTRY_MARKER" || true
      die "registry: GET $REGISTRY_BASE/subjects did not return 200 within ${TIMEOUT}s (last: ${code:-none})"
    fi
    sleep 0.25
  done
  # Make the global rule explicit in storage so GET /config says BACKWARD (idempotent; storage is
  # in-memory, so this is needed after every start).
  curl -fsS -o /dev/null --max-time 5 -X PUT -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
    -d "{\"compatibility\":\"$REGISTRY_COMPAT\"}" "$REGISTRY_BASE/config" \
    || die "registry: PUT $REGISTRY_BASE/config (global compatibility $REGISTRY_COMPAT) failed"
  cfg="$(curl -fsS --max-time 5 "$REGISTRY_BASE/config" || true)"
  [[ "$cfg" == *"\"$REGISTRY_COMPAT\""* ]] \
    || die "registry: global compatibility is not $REGISTRY_COMPAT (GET $REGISTRY_BASE/config -> ${cfg:-no answer})"
  if [[ "$REGISTRY_FRESH" == 1 ]]; then
    log registry "ready in $(secs_since "$REGISTRY_T0") (GET /subjects 200, config $cfg)"
  else
    log registry "ready (GET /subjects 200, config $cfg)"
  fi
}

registry_down() { stop_pid registry "$REGISTRY_PIDFILE" "$REGISTRY_MARKER" || log registry "not running (nothing to stop)"; }

registry_status() {
  local pid
  if pid="$(pid_of "$REGISTRY_PIDFILE" "$REGISTRY_MARKER")"; then
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$REGISTRY_BASE/subjects" || true)" == 200 ]]; then
      log registry "running, ready (pid $pid, $REGISTRY_BASE)"
    else
      log registry "running, NOT ready (pid $pid, log $REGISTRY_LOG)"; return 1
    fi
  elif port_open "$REGISTRY_PORT"; then
    log registry "stopped (but $HOST:$REGISTRY_PORT is in use by a process this script did not start)"; return 1
  else
    log registry "stopped"; return 1
  fi
}

registry_reset() { registry_down; rm -rf "$REGISTRY_STATE"; log registry "state deleted (storage is in-memory anyway)"; }

# ---------------------------------------------------------------------------------------------- redis
REDIS_STATE="$STATE_DIR/redis"
REDIS_PIDFILE="$REDIS_STATE/redis-$REDIS_PORT.pid"
REDIS_MARKER="redis-server $HOST:$REDIS_PORT"

redis_prepare() { require_redis; }

redis_start() {
  local pid
  REDIS_T0="$(now_ms)"; REDIS_FRESH=0
  if pid="$(pid_of "$REDIS_PIDFILE" "$REDIS_MARKER")"; then
    log redis "already running (pid $pid)"
    return
  fi
  require_redis
  if redis_ping "$REDIS_PORT"; then
    log redis "using the Redis already answering on $HOST:$REDIS_PORT (not started here; down leaves it alone)"
    return
  fi
  if port_open "$REDIS_PORT"; then die "redis: port $HOST:$REDIS_PORT is in use but does not answer PING"; fi
  mkdir -p "$REDIS_STATE"
  rm -f "$REDIS_PIDFILE"
  REDIS_T0="$(now_ms)"; REDIS_FRESH=1
  redis-server --bind "$HOST" --port "$REDIS_PORT" --save "" --appendonly no --daemonize yes \
    --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_STATE/redis-$REDIS_PORT.log" --dir "$REDIS_STATE" 9>&- \
    || die "redis: redis-server failed to start (log $REDIS_STATE/redis-$REDIS_PORT.log)"
  log redis "started redis-server ($HOST:$REDIS_PORT), log $REDIS_STATE/redis-$REDIS_PORT.log"
}

redis_wait() {
  local deadline=$(( $(date +%s) + TIMEOUT ))
  until redis_ping "$REDIS_PORT"; do
    if (( $(date +%s) >= deadline )); then
      show_log_tail "$REDIS_STATE/redis-$REDIS_PORT.log"
      die "redis: $HOST:$REDIS_PORT did not answer PING within ${TIMEOUT}s"
    fi
    sleep 0.1
  done
  # With --daemonize the pid file is written shortly after fork; make sure we own it before returning.
  if [[ "$REDIS_FRESH" == 1 ]]; then
    for _ in $(seq 1 50); do pid_of "$REDIS_PIDFILE" "$REDIS_MARKER" >/dev/null && break; sleep 0.1; done
    pid_of "$REDIS_PIDFILE" "$REDIS_MARKER" >/dev/null || die "redis: no valid pid file at $REDIS_PIDFILE"
    log redis "ready in $(secs_since "$REDIS_T0") (PING -> PONG)"
  else
    log redis "ready (PING -> PONG)"
  fi
}

redis_down() {
  if stop_pid redis "$REDIS_PIDFILE" "$REDIS_MARKER"; then return; fi
  if command -v redis-cli >/dev/null && redis_ping "$REDIS_PORT"; then
    log redis "not started by this script; leaving the Redis on $HOST:$REDIS_PORT running"
  else
    log redis "not running (nothing to stop)"
  fi
}

redis_status() {
  local pid
  if pid="$(pid_of "$REDIS_PIDFILE" "$REDIS_MARKER")"; then
    redis_ping "$REDIS_PORT" && log redis "running, ready (pid $pid, redis://$HOST:$REDIS_PORT)" \
      || { log redis "running, NOT answering PING (pid $pid)"; return 1; }
  elif command -v redis-cli >/dev/null && redis_ping "$REDIS_PORT"; then
    log redis "ready, external (redis://$HOST:$REDIS_PORT answers PING; not managed by this script)"
  else
    log redis "stopped"; return 1
  fi
}

redis_reset() { redis_down; rm -rf "$REDIS_STATE"; }

# ---------------------------------------------------------------------------------------------- cluster
CLUSTER_STATE="$STATE_DIR/redis-cluster"
cluster_marker() { echo "redis-server $HOST:$1 [cluster]"; }
cluster_pidfile() { echo "$CLUSTER_STATE/redis-$1.pid"; }
cluster_ok() { redis-cli -h "$HOST" -p "$1" cluster info 2>/dev/null | tr -d '\r' | grep -qx 'cluster_state:ok'; }

cluster_running() {
  local p
  for p in "${CLUSTER_PORTS[@]}"; do
    pid_of "$(cluster_pidfile "$p")" "$(cluster_marker "$p")" >/dev/null || return 1
  done
}

cluster_prepare() { require_redis; }

cluster_any_running() {
  local p
  for p in "${CLUSTER_PORTS[@]}"; do
    pid_of "$(cluster_pidfile "$p")" "$(cluster_marker "$p")" >/dev/null && return 0
  done
  return 1
}

cluster_start() {
  local p ok=1
  CLUSTER_T0="$(now_ms)"; CLUSTER_FRESH=0
  require_redis
  if cluster_running; then
    for p in "${CLUSTER_PORTS[@]}"; do cluster_ok "$p" || ok=0; done
    if [[ "$ok" == 1 ]]; then log cluster "already running (ports ${CLUSTER_PORTS[*]})"; return; fi
    log cluster "running but not healthy: recreating it"
  fi
  cluster_down quiet
  for p in "${CLUSTER_PORTS[@]}"; do
    if port_open "$p"; then die "cluster: port $HOST:$p is already in use by a process this script did not start"; fi
  done
  # --cluster create refuses nodes that already know a cluster: always start from empty dirs.
  rm -rf "$CLUSTER_STATE"
  CLUSTER_T0="$(now_ms)"; CLUSTER_FRESH=1
  for p in "${CLUSTER_PORTS[@]}"; do
    mkdir -p "$CLUSTER_STATE/$p"
    redis-server --bind "$HOST" --port "$p" --cluster-enabled yes --cluster-config-file "nodes-$p.conf" \
      --cluster-node-timeout 2000 --save "" --appendonly no --dir "$CLUSTER_STATE/$p" --daemonize yes \
      --pidfile "$(cluster_pidfile "$p")" --logfile "$CLUSTER_STATE/$p/redis.log" 9>&- \
      || die "cluster: redis-server on port $p failed to start"
  done
  log cluster "started 3 redis-server nodes (ports ${CLUSTER_PORTS[*]}) in $CLUSTER_STATE"
}

cluster_wait() {
  local p deadline=$(( $(date +%s) + TIMEOUT )) nodes=()
  for p in "${CLUSTER_PORTS[@]}"; do
    until redis_ping "$p"; do
      (( $(date +%s) < deadline )) || die "cluster: node $HOST:$p did not answer PING within ${TIMEOUT}s"
      sleep 0.1
    done
    nodes+=("$HOST:$p")
  done
  if [[ "$CLUSTER_FRESH" == 1 ]]; then
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$CLUSTER_STATE/create.log" 2>&1 \
      || { show_log_tail "$CLUSTER_STATE/create.log"; die "cluster: redis-cli --cluster create failed"; }
  fi
  for p in "${CLUSTER_PORTS[@]}"; do
    until cluster_ok "$p"; do
      (( $(date +%s) < deadline )) || die "cluster: node $HOST:$p did not reach cluster_state:ok within ${TIMEOUT}s"
      sleep 0.1
    done
  done
  if [[ "$CLUSTER_FRESH" == 1 ]]; then
    log cluster "ready in $(secs_since "$CLUSTER_T0") (cluster_state:ok on ${nodes[*]})"
  else
    log cluster "ready (cluster_state:ok on ${nodes[*]})"
  fi
}

cluster_down() {
  local p jobs=() j stopped=0
  # Stop the nodes in parallel (each redis-server takes ~2 s to exit after SIGTERM).
  for p in "${CLUSTER_PORTS[@]}"; do
    if [[ "${1:-}" == quiet ]]; then
      stop_pid "cluster" "$(cluster_pidfile "$p")" "$(cluster_marker "$p")" >/dev/null &
    else
      stop_pid "cluster" "$(cluster_pidfile "$p")" "$(cluster_marker "$p")" &
    fi
    jobs+=("$!")
  done
  for j in "${jobs[@]}"; do wait "$j" && stopped=1 || true; done
  if [[ "${1:-}" != quiet ]]; then
    if [[ "$stopped" == 1 ]]; then rm -rf "$CLUSTER_STATE"; else log cluster "not running (nothing to stop)"; fi
  fi
}

cluster_status() {
  local p pid ok=0
  if ! cluster_any_running; then log cluster "stopped (start it with: up cluster)"; return 1; fi
  for p in "${CLUSTER_PORTS[@]}"; do
    if pid="$(pid_of "$(cluster_pidfile "$p")" "$(cluster_marker "$p")")"; then
      if cluster_ok "$p"; then log cluster "node $HOST:$p running, cluster_state:ok (pid $pid)"
      else log cluster "node $HOST:$p running, cluster_state NOT ok (pid $pid)"; ok=1; fi
    else
      log cluster "node $HOST:$p stopped"; ok=1
    fi
  done
  return "$ok"
}

cluster_reset() { cluster_down; }

# ---------------------------------------------------------------------------------------------- secure
# shellcheck source=lib/secure.sh
. "$ROOT/scripts/lib/secure.sh"
# shellcheck source=lib/prometheus.sh
. "$ROOT/scripts/lib/prometheus.sh"

# ---------------------------------------------------------------------------------------------- main
print_env() {
  cat <<EOF
export ATTUNE_KAFKA_BROKERS=$HOST:$KAFKA_PORT
export ATTUNE_REGISTRY_URL=$REGISTRY_BASE
export ATTUNE_REDIS_URL=redis://$HOST:$REDIS_PORT
export ATTUNE_REDIS_CLUSTER_NODES=$(printf "$HOST:%s," "${CLUSTER_PORTS[@]}" | sed 's/,$//')
EOF
}

# The secured endpoints (docs/security.md), as a client of them sets them; passwords are read from their file.
print_secure_env() {
  secure_material >/dev/null
  cat <<EOF
# SASL_SSL Kafka (SCRAM-SHA-512), TLS + ACL Redis; local test material from $SECURE_DIR
export ATTUNE_KAFKA_BROKERS=$HOST:$KAFKA_SASL_PORT
export ATTUNE_KAFKA_SSL=true
export ATTUNE_KAFKA_SSL_CA_FILE=$SECURE_DIR/ca.crt
export ATTUNE_KAFKA_SASL_MECHANISM=scram-sha-512
export ATTUNE_KAFKA_SASL_USERNAME=$KAFKA_SCRAM_USERNAME
export ATTUNE_KAFKA_SASL_PASSWORD="\$(sed -n 's/^KAFKA_SCRAM_PASSWORD=//p' $SECURE_ENV)"
export ATTUNE_REDIS_URL=rediss://$HOST:$REDIS_TLS_PORT
export ATTUNE_REDIS_TLS_CA_FILE=$SECURE_DIR/ca.crt
export ATTUNE_REDIS_USERNAME=$REDIS_USERNAME
export ATTUNE_REDIS_PASSWORD="\$(sed -n 's/^REDIS_PASSWORD=//p' $SECURE_ENV)"
EOF
}

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
comps=("$@")
for c in "${comps[@]}"; do
  case "$c" in kafka | registry | redis | cluster | secure | prometheus) ;; *) usage >&2; die "unknown component '$c'" ;; esac
done

case "$cmd" in
  up | down | status | reset) ;;
  # Plain env needs no lock; `env secure` may generate the certificates, under the lock below.
  env) [[ " ${comps[*]} " == *" secure "* ]] || { print_env; exit 0; } ;;
  -h | --help | help) usage; exit 0 ;;
  *) usage >&2; die "unknown command '${cmd}'" ;;
esac

mkdir -p "$STATE_DIR" "$CACHE_DIR"
# Serialize concurrent invocations (several engineers / test runs on one machine). Every process
# started below gets `9>&-`, so no service keeps holding the lock after this script exits.
exec 9>"$STATE_DIR/services.lock"
if ! flock -n 9; then
  echo "services.sh: another services.sh is running; waiting for it..." >&2
  flock -w 900 9 || die "timed out waiting for $STATE_DIR/services.lock"
fi

case "$cmd" in
  env) print_secure_env ;;
  up)
    [[ ${#comps[@]} -gt 0 ]] || comps=(kafka registry redis)
    # The SASL_SSL listener is on the broker: `up secure` brings Kafka up too.
    [[ " ${comps[*]} " == *" secure "* ]] && comps+=(kafka)
    # Keep a stable order; start everything first, then wait, so the JVMs boot in parallel.
    ordered=()
    for c in kafka registry redis cluster secure prometheus; do [[ " ${comps[*]} " == *" $c "* ]] && ordered+=("$c"); done
    t_all="$(now_ms)"
    for c in "${ordered[@]}"; do "${c}_prepare"; done
    for c in "${ordered[@]}"; do "${c}_start"; done
    for c in "${ordered[@]}"; do "${c}_wait"; done
    echo "all ready in $(secs_since "$t_all") (${ordered[*]}). Environment:"
    print_env
    ;;
  down)
    [[ ${#comps[@]} -gt 0 ]] || comps=(kafka registry redis cluster secure prometheus)
    for c in prometheus secure cluster redis registry kafka; do if [[ " ${comps[*]} " == *" $c "* ]]; then "${c}_down"; fi; done
    ;;
  reset)
    [[ ${#comps[@]} -gt 0 ]] || comps=(kafka registry redis cluster secure prometheus)
    for c in prometheus secure cluster redis registry kafka; do if [[ " ${comps[*]} " == *" $c "* ]]; then "${c}_reset"; fi; done
    ;;
  status)
    # Exit 0 when every component asked about is ready; without arguments: kafka, registry and redis
    # (the cluster is then listed too but only started on request, so it does not count).
    required=("${comps[@]}")
    [[ ${#comps[@]} -gt 0 ]] || { comps=(kafka registry redis cluster secure prometheus); required=(kafka registry redis); }
    rc=0
    for c in kafka registry redis cluster secure prometheus; do
      [[ " ${comps[*]} " == *" $c "* ]] || continue
      if ! "${c}_status" && [[ " ${required[*]} " == *" $c "* ]]; then rc=1; fi
    done
    exit "$rc"
    ;;
esac
