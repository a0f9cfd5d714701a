#!/usr/bin/env bash
# Robustness: a client killed with SIGKILL in the middle of a large write
# does not disturb another client; each class of malformed PDU
# (tools/malformed_pdus.py classes) gets the answer RFC 7143 prescribes
# (a Reject with the right reason, or the connection closed); 10 MB of
# random bytes get only Login Responses or Rejects back; a few thousand
# random malformed PDUs are all sent and answered with target PDUs; none
# of it crashes xtgt or grows its resident memory beyond a bound
# (ROBUST_RSS_GROWTH_MIB, default 64).
set -u
. "$(dirname "$0")/lib.sh"
need qemu-img iscsi-inq python3
make_workdir

IQN=iqn.2026-11.org.xtgt.conformance:robust
PDUS=${ROBUST_PDUS:-3000}
GARBAGE=${ROBUST_GARBAGE_BYTES:-10000000}
GROWTH_KIB=$((${ROBUST_RSS_GROWTH_MIB:-64} * 1024))
cat >"$WORK/xtgt.toml" <<TOML
[server]
listen = ["127.0.0.1:0"]
metrics_listen = "127.0.0.1:0"

[[targets]]
iqn = "$IQN"
[[targets.luns]]
lun = 0
backend = "file"
path = "lun0.img"
size = "1GiB"
[[targets.luns]]
lun = 1
backend = "file"
path = "lun1.img"
size = "256MiB"
TOML
start_xtgt "$WORK/xtgt.toml" || { summary; exit 1; }
URL0=iscsi://$PORTAL/$IQN/0
URL1=iscsi://$PORTAL/$IQN/1

served() { timeout 30 iscsi-inq "$URL1" 2>&1 | grep -q "DIRECT_ACCESS"; }

# 1. SIGKILL a writer mid-transfer while a reader runs on the other LUN.
# The writer streams 1 MiB writes, 16 in flight, far more than it can finish
# before the kill (a fixed-size convert can finish within the sleep on a fast
# machine, which would test nothing).
timeout 300 qemu-img bench -f raw -c 40000 -d 8 -s 64K "$URL1" >"$WORK/reader.log" 2>&1 &
READER=$!
# No `timeout` wrapper: $! must be qemu-img itself, or the SIGKILL below
# would kill only the wrapper and leave the client writing.
qemu-img bench -f raw -w -c 10000000 -d 16 -s 1M --pattern=120 "$URL0" >"$WORK/writer.log" 2>&1 &
WRITER=$!
sleep 2
# bytes xtgt has written to LUN 0 so far (proves the writer is mid-transfer)
# (an unreadable /metrics fails the check rather than reading as 0)
if SNAP=$(metrics_snapshot 2>"$WORK/metrics.err"); then
    WRITTEN=$(metric_sum "$(grep '^xtgt_write_bytes_total{' <<<"$SNAP" | grep 'lun="0"')" xtgt_write_bytes_total)
else
    WRITTEN=
fi
if [ -z "$WRITTEN" ]; then
    kill -9 $WRITER 2>/dev/null; wait $WRITER 2>/dev/null
    fail "robustness: writer killed with SIGKILL mid-write" "cannot tell: $(cat "$WORK/metrics.err")"
elif kill -0 $WRITER 2>/dev/null && [ "$WRITTEN" -gt 0 ]; then
    kill -9 $WRITER
    wait $WRITER 2>/dev/null
    pass "robustness: writer killed with SIGKILL mid-write ($WRITTEN bytes written to LUN 0 by then)"
else
    kill -9 $WRITER 2>/dev/null; wait $WRITER 2>/dev/null
    fail "robustness: writer killed with SIGKILL mid-write" "the writer was not mid-transfer at the kill (LUN 0 bytes written: $WRITTEN)" "$(tail -3 "$WORK/writer.log")"
fi
if wait $READER; then
    pass "robustness: the other client kept being served"
else
    fail "robustness: the other client kept being served" "$(tail -3 "$WORK/reader.log")"
fi
if served && timeout 60 qemu-img convert -f raw -O raw "$URL0" "$WORK/after.img" >/dev/null 2>&1; then
    pass "robustness: the LUN the killed client wrote is readable"
else
    fail "robustness: the LUN the killed client wrote is readable"
fi
rm -f "$WORK/after.img"

sleep 1
RSS0=$(xtgt_rss_kib)

# 2. Each class of malformed PDU, on its own connection: the answer RFC
# 7143 prescribes. One check per class (the tool prints PASS/FAIL lines).
out=$(timeout 300 python3 "$CONF_DIR/tools/malformed_pdus.py" classes "$PORTAL" "$IQN" 2>&1)
rc=$?
n=0
while IFS= read -r line; do
    case "$line" in
    "PASS "*) pass "robustness: malformed PDU: ${line#PASS }"; n=$((n + 1)) ;;
    "FAIL "*) fail "robustness: malformed PDU: ${line#FAIL }"; n=$((n + 1)) ;;
    esac
done <<<"$out"
if [ "$n" -eq 0 ] || { [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' <<<"$out"; }; then
    fail "robustness: malformed PDU classes ran" "exit status $rc" "$(tail -5 <<<"$out")"
else
    echo "    $(tail -1 <<<"$out")"
fi
if ! xtgt_alive || ! served; then
    fail "robustness: xtgt serves after the malformed PDU classes" "$(tail -5 "$WORK/xtgt.err")"
fi

# 3. Random bytes at the portal: only Login Responses / Rejects come back.
if out=$(timeout 300 python3 "$CONF_DIR/tools/malformed_pdus.py" garbage "$PORTAL" "$GARBAGE" 2>&1) && xtgt_alive && served; then
    pass "robustness: $GARBAGE random bytes ($out)"
else
    fail "robustness: $GARBAGE random bytes" "$out" "$(tail -5 "$WORK/xtgt.err")"
fi

# 4. Random malformed PDUs, before and after login: all sent, every answer
# a target PDU (counted by opcode and Reject reason).
if out=$(timeout 400 python3 "$CONF_DIR/tools/malformed_pdus.py" storm "$PORTAL" "$IQN" "$PDUS" 7 2>&1) && xtgt_alive && served; then
    pass "robustness: random malformed PDUs ($out)"
else
    fail "robustness: random malformed PDUs" "$out" "$(tail -5 "$WORK/xtgt.err")"
fi

sleep 1
RSS1=$(xtgt_rss_kib)
if [ -z "$RSS0" ] || [ -z "$RSS1" ]; then
    fail "robustness: RSS bounded" "cannot read VmRSS of xtgt (before: '${RSS0}', after: '${RSS1}')"
elif xtgt_alive && [ "$RSS1" -le $((RSS0 + GROWTH_KIB)) ]; then
    pass "robustness: RSS bounded (${RSS0} KiB -> ${RSS1} KiB, limit +${GROWTH_KIB} KiB)"
else
    fail "robustness: RSS bounded" "${RSS0} KiB -> ${RSS1} KiB, limit +${GROWTH_KIB} KiB"
fi
if grep -q "panicked" "$WORK/xtgt.err"; then
    fail "robustness: no panic in the log" "$(grep -m3 panicked "$WORK/xtgt.err")"
else
    pass "robustness: no panic in the log"
fi
metrics_snapshot 2>/dev/null | grep -E '^xtgt_(pdu_rejects|logins)_total' | head -10 | sed 's/^/    /'
stop_xtgt
summary
