#!/usr/bin/env bash
# ODX copy offload (POPULATE TOKEN / WRITE USING TOKEN, issue 8) over iSCSI,
# with conformance/tools/odx_probe.py (raw iSCSI sessions, exact bytes and
# sense compared):
#
# 1. VPD 0x00 lists 0x8F; VPD 0x8F read as Windows reads it (allocation
#    length 255) starts with Block Device ROD Token Limits (0x0000, length
#    0x20), page length >= 0x24, carries the [odx] timeouts of the config,
#    and Supported ROD Types lists per LU what it does: change vulnerable
#    and the zero token on memory LUs and on file LUs of a file system
#    without reflink; point in time too on XFS (and btrfs).
# 2. The Windows sequence: POPULATE TOKEN of 64 ranges + RRTI (units 0xF1,
#    segments 0, descriptors length 514, id 0) on a session of initiator 1
#    to target A; RRTI twice gives the same token; WRITE USING TOKEN from a
#    session of initiator 2 to target B, another LU: backing files equal.
#    A token with one byte flipped: 0x23/0x05; DEL_TKN then reuse: 0x23/0x09.
# 3. A write to the source of a change-vulnerable token (memory LU, and a file
#    LU on the host file system, e.g. ext4): 0x23/0x06; a write outside its
#    ranges does not revoke it.
# 4. An initiator not allowed on the source's target: 0x26/0x15, and nothing
#    written (files and /metrics unchanged; /metrics must be readable).
# 5. The zero token (0xFFFF0001) zeroes its ranges. A token idle past its
#    inactivity timeout (1 s) is expired by the periodic sweep (/metrics)
#    and then answers 0x23/0x07. After a LOGICAL UNIT RESET of its source a
#    token answers 0x23/0x08 and nothing is written.
# 6. IMMED and abort (file LU -> zeroed memory LU, 1 GiB): POPULATE TOKEN
#    IMMED=1 -> GOOD, then RRTI 0x01 with the token; WRITE USING TOKEN
#    IMMED=1 -> GOOD; a POPULATE TOKEN with its list id meanwhile ->
#    0x00/0x16; COPY OPERATION ABORT -> GOOD; RRTI 0x60 with the blocks
#    written; exactly those blocks copied, zeroes after them;
#    xtgt_copies_in_flight 0.
#    Limits: with max_live_tokens = 3 the 4th POPULATE TOKEN gets 0x55/0x0D
#    and the 3 live tokens keep working.
# 7. Time slicing: with write_using_token_budget_ms = 20, WRITE USING TOKENs
#    of 256 MiB over a 1 GiB (ODX_SLICE_MIB) emulated copy (file LU -> memory LU) end with
#    COPY ABORTED 0x0D/0x04, VALID=1, INFORMATION = blocks written, RRTI
#    0x04 with the same count; continuing like Windows (OFFSET INTO ROD
#    advanced) finishes byte-exact; no GOOD with fewer blocks than asked;
#    each command returns within 4 s.
# 8. As root with mkfs.xfs and a loop device: on XFS a point-in-time token
#    survives a write to its source (the copy has the old data), and the
#    copy goes method="native" (xtgt_copy_bytes_total).
#
# Needs a release build (target/release/xtgt, or XTGT_BIN), python3, curl.
set -u
. "$(dirname "$0")/lib.sh"
need python3 curl cmp head md5sum
make_workdir

IQN_A=iqn.2026-11.org.xtgt.conformance:odx-a
IQN_B=iqn.2026-11.org.xtgt.conformance:odx-b
INIT1=iqn.2026-11.org.xtgt.conformance:host1
INIT2=iqn.2026-11.org.xtgt.conformance:host2
INTRUDER=iqn.2026-11.org.xtgt.conformance:intruder
SLICE_MIB=${ODX_SLICE_MIB:-1024}
PROBE="python3 $CONF_DIR/tools/odx_probe.py"
MNT=

odx_cleanup() {
    stop_xtgt quiet
    if [ -n "$MNT" ] && mountpoint -q "$MNT" 2>/dev/null; then
        umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
    fi
    cleanup
}
trap odx_cleanup EXIT

# probe SCENARIO ARGS...: run the probe, relay its PASS/FAIL lines;
# PROBE_FAILS counts the FAIL lines of this run.
PROBE_FAILS=0
probe() {
    local line
    PROBE_FAILS=0
    while IFS= read -r line; do
        case $line in
        "PASS "*) pass "odx: ${line#PASS }" ;;
        "FAIL "*) fail "odx: ${line#FAIL }"; PROBE_FAILS=$((PROBE_FAILS + 1)) ;;
        *) echo "$line" ;;
        esac
    done < <(timeout 600 $PROBE "$1" "$PORTAL" "${@:2}" 2>&1)
}

# metric NAME LABEL: sum of the samples of NAME whose labels contain LABEL
# (empty: all); fails when /metrics cannot be read.
metric() {
    local text
    text=$(curl -sf --max-time 10 "http://$METRICS/metrics") || return 1
    awk -v n="$1" -v l="${2:-}" '
        { name = $1; sub(/\{.*/, "", name) }
        name == n && index($1, l) > 0 { s += $NF }
        END { printf "%.0f\n", s }' <<<"$text"
}
counters() {
    local c w r
    c=$(metric xtgt_copy_bytes_total) && w=$(metric xtgt_write_bytes_total) &&
        r=$(metric xtgt_read_bytes_total) || return 1
    echo "copy=$c write=$w read=$r"
}

fstype() { findmnt -n -o FSTYPE -T "$1" 2>/dev/null || stat -f -c %T "$1"; }
host_types() {
    case $(fstype "$1") in
    xfs | btrfs) echo 00800000,00800001,ffff0001 ;;
    *) echo 00800001,ffff0001 ;;
    esac
}

lun_file() { # lun_file N PATH SIZE
    printf '[[targets.luns]]\nlun = %s\nbackend = "file"\npath = "%s"\nsize = "%s"\nblock_size = 512\n' "$@"
}
lun_memory() { # lun_memory N SIZE
    printf '[[targets.luns]]\nlun = %s\nbackend = "memory"\nsize = "%s"\nblock_size = 512\n' "$@"
}

# ------------------------------------------------------------ main checks
run_main() {
    local dir=$WORK/main before after
    mkdir -p "$dir"
    head -c $((64 << 20)) /dev/urandom >"$dir/a0.img"
    {
        printf '[server]\nlisten = ["127.0.0.1:0"]\nmetrics_listen = "127.0.0.1:0"\n\n'
        printf '[odx]\nmax_inactivity_timeout_secs = 300\ndefault_inactivity_timeout_secs = 30\n\n'
        printf '[[targets]]\niqn = "%s"\nallowed_initiators = ["%s", "%s"]\n' "$IQN_A" "$INIT1" "$INIT2"
        lun_file 0 "$dir/a0.img" 64MiB
        lun_memory 1 64MiB
        printf '\n[[targets]]\niqn = "%s"\n' "$IQN_B"
        lun_file 0 "$dir/b0.img" 64MiB
        lun_memory 1 64MiB
    } >"$WORK/main.toml"
    start_xtgt "$WORK/main.toml" || return 1
    probe vpd "$INIT1@$IQN_A/0" "$(host_types "$dir")" 300 30
    probe vpd "$INIT1@$IQN_A/1" 00800001,ffff0001 300 30
    probe copy "$INIT1@$IQN_A/0" "$INIT2@$IQN_B/0" "$dir/a0.img" "$dir/b0.img"
    probe revoke "memory LU" "$INIT1@$IQN_A/1" "$INIT2@$IQN_B/1"
    probe revoke "$(fstype "$dir") file LU" "$INIT1@$IQN_A/0" "$INIT2@$IQN_B/1"
    probe zero "$INIT2@$IQN_B/1"
    probe expiry "$INIT1@$IQN_A/1" "$INIT2@$IQN_B/1" "$METRICS"
    probe cancel "$INIT1@$IQN_A/1" "$INIT2@$IQN_B/1"
    local sums0 sums1
    sums0=$(md5sum "$dir/a0.img" "$dir/b0.img")
    before=$(counters) || before=
    probe unauthorized "$INIT1@$IQN_A/0" "$INTRUDER@$IQN_B/0"
    # The POPULATE TOKEN itself moves no bytes either: compare around both.
    # Only a refusal that was seen counts ("nothing written" after a
    # failed POPULATE TOKEN proves nothing).
    if [ "$PROBE_FAILS" -ne 0 ]; then
        fail "odx: unauthorized: nothing written" "the refusal above was not seen: nothing to judge"
    elif after=$(counters) && [ -n "$before" ]; then
        sums1=$(md5sum "$dir/a0.img" "$dir/b0.img")
        if [ "$sums0" = "$sums1" ] && [ "$before" = "$after" ]; then
            pass "odx: unauthorized: nothing written (files unchanged; $after unchanged)"
        else
            fail "odx: unauthorized: nothing written" "before: $before" "after:  $after" "$sums0" "$sums1"
        fi
    else
        fail "odx: unauthorized: nothing written" "/metrics cannot be read at http://$METRICS/metrics"
    fi
    stop_xtgt
}

# ------------------------------------------------------------ time slicing
run_slicing() {
    local dir=$WORK/slice blocks=$((SLICE_MIB * 2048))
    mkdir -p "$dir"
    head -c $((SLICE_MIB << 20)) /dev/urandom >"$dir/src.img"
    {
        printf '[server]\nlisten = ["127.0.0.1:0"]\nmetrics_listen = "127.0.0.1:0"\n\n'
        printf '[odx]\nwrite_using_token_budget_ms = 20\nmax_live_tokens = 3\n\n'
        printf '[[targets]]\niqn = "%s"\n' "$IQN_A"
        lun_file 0 "$dir/src.img" "${SLICE_MIB}MiB"
        printf '\n[[targets]]\niqn = "%s"\n' "$IQN_B"
        lun_memory 0 "${SLICE_MIB}MiB"
    } >"$WORK/slice.toml"
    start_xtgt "$WORK/slice.toml" || return 1
    probe abort "$INIT1@$IQN_A/0" "$INIT2@$IQN_B/0" "$dir/src.img" "$blocks" "$METRICS"
    probe limits "$INIT1@$IQN_A/0" "$INIT2@$IQN_B/0" 3 "$METRICS"
    # 256 MiB per WRITE USING TOKEN: Windows' largest transfer.
    probe slicing "$INIT1@$IQN_A/0" "$INIT2@$IQN_B/0" "$dir/src.img" "$blocks" 524288 2000
    stop_xtgt
    rm -f "$dir/src.img"
}

# ------------------------------------------------------------ XFS
mount_xfs() {
    if [ "$(id -u)" -ne 0 ] || ! command -v mkfs.xfs >/dev/null 2>&1 || ! command -v losetup >/dev/null 2>&1; then
        echo "not root or no mkfs.xfs/losetup"
        return 1
    fi
    MNT=$WORK/xfs
    mkdir -p "$MNT"
    truncate -s 1G "$WORK/xfs.img"
    mkfs.xfs -q -m reflink=1 "$WORK/xfs.img" >"$WORK/mkfs.log" 2>&1 || { cat "$WORK/mkfs.log"; return 1; }
    mount -o loop "$WORK/xfs.img" "$MNT" 2>&1 || return 1
}

run_xfs() {
    local n0 n1
    if ! mount_xfs >"$WORK/xfs.log" 2>&1; then
        skip "odx: xfs: point-in-time token survives a write to its source, method=\"native\"" \
            "no loop-mounted XFS here: $(tail -1 "$WORK/xfs.log")"
        return 0
    fi
    head -c $((64 << 20)) /dev/urandom >"$MNT/a0.img"
    {
        printf '[server]\nlisten = ["127.0.0.1:0"]\nmetrics_listen = "127.0.0.1:0"\n\n'
        printf '[[targets]]\niqn = "%s"\n' "$IQN_A"
        lun_file 0 "$MNT/a0.img" 64MiB
        printf '\n[[targets]]\niqn = "%s"\n' "$IQN_B"
        lun_file 0 "$MNT/b0.img" 64MiB
    } >"$WORK/xfs.toml"
    start_xtgt "$WORK/xfs.toml" || return 1
    probe vpd "$INIT1@$IQN_A/0" 00800000,00800001,ffff0001 600 60
    if ! n0=$(metric xtgt_copy_bytes_total 'method="native"'); then
        fail "odx: xfs: /metrics readable" "curl http://$METRICS/metrics failed"
    fi
    probe pit "$INIT1@$IQN_A/0" "$INIT2@$IQN_B/0" "$MNT/a0.img" "$MNT/b0.img"
    if n1=$(metric xtgt_copy_bytes_total 'method="native"') && [ -n "$n0" ] &&
        [ $((n1 - n0)) -ge $((8192 * 512)) ]; then
        pass "odx: xfs: the point-in-time copy went method=\"native\" ($((n1 - n0)) bytes)"
    else
        fail "odx: xfs: the point-in-time copy went method=\"native\"" \
            "native copy bytes ${n0:-?} -> ${n1:-?} (want +$((8192 * 512)))" \
            "$(curl -s "http://$METRICS/metrics" | grep '^xtgt_copy_bytes_total')"
    fi
    stop_xtgt
}

run_main
run_slicing
run_xfs
summary
