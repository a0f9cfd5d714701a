#!/usr/bin/env bash
# libiscsi conformance: iscsi-ls discovery, the required iscsi-test-cu
# suites (conformance/libiscsi-required.txt) on a 512-byte and a 4096-byte
# LUN (4096-byte and 8192-byte physical blocks), SCSI.GetLBAStatus on
# LUNs with one logical block per physical block (and, on a LUN with two,
# a check that shows the one test that fails there is libiscsi's
# disagreement with SBC-4, not xtgt's), SCSI.StartStopUnit,
# SCSI.PreventAllow and SCSI.NoMedia on removable 512-byte and 4096-byte
# LUNs,
# SCSI.ReadOnly on a read-only LUN, SCSI.MultipathIO over two
# sessions through two portals (two target ports of one LU; SendTargets,
# TPGTs, VPD 0x83 and REPORT TARGET PORT GROUPS of both checked by
# tools/alua_probe.py first), and one informational "-t ALL" run whose per-suite results go
# to conformance/results/libiscsi-all.md (the README's conformance table)
# and whose counts (passed, failed, skipped) its line reports.
#
# Needs a release build (target/release/xtgt, or XTGT_BIN) and libiscsi-bin.
# LIBISCSI_SKIP_ALL=1 skips the -t ALL runs.
set -u
. "$(dirname "$0")/lib.sh"
need iscsi-test-cu iscsi-ls python3 qemu-io
make_workdir

DISKS=iqn.2026-11.org.xtgt.conformance:disks
RO=iqn.2026-11.org.xtgt.conformance:readonly
LUN_SIZE=${LIBISCSI_LUN_SIZE:-256MiB}
SUITE_TIMEOUT=${LIBISCSI_SUITE_TIMEOUT:-600}
RESULTS=$CONF_DIR/results
truncate -s 64M "$WORK/ro.img"
cat >"$WORK/xtgt.toml" <<TOML
[server]
# Two portals: two target ports of every LU (multipath, ALUA).
listen = ["127.0.0.1:0", "127.0.0.2:0"]
metrics_listen = "127.0.0.1:0"

[[targets]]
iqn = "$DISKS"

[[targets.luns]]
lun = 0
backend = "file"
path = "lun512.img"
size = "$LUN_SIZE"
block_size = 512

[[targets.luns]]
lun = 1
backend = "file"
path = "lun4096.img"
size = "$LUN_SIZE"
block_size = 4096
# 8 KiB physical blocks: two logical blocks each, so libiscsi's LBPPB > 1
# tests (unaligned WRITE SAME UNMAP, invalid Data-Out sizes) run here too.
physical_block_size = 8192

# Removable LUNs for SCSI.StartStopUnit, SCSI.PreventAllow and
# SCSI.NoMedia (they eject the medium; the other suites keep using LUNs 0
# and 1).
[[targets.luns]]
lun = 2
backend = "file"
path = "rm512.img"
size = "64MiB"
block_size = 512
removable = true

[[targets.luns]]
lun = 3
backend = "file"
path = "rm4096.img"
size = "64MiB"
block_size = 4096
physical_block_size = 8192
removable = true

# One logical block per physical block, for SCSI.GetLBAStatus: libiscsi
# 1.19's GetLBAStatus.UnmapSingle (second loop) unmaps LBAs 0..i-1, asks
# for the status at LBA i+1 and expects the first descriptor to start at
# LBA i+LBPPB; that holds only for LBPPB = 1 (SBC-4 GET LBA STATUS
# parameter data: the first descriptor's LBA shall be the STARTING
# LOGICAL BLOCK ADDRESS, here i+1, which is
# what xtgt answers on every LUN).
[[targets.luns]]
lun = 4
backend = "file"
path = "p512.img"
size = "64MiB"
block_size = 512
physical_block_size = 512

[[targets.luns]]
lun = 5
backend = "file"
path = "p4096.img"
size = "64MiB"
block_size = 4096
physical_block_size = 4096

# Two logical blocks per physical block and untouched by other suites:
# GetLBAStatus there, and tools/lba_status_probe.py (see the comment on
# LUNs 4 and 5).
[[targets.luns]]
lun = 6
backend = "file"
path = "gls-lbppb2.img"
size = "64MiB"
block_size = 4096
physical_block_size = 8192

[[targets]]
iqn = "$RO"

[[targets.luns]]
lun = 0
backend = "file"
path = "ro.img"
block_size = 512
read_only = true
TOML

start_xtgt "$WORK/xtgt.toml" || { summary; exit 1; }
URL512=iscsi://$PORTAL/$DISKS/0
URL4096=iscsi://$PORTAL/$DISKS/1
# The same LUs through the second portal (the second path).
URL512B=iscsi://$PORTAL2/$DISKS/0
URL4096B=iscsi://$PORTAL2/$DISKS/1
URLRM512=iscsi://$PORTAL/$DISKS/2
URLRM4096=iscsi://$PORTAL/$DISKS/3
URLP512=iscsi://$PORTAL/$DISKS/4
URLP4096=iscsi://$PORTAL/$DISKS/5
URLLBPPB2=iscsi://$PORTAL/$DISKS/6
URLRO=iscsi://$PORTAL/$RO/0

out=$(timeout 60 iscsi-ls -s "iscsi://$PORTAL" 2>&1)
if grep -q "Target:$DISKS" <<<"$out" && grep -q "Target:$RO" <<<"$out" &&
    grep -q "Lun:1 .*DIRECT_ACCESS" <<<"$out"; then
    pass "libiscsi: iscsi-ls -s discovery lists both targets and their LUNs"
else
    fail "libiscsi: iscsi-ls -s discovery lists both targets and their LUNs" "$out"
fi

# Two portals, two target ports: SendTargets lists both (with their own
# TPGTs) through either portal, and the LU looks the same through both
# (VPD 0x83 LU designators) while each port reports its own relative port,
# group and name, in agreement with REPORT TARGET PORT GROUPS.
# iscsi-ls (libiscsi's SendTargets) through the second portal: the
# target on both portals, each with its TPGT.
out=$(timeout 60 iscsi-ls -s "iscsi://$PORTAL2" 2>&1)
if grep -q "Target:$DISKS Portal:$PORTAL,1\$" <<<"$out" && grep -q "Target:$DISKS Portal:$PORTAL2,2\$" <<<"$out"; then
    pass "libiscsi: iscsi-ls -s lists $DISKS on both portals ($PORTAL,1 and $PORTAL2,2)"
else
    fail "libiscsi: iscsi-ls -s lists $DISKS on both portals" "$out"
fi
if [ -z "$PORTAL2" ]; then
    fail "libiscsi: xtgt listens on two portals" "banner: $PORTALS"
elif out=$(timeout 60 python3 "$CONF_DIR/tools/alua_probe.py" "$DISKS" 0 $PORTALS 2>&1); then
    pass "libiscsi: two portals: SendTargets, TPGTs, VPD 0x83 and RTPG agree ($(tr '\n' ';' <<<"$out"))"
else
    fail "libiscsi: two portals: SendTargets, TPGTs, VPD 0x83 and RTPG agree" "$out"
fi

# run_suite NAME TAG URL [URL2]: PASS if iscsi-test-cu exits 0 and every
# test of the suite passed: none failed and none printed [SKIPPED] before
# its result. (libiscsi prints "[SKIPPED] PERSISTENT RESERVE IN is not
# implemented." from its setup and cleanup, outside any test: that line
# is not a skipped test; tools/libiscsi_table.py --check does the parsing.)
run_suite() {
    local suite=$1 tag=$2 log verdict rc
    shift 2
    log=$WORK/$suite-$tag.log
    timeout "$SUITE_TIMEOUT" iscsi-test-cu -d -t "$suite" "$@" </dev/null >"$log" 2>&1
    rc=$?
    verdict=$(python3 "$CONF_DIR/tools/libiscsi_table.py" --check "$log")
    if [ $? -eq 0 ] && [ "$rc" -eq 0 ]; then
        pass "libiscsi: $suite ($tag): $(tail -1 <<<"$verdict")"
    else
        local why="exit status $rc"
        [ "$rc" -eq 124 ] && why="timed out after ${SUITE_TIMEOUT}s"
        fail "libiscsi: $suite ($tag)" "$why" "$(head -6 <<<"$verdict")"
        mkdir -p "$RESULTS/logs" && cp "$log" "$RESULTS/logs/"
    fi
    if ! xtgt_alive; then
        fail "libiscsi: xtgt still running after $suite ($tag)" "$(tail -20 "$WORK/xtgt.err")"
        summary
        exit 1
    fi
}

# MultipathIO.CompareAndWrite (libiscsi 1.19) zeroes LBAs 0..255 with
# WRITE SAME but then runs COMPARE AND WRITE on LBAs 0..256 expecting
# zeroes: LBA 256 must already be zero, which holds only on a fresh LUN.
# Zero the first 4 MiB (more than 257 blocks of 4096 bytes) before it;
# if that fails the run that follows is not meaningful: FAIL.
zero_head() {
    local out
    if ! out=$(timeout 60 qemu-io -f raw -c "write -P 0 0 4M" "$1" 2>&1); then
        fail "libiscsi: zero the first 4 MiB of $1 (qemu-io) before $2" "$(tail -3 <<<"$out")"
    fi
}

# GetLBAStatus where a physical block holds two logical blocks: libiscsi
# 1.19's UnmapSingle expects the first descriptor at LBA i+LBPPB where
# SBC-4 requires the STARTING LOGICAL BLOCK ADDRESS i+1. Shown by a test:
# tools/lba_status_probe.py replays that step on a fresh LUN and requires
# the SBC-4 answer, and the suite there may fail in UnmapSingle only, and
# only with libiscsi's "lba offset in first descriptor does not match
# request" (every other test must pass; CUnit prints the message as the
# source's split string literal).
lba_status_lbppb2() {
    local out log=$WORK/SCSI.GetLBAStatus-lbppb2.log verdict bad
    if out=$(timeout 60 python3 "$CONF_DIR/tools/lba_status_probe.py" "$PORTAL" "$DISKS" 6 2>&1); then
        pass "libiscsi: GET LBA STATUS on LBPPB=2: first descriptor starts at the STARTING LBA (SBC-4): $out"
    else
        fail "libiscsi: GET LBA STATUS on LBPPB=2: first descriptor starts at the STARTING LBA (SBC-4)" "$out"
    fi
    timeout "$SUITE_TIMEOUT" iscsi-test-cu -d -t SCSI.GetLBAStatus "$URLLBPPB2" </dev/null >"$log" 2>&1
    verdict=$(python3 "$CONF_DIR/tools/libiscsi_table.py" --check "$log")
    bad=$(grep -v '^[0-9]* tests, ' <<<"$verdict")
    if [ -z "$bad" ]; then
        pass "libiscsi: SCSI.GetLBAStatus (4096, LBPPB=2): $(tail -1 <<<"$verdict") (libiscsi agrees with SBC-4 now)"
    elif [ "$(wc -l <<<"$bad")" -eq 1 ] && grep -qE '^GetLBAStatus\.UnmapSingle failed(: .*)?$' <<<"$bad" &&
        grep -Eq 'lba offset in first descriptor does not ("[[:space:]]*")?match request' "$log"; then
        pass "libiscsi: SCSI.GetLBAStatus (4096, LBPPB=2): $(tail -1 <<<"$verdict"); UnmapSingle fails only on libiscsi's i+LBPPB expectation"
    else
        fail "libiscsi: SCSI.GetLBAStatus (4096, LBPPB=2): only UnmapSingle may fail, on libiscsi's i+LBPPB expectation" "$verdict"
        mkdir -p "$RESULTS/logs" && cp "$log" "$RESULTS/logs/"
    fi
}

# ProutReserve on the 4096-byte LUN: libiscsi 1.19's verify_write_works
# (iscsi-support.c) writes one block as 512 bytes ("const int blksize =
# 512"), so on a 4096-byte LUN its WRITE(10) of one block carries an
# eighth of the block and gets INVALID FIELD IN COMMAND IU (0Eh/03h, SAM-5
# 5.4.2), reservation or not. There the suite may fail only in the six
# Access* tests, only with that WRITE(10) sense; every other test (the
# Ownership* ones, on 4096 too) must pass. The 512-byte LUN runs the whole
# suite strictly.
PROUT_4096_KNOWN='^ProutReserve\.Access(EA|WE|EARO|WERO|EAAR|WEAR) failed: WRITE10 command: failed with sense: .*\(0x0e03\)$'
prout_reserve_4096() {
    local log=$WORK/SCSI.ProutReserve-4096.log verdict bad
    timeout "$SUITE_TIMEOUT" iscsi-test-cu -d -t SCSI.ProutReserve "$URL4096" </dev/null >"$log" 2>&1
    verdict=$(python3 "$CONF_DIR/tools/libiscsi_table.py" --check "$log")
    bad=$(grep -v '^[0-9]* tests, ' <<<"$verdict" | grep -vE "$PROUT_4096_KNOWN")
    if [ -z "$bad" ] && ! grep -q '\[SKIPPED\]' "$log"; then
        pass "libiscsi: SCSI.ProutReserve (4096): $(tail -1 <<<"$verdict"); Access* fail only on libiscsi's 512-byte WRITE(10) (0Eh/03h)"
    else
        fail "libiscsi: SCSI.ProutReserve (4096): only Access* may fail, on libiscsi's 512-byte WRITE(10)" "$verdict"
        mkdir -p "$RESULTS/logs" && cp "$log" "$RESULTS/logs/"
    fi
}

rm -rf "$RESULTS/logs"
while read -r suite _; do
    case "$suite" in
    "" | \#*) continue ;;
    SCSI.ReadOnly) run_suite "$suite" readonly "$URLRO" ;;
    SCSI.GetLBAStatus)
        run_suite "$suite" 512-lbppb1 "$URLP512"
        run_suite "$suite" 4096-lbppb1 "$URLP4096"
        lba_status_lbppb2
        ;;
    SCSI.StartStopUnit | SCSI.PreventAllow | SCSI.NoMedia)
        run_suite "$suite" removable-512 "$URLRM512"
        run_suite "$suite" removable-4096 "$URLRM4096"
        ;;
    SCSI.ProutReserve)
        run_suite "$suite" 512 "$URL512"
        prout_reserve_4096
        ;;
    SCSI.MultipathIO)
        zero_head "$URL512" "$suite"
        run_suite "$suite" 512 "$URL512" "$URL512B"
        zero_head "$URL4096" "$suite"
        run_suite "$suite" 4096 "$URL4096" "$URL4096B"
        ;;
    *)
        run_suite "$suite" 512 "$URL512"
        run_suite "$suite" 4096 "$URL4096"
        ;;
    esac
done <"${LIBISCSI_REQUIRED:-$CONF_DIR/libiscsi-required.txt}"

if [ -z "${LIBISCSI_SKIP_ALL:-}" ]; then
    # Every suite (-t ALL) on the 512-byte and 4096-byte LUNs with one
    # logical block per physical block (LUNs 4 and 5: GetLBAStatus'
    # UnmapSingle assumes LBPPB = 1, see above; the LBPPB > 1 paths are
    # covered by the required suites on LUNs 0 and 1). Any failed test is
    # a FAIL; skips are counted on the line, and each remaining one is
    # explained in the README's table. So is a crash, or a run that
    # produced no results.
    for tag in 512 4096; do
        url=$URLP512
        [ "$tag" = 4096 ] && url=$URLP4096
        zero_head "$url" "-t ALL"
        timeout 1800 iscsi-test-cu -d -t ALL "$url" "$url" </dev/null >"$WORK/all-$tag.log" 2>&1
        counts=$(python3 "$CONF_DIR/tools/libiscsi_table.py" --counts "$WORK/all-$tag.log")
        crc=$?
        if ! xtgt_alive; then
            fail "libiscsi: xtgt survives iscsi-test-cu -t ALL ($tag)" "$(tail -20 "$WORK/xtgt.err")"
        elif [ "$crc" -ne 0 ]; then
            fail "libiscsi: iscsi-test-cu -t ALL ($tag) ran tests" "$counts" "$(tail -5 "$WORK/all-$tag.log")"
        else
            # Failures but for libiscsi's own 512-byte WRITE(10) in
            # ProutReserve.Access* on the 4096-byte LUN (see
            # prout_reserve_4096); a test without a result counts as one.
            bad=$(python3 "$CONF_DIR/tools/libiscsi_table.py" --check "$WORK/all-$tag.log" | grep -E '^[^ ]+ (failed|no result)')
            [ "$tag" = 4096 ] && bad=$(grep -vE "$PROUT_4096_KNOWN" <<<"$bad")
            if [ -n "$bad" ] || ! grep -q ' 0 no result$' <<<"$counts"; then
                fail "libiscsi: iscsi-test-cu -t ALL ($tag): no test failed" "$counts" "$(head -8 <<<"$bad")"
                mkdir -p "$RESULTS/logs" && cp "$WORK/all-$tag.log" "$RESULTS/logs/"
            else
                pass "libiscsi: iscsi-test-cu -t ALL ($tag): no test failed$([ "$tag" = 4096 ] && echo " but ProutReserve.Access* on libiscsi's 512-byte WRITE(10)"), xtgt still running: $counts"
            fi
        fi
    done
    timeout 120 iscsi-test-cu -d -t SCSI.ReadOnly "$URLRO" >"$WORK/all-ro.log" 2>&1
    # StartStopUnit, PreventAllow and NoMedia skip on a fixed medium:
    # their table rows come from the removable LUNs.
    for tag in 512 4096; do
        url=$URLRM512
        [ "$tag" = 4096 ] && url=$URLRM4096
        : >"$WORK/all-rm-$tag.log"
        for suite in SCSI.StartStopUnit SCSI.PreventAllow SCSI.NoMedia; do
            timeout 300 iscsi-test-cu -d -t "$suite" "$url" </dev/null >>"$WORK/all-rm-$tag.log" 2>&1
        done
    done
    mkdir -p "$RESULTS"
    if python3 "$CONF_DIR/tools/libiscsi_table.py" "$WORK/all-512.log" "$WORK/all-4096.log" \
        "$WORK/all-ro.log" "$WORK/all-rm-512.log" "$WORK/all-rm-4096.log" \
        >"$RESULTS/libiscsi-all.md.new"; then
        mv "$RESULTS/libiscsi-all.md.new" "$RESULTS/libiscsi-all.md"
        cp "$WORK/all-512.log" "$RESULTS/libiscsi-all-512.log"
        cp "$WORK/all-4096.log" "$RESULTS/libiscsi-all-4096.log"
        echo "results table: $RESULTS/libiscsi-all.md"
    else
        rm -f "$RESULTS/libiscsi-all.md.new"
        fail "libiscsi: results table written"
    fi
fi

stop_xtgt
summary
