#!/bin/sh
# Kernel initiator mode (guest side): the target runs inside this guest on
# 127.0.0.1:3260 and the Linux iSCSI initiator (iscsi_tcp + iscsid/iscsiadm)
# logs in to it. All traffic stays on the guest's loopback.
# /env.sh (written by run.sh): KI_TARGET=xtgt|tgt IQN1 IQN2 CHAP_USER CHAP_SECRET XTGT_LOG
#   IQN1: LUN a (512 B blocks, 128 MiB, file) and LUN b (4096 B blocks, 64 MiB, file), no CHAP
#   IQN2: LUN c (512 B blocks, 64 MiB, memory), CHAP
#   xtgt also listens on 127.0.0.1:3261 (P2): IQN1 has two target ports, port 1
#   (P, TPGT 1) in group 1 active/optimized, port 2 (P2, TPGT 2) in group 2
#   active/non-optimized: the multipath checks (mp.*) log in over both, then
#   build a dm-multipath map over the two paths (mp.dm_*).
. /lib.sh
. /env.sh
P=127.0.0.1:3260
P2=127.0.0.1:3261
TLOG=/tmp/target.log

start_xtgt() {
  cd /xtgt && NO_COLOR=1 RUST_LOG=$XTGT_LOG /usr/sbin/xtgt --config /xtgt/xtgt.toml > $TLOG 2>&1 &
  echo $! > /tmp/target.pid; cd /tmp
  LUN_A=0 LUN_B=1 LUN_C=0
}
start_tgt() { # the stand-in target: same layout, LUN numbers from 1 (LUN 0 is tgtd's controller)
  mkdir -p /var/run/tgtd /lun
  truncate -s 128M /lun/a.img; truncate -s 64M /lun/b.img; truncate -s 64M /lun/c.img
  tgtd -f --iscsi portal=$P > $TLOG 2>&1 &
  echo $! > /tmp/target.pid
  i=0; while ! tgtadm --mode sys --op show >/dev/null 2>&1 && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  a="tgtadm --lld iscsi"
  $a --mode target --op new --tid 1 --targetname "$IQN1" &&
  $a --mode logicalunit --op new --tid 1 --lun 1 --backing-store /lun/a.img &&
  $a --mode logicalunit --op new --tid 1 --lun 2 --backing-store /lun/b.img --blocksize 4096 &&
  $a --mode target --op new --tid 2 --targetname "$IQN2" &&
  $a --mode logicalunit --op new --tid 2 --lun 1 --backing-store /lun/c.img &&
  $a --mode account --op new --user "$CHAP_USER" --password "$CHAP_SECRET" &&
  $a --mode account --op bind --tid 2 --user "$CHAP_USER" &&
  for tl in 1:1 1:2 2:1; do $a --mode logicalunit --op update --tid ${tl%:*} --lun ${tl#*:} --params thin_provisioning=1 || return 1; done &&
  for t in 1 2; do for k in HeaderDigest DataDigest; do $a --mode target --op update --tid $t --name $k --value CRC32C,None || return 1; done; done &&
  $a --mode target --op bind --tid 1 --initiator-address ALL &&
  $a --mode target --op bind --tid 2 --initiator-address ALL
  LUN_A=1 LUN_B=2 LUN_C=1
}
target_listening() {
  i=0
  while [ $i -lt 150 ]; do
    netstat -ltn 2>/dev/null | grep -q '127.0.0.1:3260 ' && return 0
    kill -0 "$(cat /tmp/target.pid)" 2>/dev/null || { echo "target exited:"; cat $TLOG; return 1; }
    sleep 0.1; i=$((i + 1))
  done
  echo "not listening after 15 s"; cat $TLOG; return 1
}
start_iscsid() {
  mkdir -p /var/lib/iscsi /run/lock/iscsi /var/lock/iscsi
  # its own session: iscsid's SIGTERM handler signals its whole process group
  setsid iscsid -f -d 1 > /tmp/iscsid.log 2>&1 &
  echo $! > /tmp/iscsid.pid
  i=0; while [ $i -lt 50 ]; do iscsiadm -m session >/dev/null 2>&1; [ $? -ne 20 ] && return 0; sleep 0.1; i=$((i + 1)); done
  # rc 20: cannot connect to iscsid
  cat /tmp/iscsid.log; return 1
}
discover() { # both targets listed by SendTargets
  iscsiadm -m discovery -t sendtargets -p $P > /tmp/disc.txt 2>&1; rc=$?; cat /tmp/disc.txt
  [ $rc -eq 0 ] && grep -q " $IQN1\$" /tmp/disc.txt && grep -q " $IQN2\$" /tmp/disc.txt
}
node_set() { iscsiadm -m node -T "$1" -p $P -o update -n "$2" -v "$3"; }
digests() { node_set "$1" 'node.conn[0].iscsi.HeaderDigest' "$2" && node_set "$1" 'node.conn[0].iscsi.DataDigest' "$2"; }
login() { iscsiadm -m node -T "$1" -p $P --login; }
logout() { iscsiadm -m node -T "$1" -p $P --logout; }
# sd_of IQN LUN [ATTR VALUE]: the /dev/sdX the kernel attached for that
# session's LUN, of a session whose sysfs ATTR (tpgt, initiatorname) is
# VALUE if given (waits up to 15 s)
sd_of() {
  i=0
  while [ $i -lt 150 ]; do
    for s in /sys/class/iscsi_session/session*; do
      [ "$(cat "$s/targetname" 2>/dev/null)" = "$1" ] || continue
      [ -z "${3:-}" ] || [ "$(cat "$s/$3" 2>/dev/null)" = "$4" ] || continue
      for b in "$s"/device/target*/*:*:*:"$2"/block/*; do
        [ -e "$b" ] && [ -e "/dev/${b##*/}" ] && { echo "/dev/${b##*/}"; return 0; }
      done
    done
    sleep 0.1; i=$((i + 1))
  done
  return 1
}
attached() { # IQN LUN VAR: the LUN shows up as a disk; store it in VAR
  d=$(sd_of "$1" "$2") || { echo "no disk for $1 LUN $2"; ls -l /sys/class/iscsi_session/ 2>&1; dmesg | tail -n 20; return 1; }
  eval "$3=$d"; echo "$1 LUN $2 -> $d, $(blockdev --getsize64 "$d") bytes, logical block $(blockdev --getss "$d")"
}
gone() { # no session left for IQN
  iscsiadm -m session 2>/dev/null | grep -q " $1\$" && { iscsiadm -m session; return 1; }
  return 0
}
session_params() { # IQN: the negotiated header/data digests as iscsiadm sees them
  iscsiadm -m session -P 2 > /tmp/sess.txt 2>&1
  awk -v t="$1" '/Target:/{on=($2==t)} on' /tmp/sess.txt
}
digest_is() { # IQN VALUE: both digests negotiated to VALUE
  session_params "$1" > /tmp/sp.txt; cat /tmp/sp.txt
  grep -q "HeaderDigest: $2" /tmp/sp.txt && grep -q "DataDigest: $2" /tmp/sp.txt
}
# --- two paths to one LU: two sessions, then dm-multipath over them ---------------
mp_discover() { # SendTargets through the second portal: IQN1 on both portals, TPGTs 1 and 2
  iscsiadm -m discovery -t sendtargets -p $P2 > /tmp/mpdisc.txt 2>&1; rc=$?; cat /tmp/mpdisc.txt
  [ $rc -eq 0 ] && grep -q "^$P,1 $IQN1\$" /tmp/mpdisc.txt && grep -q "^$P2,2 $IQN1\$" /tmp/mpdisc.txt
}
login_at() { iscsiadm -m node -T "$1" -p "$2" --login; }
logout_at() { iscsiadm -m node -T "$1" -p "$2" --logout; }
path_attached() { # IQN LUN TPGT VAR
  d=$(sd_of "$1" "$2" tpgt "$3") || { echo "no disk for $1 LUN $2 through TPGT $3"; ls /sys/class/iscsi_session/ 2>&1; return 1; }
  eval "$4=$d"; echo "$1 LUN $2 TPGT $3 -> $d, $(blockdev --getsize64 "$d") bytes"
}
two_disks() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" != "$2" ] || { echo "paths: '$1' '$2'"; return 1; }; }
# vpd_section DEV TITLE: the designators of one association of sg_vpd -p di
vpd_section() { sg_vpd -p di "$1" | awk -v t="  $2:" '$0 == t {on=1; next} /^  [^ ]/ {on=0} on'; }
same_lu_designators() { # D1 D2: equal, non-empty LU designators; different target ports
  vpd_section "$1" "Addressed logical unit" > /tmp/lu1.txt; vpd_section "$2" "Addressed logical unit" > /tmp/lu2.txt
  vpd_section "$1" "Target port" > /tmp/tp1.txt; vpd_section "$2" "Target port" > /tmp/tp2.txt
  echo "--- $1 LU"; cat /tmp/lu1.txt; echo "--- $2 LU"; cat /tmp/lu2.txt
  echo "--- $1 port"; cat /tmp/tp1.txt; echo "--- $2 port"; cat /tmp/tp2.txt
  grep -q NAA /tmp/lu1.txt && cmp /tmp/lu1.txt /tmp/lu2.txt && ! cmp -s /tmp/tp1.txt /tmp/tp2.txt
}
# vpd_port DEV: "relative-port group" (decimal) from VPD 0x83's target port designators
vpd_port() {
  sg_vpd -p di "$1" | awk '/Relative target port:/{r=$NF} /Target port group:/{g=$NF} END{print r, g}' |
    { read -r r g; [ -n "$r" ] && [ -n "$g" ] && echo "$((r)) $((g))"; }
}
# rtpg_ports DEV: one "relative-port group state" line (decimal) per port of sg_rtpg -d
rtpg_ports() {
  sg_rtpg -d "$1" | awk '
    /target port group id/ { s = $0; sub(/.*id : */, "", s); sub(/[ ,].*/, "", s); g = s; inl = 0; next }
    /asymmetric access state/ { s = $0; sub(/.*\(/, "", s); sub(/\).*/, "", s); gsub(/ /, "-", s); st = s; next }
    /Relative target port ids/ { inl = 1; next }
    inl && /^ *0x[0-9a-fA-F]+ *$/ { gsub(/ /, ""); print $0, g, st; next }
    { inl = 0 }' | while read -r r g st; do echo "$((r)) $((g)) $st"; done
}
rtpg_agrees() { # DEV WANT-STATE: sg_rtpg lists VPD 0x83's relative port in VPD 0x83's group, in WANT-STATE
  sg_rtpg -d "$1"; vp=$(vpd_port "$1") || { echo "no relative port / group in VPD 0x83"; return 1; }
  echo "VPD 0x83: relative port ${vp% *}, group ${vp#* }"; rtpg_ports "$1" > /tmp/rp.txt; cat /tmp/rp.txt
  grep -q "^$vp $2\$" /tmp/rp.txt
}
# dm-multipath without udevd or multipathd: the WWID from sysfs (VPD 0x83,
# uid_attribute ""), libdevmapper makes the /dev/mapper nodes itself, and a
# minimal udev database entry per sd device marks it initialized (libudev
# reports devices without one as not yet processed, and multipath skips them)
mpath() { DM_DISABLE_UDEV=1 multipath "$@"; }
udev_db() {
  mkdir -p /run/udev/data
  for d in /sys/block/sd*; do
    [ -e "$d/dev" ] && printf 'I:1000000\nV:1\n' > "/run/udev/data/b$(cat "$d/dev")"
  done
}
mp_conf() {
  mkdir -p /etc/multipath
  cat > /etc/multipath.conf <<'CONF'
defaults {
    user_friendly_names no
    find_multipaths     no
    uid_attribute       ""
}
blacklist_exceptions {
    property            ".*"
}
devices {
    device {
        vendor                "XTGT"
        product               "xtgt disk"
        path_grouping_policy  group_by_prio
        prio                  alua
        hardware_handler      "1 alua"
        path_checker          tur
        failback              immediate
        no_path_retry         fail
    }
}
CONF
}
map_of() { w=$(cat /sys/block/${1#/dev/}/device/wwid) || return 1; echo "3${w#naa.}"; } # sd -> dm map name
dm_map() { # D1 D2 VAR: multipath builds one map of both paths; its device goes in VAR
  mp_conf; udev_db; mpath -v2 2>&1; m=$(map_of "$1") || return 1
  [ "$(map_of "$2")" = "$m" ] || { echo "the two paths have different WWIDs: $m, $(map_of "$2")"; return 1; }
  i=0; while [ ! -b "/dev/mapper/$m" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  [ -b "/dev/mapper/$m" ] || { echo "no /dev/mapper/$m"; ls -l /dev/mapper; dmsetup ls 2>&1; return 1; }
  eval "$3=/dev/mapper/$m"; echo "map $m"
}
# dm_prios MAP: "sdX prio" for every path of MAP in multipath -ll
dm_prios() {
  mpath -ll "${1#/dev/mapper/}" 2>/dev/null | awk '/prio=/{s = $0; sub(/.*prio=/, "", s); sub(/ .*/, "", s); p = s}
    / sd[a-z]+ / {for (i = 1; i <= NF; i++) if ($i ~ /^sd[a-z]+$/) print $i, p}'
}
dm_grouped_by_alua() { # MAP D1 D2: D1 in the prio 50 group (active/optimized), D2 in the prio 10 one
  mpath -ll "${1#/dev/mapper/}"; dm_prios "$1" > /tmp/dmp.txt; cat /tmp/dmp.txt
  grep -q "^${2#/dev/} 50\$" /tmp/dmp.txt && grep -q "^${3#/dev/} 10\$" /tmp/dmp.txt
}
dm_write() { # MAP: 8 MiB through the map
  dd if=/dev/urandom of=/tmp/dm.bin bs=1M count=8 2>/dev/null
  dd if=/tmp/dm.bin of="$1" bs=1M seek=64 oflag=direct 2>&1 || return 1
  rm -f /tmp/dm.rd; dd if="$1" of=/tmp/dm.rd bs=1M skip=64 count=8 iflag=direct 2>&1 && cmp /tmp/dm.bin /tmp/dm.rd
}
dm_after_path1_logout() { # MAP D2: path 1 gone, the map reads the data through path 2 and writes
  mpath -ll "${1#/dev/mapper/}"
  rm -f /tmp/dm.rd; dd if="$1" of=/tmp/dm.rd bs=1M skip=64 count=8 iflag=direct 2>&1 || return 1
  cmp /tmp/dm.bin /tmp/dm.rd || return 1
  dm_write "$1" || return 1
  rm -f /tmp/dm.rd; dd if="$2" of=/tmp/dm.rd bs=1M skip=64 count=8 iflag=direct 2>&1 && cmp /tmp/dm.bin /tmp/dm.rd
}
tpgs_explicit() { sg_inq "$1" | tee /tmp/inq.txt | grep -E 'TPGS=3'; }
# stpg_to DEV OPTION WANT-STATE: sg_stpg OPTION (no --tp: it finds DEV's group from
# VPD 0x83 and RTPG itself); RTPG then shows WANT-STATE with status code 01h
stpg_to() {
  sg_stpg -v "$2" "$1" 2>&1 || return 1
  # what xtgt applied (sg_stpg sends a descriptor for every group: setting one
  # active/optimized gives the previously optimized one this group's old state)
  esc=$(printf '\033'); sed "s/$esc\[[0-9;]*m//g" $TLOG | grep 'SET TARGET PORT GROUPS' | tail -n 1
  rtpg_agrees "$1" "$3" || return 1
  vp=$(vpd_port "$1"); g=${vp#* }
  sg_rtpg -d "$1" | awk -v g="$(printf '0x%x' "$g")" '/target port group id/{on = ($6 == g)} on && /status code/' | tee /tmp/st.txt
  grep -q 'status code : 0x01' /tmp/st.txt
}
groups_restored() { # DEV: SET TARGET PORT GROUPS with both descriptors, RTPG agrees
  sg_stpg -v --tp=1,2 --state=ao,an "$1" 2>&1 || return 1
  rtpg_ports "$1" > /tmp/gs.txt; cat /tmp/gs.txt
  grep -q '^1 1 active/optimized$' /tmp/gs.txt && grep -q '^2 2 active/non-optimized$' /tmp/gs.txt
}
standby_not_ready() { # DEV: TEST UNIT READY through a standby port: NOT READY, 04h/0Bh
  if sg_turs -v "$1" > /tmp/turs.txt 2>&1; then cat /tmp/turs.txt; echo "TEST UNIT READY succeeded through a standby port"; return 1; fi
  cat /tmp/turs.txt; grep -qi 'standby state' /tmp/turs.txt
}
dm_flush() { mpath -F 2>&1; ! ls /dev/mapper | grep -v '^control$'; }

path_io_after_logout() { # D1 D2 IQN: write on path 1, log out of it, read and write on path 2
  dd if=/dev/urandom of=/tmp/mp.bin bs=1M count=4 2>/dev/null
  dd if=/tmp/mp.bin of="$1" bs=1M seek=40 oflag=direct 2>&1 || return 1
  logout_at "$3" $P || return 1
  rm -f /tmp/mp.rd; dd if="$2" of=/tmp/mp.rd bs=1M skip=40 count=4 iflag=direct 2>&1 || return 1
  cmp /tmp/mp.bin /tmp/mp.rd || return 1
  dd if=/dev/urandom of=/tmp/mp.bin bs=4096 count=7 2>/dev/null
  dd if=/tmp/mp.bin of="$2" bs=4096 seek=999 oflag=direct 2>&1 || return 1
  rm -f /tmp/mp.rd; dd if="$2" of=/tmp/mp.rd bs=4096 skip=999 count=7 iflag=direct 2>&1 || return 1
  cmp /tmp/mp.bin /tmp/mp.rd
}

blocksize_is() { [ "$(blockdev --getss "$1")" = "$2" ] || { echo "$1: logical block $(blockdev --getss "$1"), want $2"; return 1; }; }

# --- filesystem round trip ------------------------------------------------------
fs_write() { # dev: mkfs.ext4, mount, write files, record checksums, unmount
  mkfs.ext4 -q -F "$1" || return 1
  mkdir -p /mnt/fs && mount -t ext4 "$1" /mnt/fs || return 1
  i=1
  for kib in 1 3 17 64 200 511 1024 4096 8192; do
    dd if=/dev/urandom of=/mnt/fs/f$i bs=1024 count=$kib 2>/dev/null || return 1; i=$((i + 1))
  done
  mkdir -p /mnt/fs/dir/sub && seq 1 20000 > /mnt/fs/dir/sub/numbers && echo hello > /mnt/fs/dir/hello
  (cd /mnt/fs && find . -type f | sort | xargs sha256sum) > /tmp/sums.txt
  cat /tmp/sums.txt
  umount /mnt/fs
}
fs_fsck() { fsck.ext4 -n -f "$1"; }
fs_verify() { # dev: mount, the checksums match the recorded ones, unmount
  mount -t ext4 "$1" /mnt/fs || return 1
  (cd /mnt/fs && sha256sum -c /tmp/sums.txt); rc=$?
  umount /mnt/fs; return $rc
}
# --- direct I/O through the block layer -------------------------------------------
dio_write() { # dev: 16 MiB of random data written with O_DIRECT at 1 MiB offset, read back with O_DIRECT
  dd if=/dev/urandom of=/tmp/dio.bin bs=1M count=16 2>/dev/null
  dd if=/tmp/dio.bin of="$1" bs=1M seek=1 oflag=direct 2>&1 || return 1
  dio_verify "$1"
}
dio_verify() {
  rm -f /tmp/dio.rd; dd if="$1" of=/tmp/dio.rd bs=1M skip=1 count=16 iflag=direct 2>&1 || return 1
  cmp /tmp/dio.bin /tmp/dio.rd
}
dio_small() { # dev bs: O_DIRECT writes/reads of single logical blocks at odd offsets
  dd if=/dev/urandom of=/tmp/blk.bin bs="$2" count=3 2>/dev/null
  dd if=/tmp/blk.bin of="$1" bs="$2" seek=12345 oflag=direct 2>&1 || return 1
  rm -f /tmp/blk.rd; dd if="$1" of=/tmp/blk.rd bs="$2" skip=12345 count=3 iflag=direct 2>&1 || return 1
  cmp /tmp/blk.bin /tmp/blk.rd
}
discard() { # dev: blkdiscard 4 MiB at 8 MiB through the block layer (sd turns it into UNMAP
  # or WRITE SAME as VPD 0xB0/0xB2 advertise); zeros read back when LBPRZ=1
  mode=$(cat /sys/block/${1#/dev/}/device/scsi_disk/*/provisioning_mode 2>/dev/null); echo "sd provisioning_mode: $mode"
  dd if=/dev/urandom of=/tmp/disc.bin bs=1M count=4 2>/dev/null
  dd if=/tmp/disc.bin of="$1" bs=1M seek=8 oflag=direct 2>&1 || return 1
  blkdiscard -o $((8 * 1048576)) -l $((4 * 1048576)) "$1" || return 1
  rm -f /tmp/disc.rd; dd if="$1" of=/tmp/disc.rd bs=1M skip=8 count=4 iflag=direct 2>/dev/null || return 1
  if sg_readcap -l "$1" | grep -q 'lbprz=1'; then
    dd if=/dev/zero of=/tmp/disc.bin bs=1M count=4 2>/dev/null; cmp /tmp/disc.bin /tmp/disc.rd || { echo "LBPRZ=1 but discarded blocks are not zero"; return 1; }
  else echo "LBPRZ=0: content after discard not checked"; fi
}
fs_trim() { # dev: mount, fstrim (the filesystem's free space becomes UNMAPs), unmount
  mount -t ext4 "$1" /mnt/fs || return 1
  fstrim -v /mnt/fs; rc=$?
  umount /mnt/fs; return $rc
}
kernel_log_clean() { # no I/O error, sense report or filesystem error in the kernel log
  dmesg > /tmp/dmesg.txt
  ! grep -E 'I/O error|Sense Key|Add. Sense|EXT4-fs error|critical|hardware error|timing out command|abort' /tmp/dmesg.txt
}
xtgt_login_lines() { # xtgt's login log lines show the digests each session negotiated
  esc=$(printf '\033'); sed "s/$esc\[[0-9;]*m//g" $TLOG | grep ' login .*target=iqn' > /tmp/logins.txt; cat /tmp/logins.txt
  on='header_digest=(true|CRC32C) data_digest=(true|CRC32C)'; off='header_digest=(false|None) data_digest=(false|None)'
  grep -E "target=$IQN1 .*$off" /tmp/logins.txt >/dev/null || { echo "no login line for $IQN1 without digests"; return 1; }
  grep -E "target=$IQN1 .*$on" /tmp/logins.txt >/dev/null || { echo "no login line for $IQN1 with CRC32C digests"; return 1; }
  grep -E "target=$IQN2 .*$on" /tmp/logins.txt >/dev/null || { echo "no login line for $IQN2 with CRC32C digests"; return 1; }
}

if [ "$KI_TARGET" = xtgt ]; then
  truncate -s 128M /xtgt/t1l0.img; truncate -s 64M /xtgt/t1l1.img
  start_xtgt
else
  check tgt_setup start_tgt
fi
check target_listening target_listening
check iscsid_start start_iscsid
check discovery_sendtargets discover

# 1. no CHAP, no digests: make a filesystem, write files with known checksums
check login_plain login "$IQN1"
check disk_attached_512 attached "$IQN1" "$LUN_A" DA
check disk_attached_4096 attached "$IQN1" "$LUN_B" DB
check digests_none digest_is "$IQN1" None
check block_size_512 blocksize_is "$DA" 512
check block_size_4096 blocksize_is "$DB" 4096
check mkfs_write_files fs_write "$DA"
check fsck_clean fs_fsck "$DA"
check dio_dd_4096 dio_write "$DB"
check dio_small_512 dio_small "$DA" 512
check dio_small_4096 dio_small "$DB" 4096
check logout_plain logout "$IQN1"
check session_gone gone "$IQN1"

# 2. log in again with header and data digests CRC32C: the files are intact
check set_digests_crc32c digests "$IQN1" CRC32C
check login_crc32c login "$IQN1"
check digests_crc32c_negotiated digest_is "$IQN1" CRC32C
check disk_reattached_512 attached "$IQN1" "$LUN_A" DA
check disk_reattached_4096 attached "$IQN1" "$LUN_B" DB
check files_verified_after_relogin fs_verify "$DA"
check fsck_clean_after_relogin fs_fsck "$DA"
check fstrim_ext4 fs_trim "$DA"
check files_verified_after_fstrim fs_verify "$DA"
check fsck_clean_after_fstrim fs_fsck "$DA"
check dio_reread_crc32c dio_verify "$DB"
check dio_dd_crc32c dio_write "$DB"
check blkdiscard_4096 discard "$DB"
check logout_crc32c logout "$IQN1"

# 3. CHAP: no credentials and a wrong secret are refused, the right secret works
check chap_none_refused expect_fail login "$IQN2"
check chap_set_method node_set "$IQN2" node.session.auth.authmethod CHAP
check chap_set_user node_set "$IQN2" node.session.auth.username "$CHAP_USER"
check chap_set_wrong node_set "$IQN2" node.session.auth.password "wrong-secret-0123"
check chap_wrong_refused expect_fail login "$IQN2"
check chap_set_right node_set "$IQN2" node.session.auth.password "$CHAP_SECRET"
check chap_digests_crc32c digests "$IQN2" CRC32C
check chap_login login "$IQN2"
check chap_digests_negotiated digest_is "$IQN2" CRC32C
check chap_disk_attached attached "$IQN2" "$LUN_C" DC
check chap_dio_dd dio_write "$DC"
check chap_logout logout "$IQN2"

# 4. two paths to one LU: two portals of IQN1, one session each, two sd devices
if [ "$KI_TARGET" = xtgt ]; then
  check mp.discovery_both_portals mp_discover
  check mp.login_path1 login_at "$IQN1" $P
  check mp.login_path2 login_at "$IQN1" $P2
  M1= M2=
  check mp.path1_attached path_attached "$IQN1" "$LUN_A" 1 M1
  check mp.path2_attached path_attached "$IQN1" "$LUN_A" 2 M2
  check mp.two_sd_devices two_disks "$M1" "$M2"
  check mp.vpd83_same_lu_designators same_lu_designators "$M1" "$M2"
  check mp.rtpg_agrees_path1 rtpg_agrees "$M1" active/optimized
  check mp.rtpg_agrees_path2 rtpg_agrees "$M2" active/non-optimized
  DM=
  check mp.dm_multipath_map dm_map "$M1" "$M2" DM
  check mp.dm_paths_grouped_by_alua dm_grouped_by_alua "$DM" "$M1" "$M2"
  check mp.dm_io dm_write "$DM"
  check mp.io_on_path2_after_logout_of_path1 path_io_after_logout "$M1" "$M2" "$IQN1"
  check mp.dm_io_after_logout_of_path1 dm_after_path1_logout "$DM" "$M2"
  check mp.dm_flush dm_flush
  # explicit ALUA on the remaining path (group 2): SET TARGET PORT GROUPS
  check mp.inquiry_tpgs_explicit tpgs_explicit "$M2"
  check mp.stpg_optimized stpg_to "$M2" --optimized active/optimized
  check mp.stpg_standby stpg_to "$M2" --standby standby
  check mp.standby_test_unit_ready_not_ready standby_not_ready "$M2"
  check mp.stpg_back_to_optimized stpg_to "$M2" --optimized active/optimized
  check mp.tur_after_stpg sg_turs "$M2"
  # back to the configured states (group 1 active/optimized, group 2
  # active/non-optimized): later checks use portal 1
  check mp.stpg_restore groups_restored "$M2"
  check mp.logout_path2 logout_at "$IQN1" $P2
  check mp.sessions_gone gone "$IQN1"
else
  skip mp.two_paths "tgt: one portal in this harness"
fi

if [ "$KI_TARGET" = xtgt ]; then
  check xtgt_login_log_digests xtgt_login_lines
  sed 's/^/NOTE xtgt: /' /tmp/logins.txt
fi
check kernel_log_clean kernel_log_clean
# persistent reservations, fence_scsi style (sg passthrough: no block-layer errors)
. /pr-checks.sh
check target_alive kill -0 "$(cat /tmp/target.pid)"
[ "${VERBOSE:-0}" = 1 ] && { echo "--- target log"; tail -n 60 $TLOG; echo "--- iscsid log"; tail -n 40 /tmp/iscsid.log; }
if [ $NFAIL -gt 0 ]; then note "target log (tail):"; tail -n 30 $TLOG | sed 's/^/    | /'; note "dmesg (tail):"; dmesg | tail -n 30 | sed 's/^/    | /'; fi
kill "$(cat /tmp/iscsid.pid)" "$(cat /tmp/target.pid)" 2>/dev/null
finish
