#!/usr/bin/env bash
# Persistent reservations across restarts (APTPL, SPC-5 5.14.5), over raw
# iSCSI with conformance/tools/pr_probe.py:
#
# 1. REGISTER AND IGNORE EXISTING KEY with APTPL=1 and RESERVE (Write
#    Exclusive) on a file LU: the state file <backing>.pr appears, and a
#    second initiator's WRITE gets RESERVATION CONFLICT.
# 2. xtgt stopped with SIGTERM and started again: READ FULL STATUS is the
#    same bytes but for PRgeneration, which a power on sets to zero (SPC-5
#    6.15.2), and the reservation still excludes the second initiator.
# 3. The same after kill -9.
# 4. Re-registered with APTPL=0: the file is gone, and after a restart
#    READ FULL STATUS shows no registration.
#
# Needs a release build (target/release/xtgt, or XTGT_BIN) and python3.
set -u
. "$(dirname "$0")/lib.sh"
need python3
make_workdir

IQN=iqn.2026-11.org.xtgt.conformance:pr
PROBE="python3 $CONF_DIR/tools/pr_probe.py"
cat >"$WORK/xtgt.toml" <<TOML
[server]
listen = ["127.0.0.1:0"]
metrics_listen = "127.0.0.1:0"

[[targets]]
iqn = "$IQN"

[[targets.luns]]
lun = 0
backend = "file"
path = "pr.img"
size = "16MiB"
block_size = 512
TOML

start_xtgt "$WORK/xtgt.toml" || { summary; exit 1; }
if before=$($PROBE "$PORTAL" "$IQN" aptpl1 2>&1) && [ -s "$WORK/pr.img.pr" ]; then
    pass "pr: REGISTER (APTPL=1) + RESERVE write the state file pr.img.pr"
else
    fail "pr: REGISTER (APTPL=1) + RESERVE write the state file pr.img.pr" "$before"
fi
check "pr: a second initiator's WRITE gets RESERVATION CONFLICT" $PROBE "$PORTAL" "$IQN" conflict

restart_and_compare() {
    local how=$1 after
    if [ "$how" = SIGTERM ]; then
        stop_xtgt quiet
    else
        kill -KILL "$XTGT_PID" 2>/dev/null
        wait "$XTGT_PID" 2>/dev/null
        XTGT_PID=
    fi
    start_xtgt "$WORK/xtgt.toml" || { summary; exit 1; }
    after=$($PROBE "$PORTAL" "$IQN" status 2>&1)
    # Bytes 0-3 (8 hex digits): PRgeneration, zero after a power on.
    if [ "${after:0:8}" = 00000000 ] && [ -n "${before:8}" ] && [ "${after:8}" = "${before:8}" ]; then
        pass "pr: after $how and a restart READ FULL STATUS is the same, PRgeneration 0 ($(head -c 24 <<<"$after")...)"
    else
        fail "pr: after $how and a restart READ FULL STATUS is the same, PRgeneration 0" "before: $before" "after:  $after"
    fi
    check "pr: after $how the reservation still refuses the second initiator's WRITE" \
        $PROBE "$PORTAL" "$IQN" conflict
}
restart_and_compare SIGTERM
restart_and_compare "kill -9"

if out=$($PROBE "$PORTAL" "$IQN" aptpl0 2>&1) && [ ! -e "$WORK/pr.img.pr" ]; then
    pass "pr: re-registering with APTPL=0 removes the state file"
else
    fail "pr: re-registering with APTPL=0 removes the state file" "$out" "$(ls -l "$WORK")"
fi
stop_xtgt quiet
start_xtgt "$WORK/xtgt.toml" || { summary; exit 1; }
out=$($PROBE "$PORTAL" "$IQN" status 2>&1)
# PRgeneration 0, ADDITIONAL LENGTH 0: nothing survived.
if [ "$out" = "0000000000000000" ]; then
    pass "pr: without APTPL nothing survives a restart (READ FULL STATUS $out)"
else
    fail "pr: without APTPL nothing survives a restart" "$out"
fi
stop_xtgt
summary
