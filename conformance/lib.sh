# Shared helpers for the conformance scripts (sourced, not run).
#
# Every check prints exactly one line "PASS <name>" or "FAIL <name>" (a
# FAIL may be followed by indented detail lines); `summary` prints
# "N passed, M failed" and returns non-zero if anything failed.

CONF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$CONF_DIR/.." && pwd)
XTGT_BIN=${XTGT_BIN:-$REPO_DIR/target/release/xtgt}
PASSED=0
FAILED=0
XTGT_PID=
PORTAL=
METRICS=

pass() { echo "PASS $1"; PASSED=$((PASSED + 1)); }
fail() {
    echo "FAIL $1"
    FAILED=$((FAILED + 1))
    shift
    local detail
    for detail in "$@"; do
        [ -n "$detail" ] && printf '%s\n' "$detail" | sed 's/^/    /'
    done
    return 0
}
# check NAME COMMAND...: PASS if the command succeeds.
check() {
    local name=$1
    shift
    local out
    if out=$("$@" 2>&1); then
        pass "$name"
    else
        fail "$name" "command: $*" "$(printf '%s\n' "$out" | tail -5)"
    fi
}
summary() {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}

need() {
    local missing=
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
    done
    if [ -n "$missing" ]; then
        fail "tools present" "missing:$missing (run conformance/test.sh as root to install them)"
        summary
        exit 1
    fi
}

# A fresh scratch folder, removed on exit together with a running xtgt.
make_workdir() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/xtgt-conf.XXXXXX")
    trap cleanup EXIT
}
cleanup() {
    stop_xtgt quiet
    [ -n "${WORK:-}" ] && [ -z "${KEEP_WORK:-}" ] && rm -rf "$WORK"
}

# start_xtgt CONFIG: start xtgt in the background (portals and metrics
# should use port 0) and wait for its banner; sets XTGT_PID, PORTAL
# (host:port of the first portal), METRICS (host:port or empty).
start_xtgt() {
    local config=$1 log=$WORK/xtgt.out
    if [ ! -x "$XTGT_BIN" ]; then
        fail "xtgt starts" "no binary at $XTGT_BIN (cargo build --release)"
        return 1
    fi
    RUST_LOG=${RUST_LOG:-info} "$XTGT_BIN" --config "$config" >"$log" 2>"$WORK/xtgt.err" &
    XTGT_PID=$!
    local i
    for i in $(seq 1 300); do
        if grep -q '^connect:' "$log" 2>/dev/null; then
            PORTAL=$(awk '/^portal /{print $2; exit}' "$log")
            METRICS=$(awk '/^metrics http/{sub("http://",""); sub("/metrics",""); print $2; exit}' "$log")
            return 0
        fi
        if ! kill -0 "$XTGT_PID" 2>/dev/null; then
            fail "xtgt starts" "$(tail -5 "$WORK/xtgt.err")"
            XTGT_PID=
            return 1
        fi
        sleep 0.1
    done
    fail "xtgt starts" "no banner within 30 s" "$(tail -5 "$WORK/xtgt.err")"
    return 1
}

# stop_xtgt [quiet]: SIGTERM and wait; checks exit status 0 unless quiet.
stop_xtgt() {
    [ -n "${XTGT_PID:-}" ] || return 0
    local pid=$XTGT_PID rc i
    XTGT_PID=
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        [ "${1:-}" = quiet ] || fail "xtgt exits on SIGTERM" "still running after 20 s; killed"
        return 1
    fi
    wait "$pid" 2>/dev/null
    rc=$?
    if [ "${1:-}" != quiet ]; then
        if [ "$rc" -eq 0 ]; then
            pass "xtgt exits 0 on SIGTERM"
        else
            fail "xtgt exits 0 on SIGTERM" "exit status $rc" "$(tail -5 "$WORK/xtgt.err")"
        fi
    fi
}

xtgt_alive() { [ -n "${XTGT_PID:-}" ] && kill -0 "$XTGT_PID" 2>/dev/null; }

# Resident set size of xtgt in KiB.
xtgt_rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$XTGT_PID/status" 2>/dev/null || echo 0; }
