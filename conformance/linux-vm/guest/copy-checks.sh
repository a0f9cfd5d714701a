# Copy offload checks (EXTENDED COPY, ODX tokens) for passthrough mode, sourced by
# passthrough.sh. Both run by default against xtgt (run.sh: LINUX_VM_COPY=0 turns
# all of them off, LINUX_VM_ODX=0 the ODX token checks; both are off against tgt).
#
# Adding one is one line: `check NAME copied SRC SKIP DST SEEK COUNT BS -- CMD...`
# fills SRC[SKIP..+COUNT) with random data, runs CMD, and compares DST[SEEK..+COUNT).
copied() {
  s=$1 sk=$2 d=$3 se=$4 cnt=$5 bs=$6; shift 7   # shift also drops the "--"
  dd if=/dev/urandom of=/tmp/csrc.bin bs="$bs" count="$cnt" 2>/dev/null
  ddpt if=/tmp/csrc.bin of="$s" bs="$bs" seek="$sk" count="$cnt" >/dev/null 2>&1 || { echo "seeding the source failed"; return 1; }
  "$@" || return 1
  rm -f /tmp/cdst.bin; ddpt if="$d" of=/tmp/cdst.bin bs="$bs" skip="$se" count="$cnt" >/dev/null 2>&1 || return 1
  cmp /tmp/csrc.bin /tmp/cdst.bin
}
# zeroed DST SEEK COUNT BS -- CMD...: DST[SEEK..+COUNT) holds random data, CMD must zero it
zeroed() {
  d=$1 se=$2 cnt=$3 bs=$4; shift 5
  dd if=/dev/urandom of=/tmp/cz.bin bs="$bs" count="$cnt" 2>/dev/null
  ddpt if=/tmp/cz.bin of="$d" bs="$bs" seek="$se" count="$cnt" >/dev/null 2>&1 || return 1
  "$@" || return 1
  rm -f /tmp/cdst.bin; ddpt if="$d" of=/tmp/cdst.bin bs="$bs" skip="$se" count="$cnt" >/dev/null 2>&1 || return 1
  dd if=/dev/zero of=/tmp/cz.bin bs="$bs" count="$cnt" 2>/dev/null; cmp /tmp/cz.bin /tmp/cdst.bin
}
# ddpt 0.97 20210421 (Debian 12's ddpt and ddptctl) writes every block device range
# descriptor of a POPULATE TOKEN / WRITE USING TOKEN built from a gather/scatter list one
# byte early: sg_put_unaligned_be64(lba, pl + 15) where the descriptor starts at byte 16
# (536 for WUT), and byte 15 is then overwritten by the descriptor list length. A correct
# target reads LBA * 256 and NUM * 256: `ddptctl --pt=24576,128` sends the descriptor
# 00000000 00600000 00008000 00000000 and gets LBA OUT OF RANGE. `sgl LBA NUM` gives the
# list argument that makes that ddptctl send LBA,NUM (both multiples of 256); other ddpt
# versions get LBA,NUM unchanged. ddpt --odx builds such a list from skip=/seek= (a
# count= must then equal its NUM: `blocks N`).
case $(ddptctl -V 2>&1) in
  *"0.97 20210421"*) sgl() { echo "$(($1 / 256)),$(($2 / 256))"; }; blocks() { echo $(($1 / 256)); } ;;
  *) sgl() { echo "$1,$2"; }; blocks() { echo "$1"; } ;;
esac
# ddptctl token round trip on list identifier LID: POPULATE TOKEN on SRC (ddptctl then
# fetches the token with RECEIVE ROD TOKEN INFORMATION into --rtf), the token decoded
# (--info --rtf: ROD type, creator CSCD 0xE4, bytes represented), RRTI once more (--receive
# writes the token again: it must be the same 512 bytes), WRITE USING TOKEN to DST (ddptctl
# then reads RRTI: "WUT completes with a transfer count of CNT").
pt_rrti_wut() {
  s=$1 d=$2 lba=$3 cnt=$4 lid=$5
  rm -f /tmp/tok.bin /tmp/tok2.bin
  ddptctl --pt="$(sgl "$lba" "$cnt")" --list_id="$lid" --rtf=/tmp/tok.bin -v "$s" || return 1
  [ "$(stat -c %s /tmp/tok.bin 2>/dev/null)" = 512 ] || { echo "no 512-byte ROD token written"; return 1; }
  ddptctl --info --rtf=/tmp/tok.bin > /tmp/tokinfo.txt 2>&1; rc=$?; cat /tmp/tokinfo.txt
  [ $rc -eq 0 ] || return 1
  grep -q "Number of bytes represented: $((cnt * bs)) " /tmp/tokinfo.txt || { echo "token does not represent $((cnt * bs)) bytes"; return 1; }
  ddptctl --receive --list_id="$lid" --rtf=/tmp/tok2.bin -v "$s" || return 1
  cmp /tmp/tok.bin /tmp/tok2.bin || { echo "RRTI read twice gave two different tokens"; return 1; }
  ddptctl --wut="$(sgl "$lba" "$cnt")" --list_id="$lid" --rtf=/tmp/tok.bin -v "$d" > /tmp/wut.txt 2>&1; rc=$?; cat /tmp/wut.txt
  [ $rc -eq 0 ] && grep -q "WUT completes with a transfer count of $cnt " /tmp/wut.txt
}
# ddptctl --info succeeds even without 3PC: its text must not say so
tpc_info() {
  ddptctl --info "$1" > /tmp/info.txt 2>&1; rc=$?; cat /tmp/info.txt
  [ $rc -eq 0 ] && ! grep -qi 'does not seem to support\|bit clear' /tmp/info.txt
}
# WRITE USING TOKEN with the block device zero ROD token (ddptctl builds it for --rtype=zero
# but still opens --rtf, so it gets a scratch file)
zero_wut() {
  : > /tmp/ztok.bin
  ddptctl --rtype=zero --wut="$(sgl "$2" "$3")" --rtf=/tmp/ztok.bin -v "$1"
}
# COPY OPERATION ABORT of a POPULATE TOKEN started with IMMED
pt_abort() {
  ddptctl --pt="$(sgl 0 65536)" --immed --list_id=0x203 -v "$1" || return 1
  ddptctl --abort --list_id=0x203 -v "$1"
}

copy_checks() {
  A=$(v dev t1l0); B=$(v dev t1l2); C=$(v dev t2l0); bs=$(v bs t1l0)
  xcopy_checks
  if have_odx; then odx_checks; else skip "ODX token checks" "LINUX_VM_ODX=1 enables them"; fi
}

xcopy_checks() {
  check copy.sg_vpd_3pc_tpc   quiet sg_vpd -p 0x8f "$A"
  check copy.sg_inq_3pc       sh -c "sg_inq '$A' | grep -q '3PC=1'"
  check copy.sg_xcopy_same_lun    copied "$A" 8192 "$A" 12288 1024 "$bs" -- sg_xcopy if="$A" skip=8192 of="$A" seek=12288 bs="$bs" count=1024
  check copy.sg_xcopy_across_luns copied "$A" 8192 "$B" 8192 1024 "$bs" -- sg_xcopy if="$A" skip=8192 of="$B" seek=8192 bs="$bs" count=1024
  check copy.sg_xcopy_across_tgts copied "$A" 8192 "$C" 8192 1024 "$bs" -- sg_xcopy if="$A" skip=8192 of="$C" seek=8192 bs="$bs" count=1024
  check copy.ddpt_xcopy_same_lun  copied "$A" 16384 "$A" 18432 2048 "$bs" -- ddpt if="$A" skip=16384 of="$A" seek=18432 bs="$bs" count=2048 --xcopy
  check copy.ddpt_xcopy_across_luns copied "$A" 16384 "$B" 16384 2048 "$bs" -- ddpt if="$A" skip=16384 of="$B" seek=16384 bs="$bs" count=2048 --xcopy
}

odx_checks() {
  check copy.ddpt_odx         copied "$A" 20480 "$C" 20480 2048 "$bs" -- ddpt if="$A" skip="$(sgl 20480 2048)" of="$C" seek="$(sgl 20480 2048)" bs="$bs" count="$(blocks 2048)" --odx
  check copy.ddptctl_info     tpc_info "$A"
  check copy.ddptctl_pt_rrti_wut copied "$A" 24576 "$B" 24576 256 "$bs" -- pt_rrti_wut "$A" "$B" 24576 256 0x201
  check copy.ddptctl_all_toks ddptctl --all_toks -v "$A"
  check copy.ddptctl_abort    pt_abort "$A"
  check copy.zero_token_write zeroed "$C" 28672 256 "$bs" -- zero_wut "$C" 28672 256
}
