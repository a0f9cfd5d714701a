#!/bin/bash
# Linux guest conformance harness for xtgt: real Linux SCSI tools and the real
# Linux iSCSI initiator, in a tiny QEMU (TCG) guest.
#
#   conformance/linux-vm/run.sh [all|passthrough|kernel]      (default: all)
#
# passthrough: xtgt runs on the host (free port, temp config: 2 targets, LUNs of
#   512 and 4096 byte blocks); QEMU attaches the LUNs over libiscsi (scsi-generic,
#   see DEV below); the guest runs sg3_utils/ddpt against /dev/sgN (guest/passthrough.sh).
# kernel: xtgt runs inside the guest on 127.0.0.1:3260; iscsid/iscsiadm log in
#   (CHAP, CRC32C digests), ext4 round trip and direct I/O (guest/kernel-initiator.sh).
#
# Prints PASS/FAIL per check and "N passed, M failed"; exits 1 on any failure.
# Environment:
#   XTGT_BIN=path          xtgt binary (default: <repo>/target/release/xtgt)
#   LINUX_VM_TARGET=tgt    use Debian's tgtd instead of xtgt (for comparison)
#   LINUX_VM_COPY=0        leave out the copy offload checks (guest/copy-checks.sh;
#                          default on for xtgt, off for tgt which has no copy offload)
#   LINUX_VM_ODX=0         leave out the ODX token checks (ddpt --odx, ddptctl; default on
#                          for xtgt, off for tgt which has no ODX)
#   VERBOSE=1              print every check's output, not only failures'
#   XTGT_CACHE=dir         cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/xtgt)
#   VM_TIMEOUT=seconds     per guest run (default 240)
#   LINUX_VM_DEV=scsi-block  attach the LUNs with scsi-block instead of scsi-generic
#   XTGT_LOG=filter        RUST_LOG for xtgt (default info)
#   LINUX_VM_SCRIPT=file   run this guest script instead of the mode's own (debugging;
#                          it may source /lib.sh and /env.sh)
#   KEEP_WORK=1            keep the work directory (guest results, consoles, target log)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
MODE=${1:-all}
TARGET=${LINUX_VM_TARGET:-xtgt}
XTGT_BIN=${XTGT_BIN:-$REPO/target/release/xtgt}
VM_TIMEOUT=${VM_TIMEOUT:-240}
# scsi-generic, not scsi-block: QEMU 7.2's scsi-block answers VERIFY with BYTCHK=1 itself
# (hw/scsi/scsi-disk.c: the data is accepted and never compared) and rebuilds READ/WRITE
# CDBs; scsi-generic hands every CDB to libiscsi unchanged. Both give the guest /dev/sgN
# and /dev/sdX. LINUX_VM_DEV=scsi-block runs the same checks through scsi-block.
DEV=${LINUX_VM_DEV:-scsi-generic}
# tgt has no copy offload: its copy checks would only fail
if [ "$TARGET" = tgt ]; then COPY_DEFAULT=0; else COPY_DEFAULT=1; fi
ODX_DEFAULT=$COPY_DEFAULT
case $MODE in all|passthrough|kernel) ;; *) echo "usage: $0 [all|passthrough|kernel]" >&2; exit 2;; esac
case $TARGET in xtgt|tgt) ;; *) echo "LINUX_VM_TARGET must be xtgt or tgt" >&2; exit 2;; esac

T_START=$(date +%s)
TOTAL_PASS=0; TOTAL_FAIL=0; TOTAL_SKIP=0
pass() { echo "PASS $*"; TOTAL_PASS=$((TOTAL_PASS + 1)); }
fail() { echo "FAIL $*"; TOTAL_FAIL=$((TOTAL_FAIL + 1)); }
skip() { echo "SKIP $1 ($2)"; TOTAL_SKIP=$((TOTAL_SKIP + 1)); }

# --- host prerequisites ------------------------------------------------------
need_pkgs=""
command -v qemu-system-x86_64 >/dev/null || need_pkgs="$need_pkgs qemu-system-x86 qemu-block-extra"
[ -n "$(ls /usr/lib/x86_64-linux-gnu/qemu/block-iscsi.so 2>/dev/null)" ] || need_pkgs="$need_pkgs qemu-system-x86 qemu-block-extra"
if [ -n "$need_pkgs" ] && [ -n "${XTGT_NO_APT:-}" ]; then
  echo "FAIL host_packages (missing:$need_pkgs; XTGT_NO_APT is set)"; echo "0 passed, 1 failed, 0 skipped"; exit 1
elif [ -n "$need_pkgs" ]; then
  echo "installing host packages:$need_pkgs"
  # qemu-block-extra must match QEMU's exact version: install both in one command
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need_pkgs >/dev/null || { apt-get update -q >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need_pkgs >/dev/null; } \
    || { echo "FAIL host_packages"; exit 1; }
fi
if [ "$TARGET" = xtgt ] && [ ! -x "$XTGT_BIN" ]; then
  echo "xtgt binary $XTGT_BIN missing: building it (cargo build --release)"
  (cd "$REPO" && cargo build --release -q) || { echo "FAIL build_xtgt"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
fi

# --- the guest (cached) --------------------------------------------------------
T0=$(date +%s)
GUEST=$("$HERE/build-guest.sh" | tail -n 1)
if [ -z "$GUEST" ] || [ ! -f "$GUEST/base.cpio.gz" ]; then echo "FAIL build_guest"; echo "0 passed, 1 failed, 0 skipped"; exit 1; fi
echo "guest: $GUEST ($(cat "$GUEST/kernel"), ready in $(( $(date +%s) - T0 ))s)"
BB=$GUEST/busybox

W=$(mktemp -d /tmp/xtgt-linux-vm.XXXXXX)
if [ "$TARGET" = xtgt ]; then
  # a private copy: a concurrent cargo build must not swap the binary mid-run
  cp "$XTGT_BIN" "$W/xtgt" && XTGT_BIN=$W/xtgt
  echo "xtgt: $("$XTGT_BIN" --version 2>/dev/null || echo '?') ($(stat -c '%y' "$W/xtgt" | cut -c1-19))"
fi
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; kill -9 "$p" 2>/dev/null; done
  PIDS=()
  rm -f /dev/shm/xtgt-linux-vm.$$.*
  [ "${KEEP_WORK:-0}" = 1 ] && echo "work dir kept: $W" || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  local p
  for _ in $(seq 50); do
    p=$(( 20000 + RANDOM % 40000 ))
    ss -ltnH "sport = :$p" 2>/dev/null | grep -q . || { echo $p; return 0; }
  done
  return 1
}
wait_listen() { # port pid
  for _ in $(seq 100); do
    ss -ltnH "sport = :$1" 2>/dev/null | grep -q . && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
# http_get PORT PATH: body of a plain HTTP GET on 127.0.0.1 (bash's /dev/tcp: no curl needed)
http_get() {
  timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$0 && printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$1" >&3 && cat <&3' "$1" "$2" 2>/dev/null |
    tr -d '\r' | sed '1,/^$/d'
}
# copy a binary and its shared libraries into an overlay tree
add_bin() { # binary destdir-in-overlay overlay
  cp -L "$1" "$3/$2/"
  ldd "$1" 2>/dev/null | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | while read -r l; do
    case $l in /lib64/*) mkdir -p "$3/lib64"; cp -nL "$l" "$3/lib64/" ;; *) mkdir -p "$3/lib/x86_64-linux-gnu"; cp -nL "$l" "$3/lib/x86_64-linux-gnu/" ;; esac
  done
}

# run_vm NAME OVERLAY_DIR MEM_MB [QEMU ARGS...]: boots the guest with the overlay
# (its test.sh is the mode's script), relays the guest's PASS/FAIL lines.
run_vm() {
  local name=$1 ov=$2 mem=$3; shift 3
  local res=$W/$name.results con=$W/$name.console
  chmod +x "$ov/test.sh"
  cp "$HERE/guest/lib.sh" "$ov/lib.sh"
  (cd "$ov" && find . | "$BB" cpio -o -H newc 2>/dev/null | gzip -1) > "$W/$name.ov.cpio.gz"
  cat "$GUEST/base.cpio.gz" "$W/$name.ov.cpio.gz" > "$W/$name.initrd.gz"
  : > "$res"
  local t0; t0=$(date +%s%N)
  timeout "$VM_TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -machine q35 -m "$mem" -smp 2 \
    -nographic -nodefaults -no-reboot \
    -serial file:"$con" -serial file:"$res" \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    -kernel "$GUEST/vmlinuz" -initrd "$W/$name.initrd.gz" \
    -append "console=ttyS0 quiet loglevel=4 panic=-1 rdinit=/init" "$@" \
    > "$W/$name.qemu.log" 2>&1
  local qrc=$? grc
  local wall; wall=$(awk "BEGIN{printf \"%.1f\", ($(date +%s%N)-$t0)/1e9}")
  if [ $qrc -eq 124 ]; then grc=timeout; elif [ $((qrc & 1)) -eq 1 ]; then grc=$((qrc >> 1)); else grc="none(qemu rc $qrc)"; fi
  # relay the guest's lines; count its PASS/FAIL
  local line f0=$TOTAL_FAIL last_start=""
  while IFS= read -r line; do
    case $line in
      "PASS "*) last_start=""; TOTAL_PASS=$((TOTAL_PASS + 1)); echo "${line/PASS /PASS $name.}" ;;
      "FAIL "*) last_start=""; TOTAL_FAIL=$((TOTAL_FAIL + 1)); echo "${line/FAIL /FAIL $name.}" ;;
      "SKIP "*) last_start=""; TOTAL_SKIP=$((TOTAL_SKIP + 1)); echo "${line/SKIP /SKIP $name.}" ;;
      "START "*) last_start=${line#START } ;;
      "    | "*|"NOTE "*|"SUMMARY "*) echo "$line" ;;
      *) [ "${VERBOSE:-0}" = 1 ] && echo "    . $line" ;;
    esac
  done < <(tr -d '\r' < "$res")
  if grep -q '^=== TEST-EXIT' "$res" && { [ "$grc" = 0 ] || [ "$TOTAL_FAIL" -gt "$f0" ]; }; then
    pass "$name.vm (guest ran to the end, rc=$grc, ${wall}s)"
  elif grep -q '^=== TEST-EXIT' "$res"; then
    fail "$name.vm (guest script exited rc=$grc without a FAIL line, ${wall}s)"
  else
    fail "$name.vm (guest did not finish: rc=$grc, ${wall}s)${last_start:+; hung in check $last_start}; console tail:"
    tail -n 30 "$con" | sed 's/^/    | /'; tail -n 5 "$W/$name.qemu.log" | sed 's/^/    | /'
  fi
}

# --- target on the host for passthrough mode ---------------------------------
# LUN layout (both targets): label:target:lun:block_size:bytes
#   t1l0 512 B blocks, 64 MiB file   t1l1 4096 B blocks, 64 MiB file
#   t1l2 512 B blocks, 64 MiB memory t2l0 512 B blocks, 64 MiB memory
IQN1=iqn.2026-11.com.example:store1
IQN2=iqn.2026-11.com.example:store2
LUN_BYTES=$((64 * 1024 * 1024))
write_xtgt_config() { # dir listen [chap-for-t2] [lun0 bytes] [metrics address]
  local dir=$1 listen=$2 chap=${3:-} big=${4:-$LUN_BYTES} metrics=${5:-}
  cat > "$dir/xtgt.toml" <<CONF
[server]
listen = ["$listen"]
${metrics:+metrics_listen = \"$metrics\"}

[[targets]]
iqn = "$IQN1"
[[targets.luns]]
lun = 0
backend = "file"
path = "t1l0.img"
size = "$((big / 1048576))MiB"
block_size = 512
[[targets.luns]]
lun = 1
backend = "file"
path = "t1l1.img"
size = "$((LUN_BYTES / 1048576))MiB"
block_size = 4096
[[targets.luns]]
lun = 2
backend = "memory"
size = "$((LUN_BYTES / 1048576))MiB"
block_size = 512

[[targets]]
iqn = "$IQN2"
$chap
[[targets.luns]]
lun = 0
backend = "memory"
size = "$((LUN_BYTES / 1048576))MiB"
block_size = 512
CONF
}
start_host_target() { # -> PORT, PT_LUNS
  PORT=$(free_port) || { fail "passthrough.target_port"; return 1; }
  if [ "$TARGET" = xtgt ]; then
    mkdir -p "$W/pt"
    METRICS_PORT=$(free_port)
    write_xtgt_config "$W/pt" "127.0.0.1:$PORT" "" "$LUN_BYTES" "127.0.0.1:$METRICS_PORT"
    "$XTGT_BIN" --config "$W/pt/xtgt.toml" --check > "$W/check.log" 2>&1 || { fail "passthrough.xtgt_config_check"; sed 's/^/    | /' "$W/check.log"; return 1; }
    NO_COLOR=1 RUST_LOG=${XTGT_LOG:-info} "$XTGT_BIN" --config "$W/pt/xtgt.toml" > "$W/target.log" 2>&1 &
    TPID=$!; PIDS+=("$TPID")
    PT_LUNS="t1l0:0:0:512:$LUN_BYTES t1l1:0:1:4096:$LUN_BYTES t1l2:0:2:512:$LUN_BYTES t2l0:1:0:512:$LUN_BYTES"
  else
    # tgtd: LUN 0 is its controller LUN, so the disks are LUNs 1..3 (t2: 1)
    local cp=$(( 100 + RANDOM % 800 )); mkdir -p "$W/pt"   # control "port": a small number (abstract socket)
    for f in t1l0 t1l1; do truncate -s $LUN_BYTES "$W/pt/$f.img"; done
    setsid tgtd -f -C "$cp" --iscsi portal=127.0.0.1:$PORT > "$W/target.log" 2>&1 < /dev/null &
    TPID=$!; PIDS+=("$TPID")
    for _ in $(seq 50); do tgtadm -C "$cp" --lld iscsi --mode sys --op show >/dev/null 2>&1 && break; sleep 0.1; done
    local a="tgtadm -C $cp --lld iscsi"
    $a --mode target --op new --tid 1 --targetname $IQN1 &&
    # "memory" LUNs: files on /dev/shm; thin_provisioning=1 makes tgtd implement UNMAP
    truncate -s $LUN_BYTES "/dev/shm/xtgt-linux-vm.$$.t1l2" "/dev/shm/xtgt-linux-vm.$$.t2l0"
    ln -s "/dev/shm/xtgt-linux-vm.$$.t1l2" "$W/pt/t1l2.img"; ln -s "/dev/shm/xtgt-linux-vm.$$.t2l0" "$W/pt/t2l0.img"
    $a --mode logicalunit --op new --tid 1 --lun 1 --backing-store "$W/pt/t1l0.img" &&
    $a --mode logicalunit --op new --tid 1 --lun 2 --backing-store "$W/pt/t1l1.img" --blocksize 4096 &&
    $a --mode logicalunit --op new --tid 1 --lun 3 --backing-store "$W/pt/t1l2.img" &&
    $a --mode target --op new --tid 2 --targetname $IQN2 &&
    $a --mode logicalunit --op new --tid 2 --lun 1 --backing-store "$W/pt/t2l0.img" &&
    for tl in 1:1 1:2 1:3 2:1; do $a --mode logicalunit --op update --tid ${tl%:*} --lun ${tl#*:} --params thin_provisioning=1 || break; done &&
    $a --mode target --op bind --tid 1 --initiator-address ALL &&
    $a --mode target --op bind --tid 2 --initiator-address ALL || { fail "passthrough.tgt_setup"; return 1; }
    TGT_CP=$cp
    PT_LUNS="t1l0:0:1:512:$LUN_BYTES t1l1:0:2:4096:$LUN_BYTES t1l2:0:3:512:$LUN_BYTES t2l0:1:1:512:$LUN_BYTES"
  fi
  if wait_listen "$PORT" "$TPID"; then pass "passthrough.target_start ($TARGET on 127.0.0.1:$PORT)"
  else fail "passthrough.target_start ($TARGET)"; sed 's/^/    | /' "$W/target.log" | tail -n 20; return 1; fi
}
stop_host_target() {
  if [ "$TARGET" = tgt ] && [ -n "${TGT_CP:-}" ]; then
    for t in 1 2; do tgtadm -C "$TGT_CP" --mode target --op delete --force --tid $t >/dev/null 2>&1; done
    tgtadm -C "$TGT_CP" --mode sys --op delete >/dev/null 2>&1   # asks tgtd to exit
  else kill "$TPID" 2>/dev/null; fi
  for _ in $(seq 30); do kill -0 "$TPID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$TPID" 2>/dev/null; then echo "NOTE $TARGET did not exit within 3 s: killed"; kill -9 "$TPID" 2>/dev/null; fi
  { wait "$TPID"; } 2>/dev/null
}

passthrough() {
  echo "=== passthrough mode: sg3_utils/ddpt -> QEMU $DEV/libiscsi -> $TARGET on the host"
  start_host_target || return 0
  local ov=$W/ov-pt; mkdir -p "$ov"
  cp "${LINUX_VM_SCRIPT:-$HERE/guest/passthrough.sh}" "$ov/test.sh"; cp "$HERE/guest/copy-checks.sh" "$ov/"
  printf 'PT_LUNS="%s"\nPT_DEV=%s\nLINUX_VM_COPY=%s\nLINUX_VM_ODX=%s\nVERBOSE=%s\n' "$PT_LUNS" "$DEV" "${LINUX_VM_COPY:-$COPY_DEFAULT}" "${LINUX_VM_ODX:-$ODX_DEFAULT}" "${VERBOSE:-0}" > "$ov/env.sh"
  local args=(-iscsi "initiator-name=iqn.2026-11.com.example:linux-vm-qemu" -device virtio-scsi-pci,id=scsi0)
  local n=0 e lab t l rest iqn
  for e in $PT_LUNS; do
    IFS=: read -r lab t l rest <<< "$e"
    iqn=$IQN1; [ "$t" = 1 ] && iqn=$IQN2
    args+=(-drive "file=iscsi://127.0.0.1:$PORT/$iqn/$l,if=none,id=d$n,format=raw,cache=none"
           -device "$DEV,drive=d$n,bus=scsi0.0,channel=0,scsi-id=$t,lun=$l")
    n=$((n + 1))
  done
  run_vm passthrough "$ov" 512 "${args[@]}"
  if [ "$TARGET" = xtgt ]; then
    # evidence from the target itself: the commands it counted (QEMU could answer some itself)
    http_get "$METRICS_PORT" /metrics > "$W/metrics.txt"
    grep '^xtgt_commands_total' "$W/metrics.txt" | sed 's/^/NOTE target counted: /'
    if ! grep -q '^xtgt_build_info' "$W/metrics.txt"; then
      fail "passthrough.verify_reached_target (cannot read xtgt's /metrics on port $METRICS_PORT)"
    elif grep -Eq '^xtgt_commands_total\{[^}]*opcode="VERIFY_(10|16)"[^}]*\} [1-9]' "$W/metrics.txt"; then
      pass "passthrough.verify_reached_target (xtgt counted VERIFY commands)"
    elif [ "$DEV" = scsi-block ]; then
      skip "passthrough.verify_reached_target" "no VERIFY reached xtgt: QEMU's scsi-block answered ddpt --verify itself"
    else fail "passthrough.verify_reached_target (no VERIFY in xtgt's xtgt_commands_total)"; fi
  fi
  if kill -0 "$TPID" 2>/dev/null; then pass "passthrough.target_alive ($TARGET still running after the run)"
  else fail "passthrough.target_alive ($TARGET exited during the run)"; tail -n 30 "$W/target.log" | sed 's/^/    | /'; fi
  stop_host_target
  [ "${VERBOSE:-0}" = 1 ] && { echo "--- target log"; tail -n 50 "$W/target.log"; }
  cp "$W/target.log" "$W/passthrough.target.log" 2>/dev/null
}

kernel() {
  echo "=== kernel initiator mode: iscsid/iscsiadm -> $TARGET on the guest's loopback"
  local ov=$W/ov-ki; mkdir -p "$ov/usr/sbin" "$ov/xtgt"
  cp "${LINUX_VM_SCRIPT:-$HERE/guest/kernel-initiator.sh}" "$ov/test.sh"; cp "$HERE/guest/pr-checks.sh" "$ov/"
  if [ "$TARGET" = xtgt ]; then
    add_bin "$XTGT_BIN" usr/sbin "$ov"
    # debug info is no use in the guest and costs initramfs RAM
    strip --strip-debug "$ov/usr/sbin/xtgt" 2>/dev/null || true
    write_xtgt_config "$ov/xtgt" "127.0.0.1:3260" 'chap = { user = "alice", secret = "secret-of-12-or-more" }' $((128 * 1024 * 1024))
    # A second portal: store1 gets two target ports in two ALUA groups, with
    # SET TARGET PORT GROUPS allowed (the guest's mp.* checks log in over
    # both and switch states with sg_stpg).
    sed -i 's|^listen = .*|listen = ["127.0.0.1:3260", "127.0.0.1:3261"]|' "$ov/xtgt/xtgt.toml"
    sed -i "0,/^iqn = \"$IQN1\"\$/s||&\nexplicit_alua = true\n[[targets.port_groups]]\nid = 1\nportals = [\"127.0.0.1:3260\"]\n[[targets.port_groups]]\nid = 2\nstate = \"active/non-optimized\"\nportals = [\"127.0.0.1:3261\"]|" "$ov/xtgt/xtgt.toml"
    "$XTGT_BIN" --config "$ov/xtgt/xtgt.toml" --check >/dev/null 2>"$W/ki-check.log" || { fail "kernel.xtgt_config_check"; sed 's/^/    | /' "$W/ki-check.log"; }
  fi
  printf 'KI_TARGET=%s\nIQN1=%s\nIQN2=%s\nCHAP_USER=alice\nCHAP_SECRET=secret-of-12-or-more\nXTGT_LOG=%s\nVERBOSE=%s\n' \
    "$TARGET" "$IQN1" "$IQN2" "${XTGT_LOG:-info}" "${VERBOSE:-0}" > "$ov/env.sh"
  run_vm kernel "$ov" 1024
}

case $MODE in
  all) passthrough; kernel ;;
  passthrough) passthrough ;;
  kernel) kernel ;;
esac
echo "=== linux-vm ($TARGET): $TOTAL_PASS passed, $TOTAL_FAIL failed, $TOTAL_SKIP skipped in $(( $(date +%s) - T_START ))s"
echo "$TOTAL_PASS passed, $TOTAL_FAIL failed, $TOTAL_SKIP skipped"
[ "$TOTAL_FAIL" -eq 0 ]
