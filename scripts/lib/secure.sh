# Sourced by scripts/services.sh: the secured local services (docs/security.md).
#
#  - a local CA and one server certificate (SAN localhost, 127.0.0.1), generated once with openssl and kept in
#    $SECURE_DIR until `reset secure`; random passwords for the local users, kept next to them (mode 600);
#  - Kafka: the broker's SASL_SSL listener (ATTUNE_KAFKA_SASL_PORT, 19094) with SCRAM-SHA-512 users (added at
#    format time, or with kafka.admin.ConfigCommand for a log dir formatted before) and PLAIN users (JAAS);
#  - a TLS-only Redis (ATTUNE_REDIS_TLS_PORT, 6390) and a 3-master TLS-only Redis Cluster
#    (ATTUNE_REDIS_TLS_CLUSTER_PORTS, 7100-7102, cluster bus over TLS too), both with an ACL file: `default` off,
#    `admin` (all), `attune` (scripts/lib/redis-acl-rules.txt on ~attune:*).
#
# `secure.env` in $SECURE_DIR holds what a client needs (CA path, users, passwords) as shell assignments;
# test/security reads it. Everything here is local-only test material, never a production secret.

SECURE_DIR="$STATE_DIR/secure"
SECURE_ENV="$SECURE_DIR/secure.env"
KAFKA_SASL_PORT="${ATTUNE_KAFKA_SASL_PORT:-19094}"
REDIS_TLS_PORT="${ATTUNE_REDIS_TLS_PORT:-6390}"
read -r -a TLS_CLUSTER_PORTS <<<"${ATTUNE_REDIS_TLS_CLUSTER_PORTS:-7100 7101 7102}"
ACL_RULES_FILE="$ROOT/scripts/lib/redis-acl-rules.txt"

require_openssl() { command -v openssl >/dev/null || die "openssl not found (Debian: apt-get install -y openssl)"; }

# secure_material: the CA, the server certificate, the PKCS#12 keystore for Kafka and the passwords; once.
secure_material() {
  [[ -f "$SECURE_DIR/.complete" ]] && { secure_load; return; }
  require_openssl
  local t0 tmp="$SECURE_DIR.tmp.$$" pw
  t0="$(now_ms)"
  rm -rf "$tmp" && mkdir -p "$tmp" && chmod 700 "$tmp"
  pw() { head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
  (
    set -e
    cd "$tmp"
    # EC P-256 keys: generated in milliseconds, understood by Java, Node and Redis's OpenSSL.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -days 825 \
      -subj "/CN=Attune local test CA" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj "/CN=localhost"
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 825 -extfile server.ext
    chmod 644 ca.crt server.crt && chmod 600 ca.key server.key
    {
      echo "KEYSTORE_PASSWORD=$(pw)"
      echo "KAFKA_SCRAM_USERNAME=attune"
      echo "KAFKA_SCRAM_PASSWORD=$(pw)"
      echo "KAFKA_PLAIN_USERNAME=attune"
      echo "KAFKA_PLAIN_PASSWORD=$(pw)"
      echo "REDIS_ADMIN_USERNAME=admin"
      echo "REDIS_ADMIN_PASSWORD=$(pw)"
      echo "REDIS_USERNAME=attune"
      echo "REDIS_PASSWORD=$(pw)"
    } >passwords.env
    chmod 600 passwords.env
    # shellcheck disable=SC1091
    . ./passwords.env
    openssl pkcs12 -export -in server.crt -inkey server.key -certfile ca.crt -name broker -out kafka.p12 \
      -passout "pass:$KEYSTORE_PASSWORD"
    chmod 600 kafka.p12
    rm -f server.csr server.ext ca.srl
  ) >"$tmp/openssl.log" 2>&1 || { show_log_tail "$tmp/openssl.log"; die "secure: certificate generation with openssl failed"; }
  touch "$tmp/.complete"
  rm -rf "$SECURE_DIR"
  mv "$tmp" "$SECURE_DIR"
  secure_load
  log secure "generated a local CA, a server certificate (localhost, 127.0.0.1) and passwords in $SECURE_DIR in $(secs_since "$t0")"
}

secure_load() {
  # shellcheck disable=SC1091
  . "$SECURE_DIR/passwords.env"
  # Written on every load, so that it follows port overrides.
  {
    echo "# Written by scripts/services.sh (local test material; see docs/security.md)."
    echo "CA_FILE=$SECURE_DIR/ca.crt"
    echo "KAFKA_SASL_BROKERS=$HOST:$KAFKA_SASL_PORT"
    echo "KAFKA_PLAINTEXT_BROKERS=$HOST:$KAFKA_PORT"
    echo "KAFKA_SCRAM_USERNAME=$KAFKA_SCRAM_USERNAME"
    echo "KAFKA_SCRAM_PASSWORD=$KAFKA_SCRAM_PASSWORD"
    echo "KAFKA_PLAIN_USERNAME=$KAFKA_PLAIN_USERNAME"
    echo "KAFKA_PLAIN_PASSWORD=$KAFKA_PLAIN_PASSWORD"
    echo "REDIS_TLS_URL=rediss://$HOST:$REDIS_TLS_PORT"
    echo "REDIS_TLS_CLUSTER_NODES=$(printf "$HOST:%s," "${TLS_CLUSTER_PORTS[@]}" | sed 's/,$//')"
    echo "REDIS_ADMIN_USERNAME=$REDIS_ADMIN_USERNAME"
    echo "REDIS_ADMIN_PASSWORD=$REDIS_ADMIN_PASSWORD"
    echo "REDIS_USERNAME=$REDIS_USERNAME"
    echo "REDIS_PASSWORD=$REDIS_PASSWORD"
  } >"$SECURE_ENV.tmp" && chmod 600 "$SECURE_ENV.tmp" && mv "$SECURE_ENV.tmp" "$SECURE_ENV"
}

# ------------------------------------------------------------------------------------ kafka's SASL_SSL listener
# kafka_render_properties OUT: the broker's server.properties, PLAINTEXT (the default for the suite) plus SASL_SSL.
kafka_render_properties() {
  sed -e "s#@LOG_DIRS@#$KAFKA_STATE/data#" -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" \
      -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" -e "s#@KAFKA_SASL_PORT@#$KAFKA_SASL_PORT#g" \
      -e "s#@KEYSTORE@#$SECURE_DIR/kafka.p12#g" -e "s#@KEYSTORE_PASSWORD@#$KEYSTORE_PASSWORD#g" \
      -e "s#@PLAIN_USERNAME@#$KAFKA_PLAIN_USERNAME#g" -e "s#@PLAIN_PASSWORD@#$KAFKA_PLAIN_PASSWORD#g" \
      "$ROOT/services/kafka/server.properties" >"$1"
  chmod 600 "$1"
}

kafka_scram_arg() { echo "SCRAM-SHA-512=[name=$KAFKA_SCRAM_USERNAME,password=$KAFKA_SCRAM_PASSWORD]"; }

# A log dir formatted before the SASL_SSL listener existed has no SCRAM users: add them through the running
# broker's PLAINTEXT listener (ConfigCommand is in the broker jar in 3.9), once.
kafka_scram_users() {
  local marker="$KAFKA_STATE/data/.attune-scram-users" t0
  [[ -f "$marker" && "$(cat "$marker")" == "$KAFKA_SCRAM_USERNAME:$(sha1sum <<<"$KAFKA_SCRAM_PASSWORD" | cut -c1-12)" ]] && return
  t0="$(now_ms)"
  java -Xmx256m -XX:TieredStopAtLevel=1 "-Dlog4j.configuration=file:$ROOT/services/kafka/log4j.properties" -cp "$KAFKA_LIBS/*" \
    kafka.admin.ConfigCommand --bootstrap-server "$HOST:$KAFKA_PORT" --alter --entity-type users \
    --entity-name "$KAFKA_SCRAM_USERNAME" --add-config "SCRAM-SHA-512=[password=$KAFKA_SCRAM_PASSWORD]" \
    >"$KAFKA_STATE/scram.log" 2>&1 9>&- || { show_log_tail "$KAFKA_STATE/scram.log"; die "kafka: could not add the SCRAM-SHA-512 user"; }
  echo "$KAFKA_SCRAM_USERNAME:$(sha1sum <<<"$KAFKA_SCRAM_PASSWORD" | cut -c1-12)" >"$marker"
  log kafka "SCRAM-SHA-512 user $KAFKA_SCRAM_USERNAME added with ConfigCommand in $(secs_since "$t0")"
}

# ------------------------------------------------------------------------------------ TLS + ACL Redis (single, cluster)
SECURE_REDIS_STATE="$STATE_DIR/redis-secure"

acl_rules() { grep -v '^#' "$ACL_RULES_FILE" | tr -s '[:space:]' ' '; }

write_acl_file() {
  {
    echo "user default off"
    echo "user $REDIS_ADMIN_USERNAME on >$REDIS_ADMIN_PASSWORD ~* &* +@all"
    echo "user $REDIS_USERNAME on >$REDIS_PASSWORD resetkeys ~attune:* $(acl_rules)"
  } >"$1"
  chmod 600 "$1"
}

tls_cli() { REDISCLI_AUTH="$REDIS_ADMIN_PASSWORD" redis-cli --tls --cacert "$SECURE_DIR/ca.crt" --user "$REDIS_ADMIN_USERNAME" --no-auth-warning -h "$HOST" "$@"; }
tls_ping() { [[ "$(tls_cli -p "$1" ping 2>/dev/null)" == PONG ]]; }
tls_cluster_ok() { tls_cli -p "$1" cluster info 2>/dev/null | tr -d '\r' | grep -qx 'cluster_state:ok'; }
secure_marker() { echo "redis-server $HOST:$1 [secure]"; }
secure_cluster_marker() { echo "redis-server $HOST:$1 [secure-cluster]"; }

# The --proc-title-template puts a marker in the command line, so pid_of tells our servers from others.
tls_server() { # PORT DIR PIDFILE TITLE [extra args]
  local port="$1" dir="$2" pidfile="$3" title="$4"; shift 4
  mkdir -p "$dir"
  write_acl_file "$dir/users.acl"
  redis-server --bind "$HOST" --port 0 --tls-port "$port" --tls-cert-file "$SECURE_DIR/server.crt" \
    --tls-key-file "$SECURE_DIR/server.key" --tls-ca-cert-file "$SECURE_DIR/ca.crt" --tls-auth-clients no \
    --aclfile "$dir/users.acl" --save "" --appendonly no --maxmemory-policy noeviction --dir "$dir" \
    --daemonize yes --pidfile "$pidfile" --logfile "$dir/redis.log" --proc-title-template "{title} $HOST:$port $title" "$@" 9>&- \
    || die "secure: redis-server (TLS) on port $port failed to start (log $dir/redis.log)"
}

secure_prepare() { require_redis; require_openssl; secure_material; }

secure_running() {
  local p
  pid_of "$SECURE_REDIS_STATE/single/redis.pid" "$(secure_marker "$REDIS_TLS_PORT")" >/dev/null || return 1
  for p in "${TLS_CLUSTER_PORTS[@]}"; do
    pid_of "$SECURE_REDIS_STATE/cluster-$p/redis.pid" "$(secure_cluster_marker "$p")" >/dev/null || return 1
  done
}

secure_start() {
  local p ok=1
  SECURE_T0="$(now_ms)"; SECURE_FRESH=0
  secure_prepare
  if secure_running; then
    for p in "${TLS_CLUSTER_PORTS[@]}"; do tls_cluster_ok "$p" || ok=0; done
    if [[ "$ok" == 1 ]]; then log secure "already running (TLS Redis $REDIS_TLS_PORT, TLS cluster ${TLS_CLUSTER_PORTS[*]})"; return; fi
    log secure "running but the TLS cluster is not healthy: recreating it"
  fi
  secure_down quiet
  for p in "$REDIS_TLS_PORT" "${TLS_CLUSTER_PORTS[@]}"; do
    if port_open "$p"; then die "secure: port $HOST:$p is already in use by a process this script did not start"; fi
  done
  # Fresh dirs each time: --cluster create refuses nodes that already know a cluster, and the ACL file follows
  # the passwords.
  rm -rf "$SECURE_REDIS_STATE"
  SECURE_T0="$(now_ms)"; SECURE_FRESH=1
  tls_server "$REDIS_TLS_PORT" "$SECURE_REDIS_STATE/single" "$SECURE_REDIS_STATE/single/redis.pid" "[secure]"
  for p in "${TLS_CLUSTER_PORTS[@]}"; do
    tls_server "$p" "$SECURE_REDIS_STATE/cluster-$p" "$SECURE_REDIS_STATE/cluster-$p/redis.pid" "[secure-cluster]" \
      --cluster-enabled yes --tls-cluster yes --cluster-config-file "nodes-$p.conf" --cluster-node-timeout 2000
  done
  log secure "started a TLS+ACL redis-server ($HOST:$REDIS_TLS_PORT) and a 3-node TLS+ACL cluster (${TLS_CLUSTER_PORTS[*]})"
}

secure_wait() {
  local p deadline=$(( $(date +%s) + TIMEOUT )) nodes=()
  for p in "$REDIS_TLS_PORT" "${TLS_CLUSTER_PORTS[@]}"; do
    until tls_ping "$p"; do
      (( $(date +%s) < deadline )) || { show_log_tail "$SECURE_REDIS_STATE/single/redis.log"; die "secure: $HOST:$p did not answer PING over TLS within ${TIMEOUT}s"; }
      sleep 0.1
    done
  done
  for p in "${TLS_CLUSTER_PORTS[@]}"; do nodes+=("$HOST:$p"); done
  if [[ "$SECURE_FRESH" == 1 ]]; then
    tls_cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$SECURE_REDIS_STATE/create.log" 2>&1 \
      || { show_log_tail "$SECURE_REDIS_STATE/create.log"; die "secure: redis-cli --cluster create (TLS) failed"; }
  fi
  for p in "${TLS_CLUSTER_PORTS[@]}"; do
    until tls_cluster_ok "$p"; do
      (( $(date +%s) < deadline )) || die "secure: node $HOST:$p did not reach cluster_state:ok within ${TIMEOUT}s"
      sleep 0.1
    done
  done
  if [[ "$SECURE_FRESH" == 1 ]]; then
    log secure "ready in $(secs_since "$SECURE_T0") (TLS PING, cluster_state:ok); clients: $SECURE_ENV"
  else
    log secure "ready (TLS PING, cluster_state:ok); clients: $SECURE_ENV"
  fi
}

secure_down() {
  local p jobs=() j stopped=0 pidfiles=() markers=() i
  pidfiles+=("$SECURE_REDIS_STATE/single/redis.pid"); markers+=("$(secure_marker "$REDIS_TLS_PORT")")
  for p in "${TLS_CLUSTER_PORTS[@]}"; do
    pidfiles+=("$SECURE_REDIS_STATE/cluster-$p/redis.pid"); markers+=("$(secure_cluster_marker "$p")")
  done
  # In parallel (each redis-server takes ~2 s to exit). Not `>/dev/stdout`: reopening a redirected stdout
  # truncates the file, and the jobs would overwrite each other's lines.
  for i in "${!pidfiles[@]}"; do
    if [[ "${1:-}" == quiet ]]; then
      stop_pid secure "${pidfiles[$i]}" "${markers[$i]}" >/dev/null &
    else
      stop_pid secure "${pidfiles[$i]}" "${markers[$i]}" &
    fi
    jobs+=("$!")
  done
  for j in "${jobs[@]}"; do wait "$j" && stopped=1 || true; done
  if [[ "${1:-}" != quiet && "$stopped" == 0 ]]; then log secure "not running (nothing to stop)"; fi
  return 0
}

secure_status() {
  local p pid rc=0
  [[ -f "$SECURE_DIR/.complete" ]] || { log secure "stopped (no certificates yet; start it with: up secure)"; return 1; }
  secure_load
  if pid="$(pid_of "$SECURE_REDIS_STATE/single/redis.pid" "$(secure_marker "$REDIS_TLS_PORT")")" && tls_ping "$REDIS_TLS_PORT"; then
    log secure "TLS Redis running, ready (pid $pid, rediss://$HOST:$REDIS_TLS_PORT)"
  else
    log secure "TLS Redis stopped or not answering (start it with: up secure)"; rc=1
  fi
  for p in "${TLS_CLUSTER_PORTS[@]}"; do
    if pid="$(pid_of "$SECURE_REDIS_STATE/cluster-$p/redis.pid" "$(secure_cluster_marker "$p")")" && tls_cluster_ok "$p"; then
      log secure "TLS cluster node $HOST:$p running, cluster_state:ok (pid $pid)"
    else
      log secure "TLS cluster node $HOST:$p stopped or not ok"; rc=1
    fi
  done
  return "$rc"
}

# Deletes the certificates and passwords too: the next `up` makes new ones (Kafka's SCRAM user follows).
secure_reset() { secure_down; rm -rf "$SECURE_REDIS_STATE" "$SECURE_DIR"; log secure "state, certificates and passwords deleted"; }
