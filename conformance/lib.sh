# Shared helpers for the conformance scripts (sourced, not run).
#
# Every check prints exactly one line "PASS <name>", "FAIL <name>" or
# "SKIP <name> (<reason>)" (a FAIL may be followed by indented detail
# lines); `summary` prints "N passed, M failed, K skipped" and returns
# non-zero if anything failed. A check that cannot run here is a SKIP,
# never a PASS.

CONF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$CONF_DIR/.." && pwd)
XTGT_BIN=${XTGT_BIN:-$REPO_DIR/target/release/xtgt}
PASSED=0
FAILED=0
SKIPPED=0
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
# skip NAME REASON: a check that could not run here (counted, not passed).
skip() {
    echo "SKIP $1 ($2)"
    SKIPPED=$((SKIPPED + 1))
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
    echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
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
# (host:port of the first portal), PORTAL2 (of the second, or empty),
# PORTALS (all of them, space separated), METRICS (host:port or empty).
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
            PORTAL2=$(awk '/^portal /{if (++n == 2) {print $2; exit}}' "$log")
            PORTALS=$(awk '/^portal /{printf "%s%s", sep, $2; sep=" "}' "$log")
            METRICS=$(awk '/^metrics http/{sub("http://",""); sub("/metrics",""); print $2; exit}' "$log")
            # CONF_METRICS_ADDR=host:port reads /metrics elsewhere (e.g. a
            # closed port, to see the metrics guard fail the checks).
            [ -n "${CONF_METRICS_ADDR:-}" ] && METRICS=$CONF_METRICS_ADDR
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

# Resident set size of xtgt in KiB (empty when it cannot be read).
xtgt_rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$XTGT_PID/status" 2>/dev/null; }

# metrics_snapshot: the /metrics text of the running xtgt on stdout;
# non-zero (and a reason on stderr) when it cannot be read: no metrics
# address, curl failed, or the text lacks xtgt_build_info (always exported),
# so an unreachable endpoint never reads as "all counters 0".
metrics_snapshot() {
    local text
    if [ -z "${METRICS:-}" ]; then
        echo "no metrics address (metrics_listen not set?)" >&2
        return 1
    fi
    if ! text=$(curl -fsS --max-time 10 "http://$METRICS/metrics" 2>&1); then
        echo "curl http://$METRICS/metrics failed: $text" >&2
        return 1
    fi
    if ! grep -q '^xtgt_build_info' <<<"$text"; then
        echo "http://$METRICS/metrics has no xtgt_build_info: not xtgt's metrics" >&2
        return 1
    fi
    printf '%s\n' "$text"
}

# metric_sum SNAPSHOT PREFIX [required]: sum of the samples whose line starts
# with PREFIX. A counter never incremented is not exported and sums to 0,
# unless "required" is given: then its absence is an error (non-zero).
metric_sum() {
    local snap=$1 prefix=$2 required=${3:-}
    awk -v p="$prefix" -v req="$required" '
        index($0, p) == 1 { s += $NF; n++ }
        END {
            if (req != "" && n == 0) { print "metric " p " absent" > "/dev/stderr"; exit 1 }
            printf "%.0f\n", s
        }' <<<"$snap"
}
