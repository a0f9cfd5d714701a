#!/bin/sh
# Passthrough mode (guest side): QEMU attaches the target's LUNs with scsi-block
# over libiscsi; every CDB the tools send reaches the target unchanged.
# /env.sh (written by run.sh) sets PT_LUNS="label:scsi_id:lun:block_size:bytes ..."
. /lib.sh
. /env.sh
[ -f /copy-checks.sh ] && . /copy-checks.sh

# --- map each configured LUN to its /dev/sgN through sysfs (H:C:T:L) ----------
sg_of() { # scsi_id lun -> /dev/sgN
  for s in /sys/class/scsi_generic/sg*; do
    [ -e "$s/device" ] || continue
    h=$(basename "$(readlink "$s/device")")
    echo "$h" | awk -F: -v t="$1" -v l="$2" '$3==t && $4==l {f=1} END {exit !f}' && { echo "/dev/${s##*/}"; return 0; }
  done
  return 1
}
wait_luns() {
  i=0
  while [ $i -lt 200 ]; do
    ok=1; for e in $PT_LUNS; do IFS=: read -r _ t l _ _ <<X
$e
X
      sg_of "$t" "$l" >/dev/null || ok=0; done
    [ $ok = 1 ] && return 0; sleep 0.1; i=$((i + 1))
  done
  return 1
}
check attach_all_luns wait_luns
lsscsi -g 2>/dev/null
# label -> variables dev_<label>, bs_<label>, bytes_<label>, tid_<label>
LABELS=""
for e in $PT_LUNS; do
  IFS=: read -r lab t l bs bytes <<X
$e
X
  d=$(sg_of "$t" "$l") || d=/dev/missing-$lab
  eval "dev_$lab=$d bs_$lab=$bs bytes_$lab=$bytes tid_$lab=$t lun_$lab=$l"
  LABELS="$LABELS $lab"; note "$lab = target $t lun $l -> $d (block size $bs, $bytes bytes)"
done
v() { eval echo "\$${1}_$2"; }   # v dev t1l0

# --- the checks, one function per tool ---------------------------------------
c_inq() { # standard INQUIRY decodes, direct-access block device
  quiet sg_inq "$1" > /tmp/inq.txt || { cat /tmp/inq.txt; return 1; }
  cat /tmp/inq.txt; grep -q 'PDT=0 ' /tmp/inq.txt
}
vpd_pages() { # the page codes VPD page 0x00 lists
  sg_vpd -p 0 -r "$1" > /tmp/vpd0.bin || return 1
  n=$(be16 /tmp/vpd0.bin 2)
  hexbytes /tmp/vpd0.bin 4 "$n"
}
c_vpd_page() { # dev page: sg_vpd decodes it; its page length is consistent (SPC-5 7.7)
  quiet sg_vpd -p "0x$2" "$1" || return 1
  rm -f /tmp/vpd.bin /tmp/vpdx.bin
  sg_raw -r 4096 -o /tmp/vpd.bin "$1" 12 01 "$2" 10 00 00 2>/dev/null || { echo "INQUIRY EVPD page 0x$2 failed"; return 1; }
  # QEMU's SG_IO emulation for libiscsi reports no residual, so the guest cannot see how
  # many bytes arrived: check the page's structure against its page length instead.
  set -- "$1" "$2" $(decbytes /tmp/vpd.bin | tr '\n' ' ')
  dev=$1 pg=$2; shift 2
  echo "page 0x$pg (decimal bytes): $(echo "$@" | cut -c1-120)..."
  awk -v pg=$((0x$pg)) -v bytes="$*" '
    function b(i) { return B[i + 1] + 0 }
    function fail(m) { printf "page 0x%02x: %s\n", pg, m; bad = 1 }
    function tile(start, hdr, lenoff, lensz,   off, n) { # descriptors: hdr bytes + length field
      off = start; n = 0
      while (off < end) {
        dl = (lensz == 1) ? b(off + lenoff) : b(off + lenoff) * 256 + b(off + lenoff + 1)
        off += hdr + dl; n++
      }
      if (off != end) fail(sprintf("descriptors end at byte %d, page length says %d", off, end))
      return n
    }
    BEGIN {
      n = split(bytes, B, " "); len = b(2) * 256 + b(3); end = 4 + len
      printf "page 0x%02x: page_length %d\n", pg, len
      if (b(1) != pg) fail(sprintf("byte 1 is 0x%02x", b(1)))
      if (end > n) fail("page longer than 4096 bytes")
      for (i = end; i < n; i++) if (b(i) != 0) { fail(sprintf("non-zero byte 0x%02x at offset %d, past the page length (data beyond page_length+4)", b(i), i)); break }
      if (pg == 0) { for (i = 5; i < end; i++) if (b(i) <= b(i - 1)) fail("page list not ascending"); if (b(4) != 0) fail("page 0x00 not listed first") }
      else if (pg == 131) { if (len == 0) fail("no designation descriptor"); tile(4, 4, 3, 1) }
      else if (pg == 143) { tile(4, 4, 2, 2) }
      else if (pg == 134 || pg == 176 || pg == 177 || pg == 182) { if (len != 60) fail(sprintf("page length %d, SPC-5/SBC-4 fix it at 0x3c (60)", len)) }
      else if (pg == 178) { want = 4; if (b(5) % 2 == 1) want = 4 + 4 + b(8 + 2) * 256 + b(8 + 3); if (len != want) fail(sprintf("page length %d, DP=%d implies %d", len, b(5) % 2, want)) }
      else if (pg == 179) { if (len != 12) fail(sprintf("page length %d, SBC-4 fixes it at 0x0c", len)) }
      exit bad
    }' || return 1
  # truncation: a short allocation length returns the same leading bytes (SPC-5 4.2.5.6)
  sg_raw -r 8 -o /tmp/vpdx.bin "$dev" 12 01 "$pg" 00 08 00 2>/dev/null || { echo "INQUIRY with allocation length 8 failed"; return 1; }
  head -c 8 /tmp/vpd.bin | cmp - /tmp/vpdx.bin || { echo "first 8 bytes differ with allocation length 8"; return 1; }
}
c_vpd_mandatory() { # SPC-5: 0x00 and 0x83 are mandatory; SBC-4 block devices list 0xb0/0xb1
  pages=$(vpd_pages "$1" | tr '\n' ' '); echo "listed: $pages"
  for p in 00 83; do echo " $pages" | grep -q " $p " || { echo "missing page 0x$p"; return 1; }; done
}
c_opcodes() { # REPORT SUPPORTED OPERATION CODES (all) decodes
  quiet sg_opcodes "$1"
}
c_opcodes_match() { # dev [all|used]: commands in the all-commands list answer the one-command form consistently
  # (all: every listed command; used: only those this harness sends, to save time on further LUNs)
  sg_opcodes -r "$1" > /tmp/rsoc.bin || return 1
  # all-commands descriptors (SPC-5 6.35.3): opcode, service action, SERVACTV, CDB length
  decbytes /tmp/rsoc.bin | tr '\n' ' ' | awk -v used=" $USED_OPS " -v scope="${2:-all}" '{
      for (i = 1; i <= NF; i++) B[i - 1] = $i + 0
      total = B[0] * 16777216 + B[1] * 65536 + B[2] * 256 + B[3] + 4; off = 4
      while (off < total && off + 8 <= NF) {
        sa = B[off + 2] * 256 + B[off + 3]; sv = B[off + 5] % 2
        arg = sv ? sprintf("0x%02x,0x%x", B[off], sa) : sprintf("0x%02x", B[off])
        print arg > "/tmp/rsoc.list"
        if (scope == "all" || index(used, " " arg " ")) printf "%d %d %s\n", B[off], B[off + 6] * 256 + B[off + 7], arg
        off += (int(B[off + 5] / 2) % 2) ? 20 : 8
      }
    }' > /tmp/rsoc.tbl
  bad=0; n=0
  while read -r op cdblen arg; do
    n=$((n + 1))
    if sg_opcodes -r --opcode="$arg" "$1" > /tmp/one.bin 2>/tmp/one.err; then
      set -- "$1" $(hexbytes /tmp/one.bin 0 5 | tr '\n' ' ')
      sup=$(( 0x$3 & 7 )); len1=$(( 0x$4$5 )); u0=$(( 0x$6 ))
      if [ $sup -ne 3 ] && [ $sup -ne 5 ]; then echo "$arg: one-command SUPPORT=$sup (want 3)"; bad=1
      elif [ "$len1" -ne "$cdblen" ]; then echo "$arg: CDB length $cdblen in the list, $len1 in one-command"; bad=1
      elif [ "$u0" -ne "$op" ]; then echo "$arg: usage map byte 0 is $u0, not the opcode"; bad=1
      else echo "$arg: ok (cdb length $cdblen)"; fi
    else echo "$arg: one-command form failed: $(cat /tmp/one.err)"; bad=1; fi
  done < /tmp/rsoc.tbl
  echo "$n commands compared ($(wc -l < /tmp/rsoc.list) listed)"; [ $n -gt 0 ] && [ $bad = 0 ]
}
USED_OPS="0x12 0x25 0x28 0x2a 0x2f 0x41 0x88 0x8a 0x8f 0x93 0x9e,0x10 0x42 0xa0 0xa3,0xc"
c_opcodes_cover() { # the commands this harness sends are advertised
  miss=""
  for a in $USED_OPS; do grep -qx "$a" /tmp/rsoc.list || miss="$miss $a"; done
  [ -z "$miss" ] || { echo "not advertised:$miss"; return 1; }
}
c_readcap() { # dev bs bytes: READ CAPACITY(16) matches the configuration
  quiet sg_readcap -l "$1" > /tmp/rc.txt || { cat /tmp/rc.txt; return 1; }
  cat /tmp/rc.txt
  n=$(sed -n 's/.*Number of logical blocks=\([0-9]*\).*/\1/p' /tmp/rc.txt)
  b=$(sed -n 's/.*Logical block length=\([0-9]*\) bytes.*/\1/p' /tmp/rc.txt)
  [ "$b" = "$2" ] || { echo "block length $b, configured $2"; return 1; }
  [ $((n * b)) = "$3" ] || { echo "capacity $((n * b)), configured $3"; return 1; }
}
c_luns() { # dev tid: REPORT LUNS decodes and lists every LUN configured on that target
  quiet sg_luns "$1" > /tmp/luns.txt || { cat /tmp/luns.txt; return 1; }
  cat /tmp/luns.txt; miss=""
  for e in $PT_LUNS; do
    IFS=: read -r _ t l _ _ <<X
$e
X
    [ "$t" = "$2" ] || continue
    grep -Eq "^ +$(printf '%04x' "$l")000000000000\b|LUN +$l\b|lun=$l\b" /tmp/luns.txt || miss="$miss $l"
  done
  [ -z "$miss" ] || { echo "LUNs not reported:$miss"; return 1; }
}
c_modes() { # MODE SENSE(10) of all pages decodes
  quiet sg_modes -a "$1"
}
nblocks() { echo $(( $(v bytes "$1") / $(v bs "$1") )); }
c_rw10() { # dev bs: WRITE(10)/READ(10) of 8 blocks at LBA 16, compared
  sz=$((8 * $2)); dd if=/dev/urandom of=/tmp/w.bin bs="$sz" count=1 2>/dev/null; rm -f /tmp/r.bin
  sg_raw -s "$sz" -i /tmp/w.bin "$1" 2a 00 00 00 00 10 00 00 08 00 || return 1
  sg_raw -r "$sz" -o /tmp/r.bin "$1" 28 00 00 00 00 10 00 00 08 00 || return 1
  cmp /tmp/w.bin /tmp/r.bin
}
c_rw16_last() { # dev bs nblocks: WRITE(16)/READ(16) of the last 2 blocks, compared
  sz=$((2 * $2)); lba=$(($3 - 2)); dd if=/dev/urandom of=/tmp/w.bin bs="$sz" count=1 2>/dev/null; rm -f /tmp/r.bin
  sg_raw -s "$sz" -i /tmp/w.bin "$1" 8a 00 $(hex64 $lba) 00 00 00 02 00 00 || return 1
  sg_raw -r "$sz" -o /tmp/r.bin "$1" 88 00 $(hex64 $lba) 00 00 00 02 00 00 || return 1
  cmp /tmp/w.bin /tmp/r.bin
}
c_read_oob() { # dev bs nblocks: READ(16) past the end -> ILLEGAL REQUEST, LBA out of range
  sg_raw -r $((2 * $2)) "$1" 88 00 $(hex64 $(($3 - 1))) 00 00 00 02 00 00 > /tmp/oob.txt 2>&1; rc=$?
  cat /tmp/oob.txt
  [ $rc -ne 0 ] && grep -qi 'Illegal Request' /tmp/oob.txt && grep -qi 'out of range' /tmp/oob.txt
}
c_ddpt_copy() { # src dst bs count skip seek: ddpt copy, then ddpt --verify (VERIFY BYTCHK), then readback cmp
  s=$1 d=$2 bs=$3 cnt=$4 sk=$5 se=$6
  dd if=/dev/urandom of=/tmp/src.bin bs="$bs" count="$cnt" 2>/dev/null
  ddpt if=/tmp/src.bin of="$s" bs="$bs" seek="$sk" count="$cnt" || return 1
  ddpt if="$s" of="$d" bs="$bs" skip="$sk" seek="$se" count="$cnt" || return 1
  ddpt if="$s" of="$d" bs="$bs" skip="$sk" seek="$se" count="$cnt" --verify || return 1
  rm -f /tmp/dst.bin; ddpt if="$d" of=/tmp/dst.bin bs="$bs" skip="$se" count="$cnt" || return 1
  cmp /tmp/src.bin /tmp/dst.bin
}
c_ddpt_verify_miscompare() { # src dst bs count skip seek: after changing one block, --verify must fail
  s=$1 d=$2 bs=$3 cnt=$4 sk=$5 se=$6
  dd if=/dev/urandom of=/tmp/one.bin bs="$bs" count=1 2>/dev/null
  ddpt if=/tmp/one.bin of="$d" bs="$bs" seek=$((se + cnt / 2)) count=1 || return 1
  expect_fail ddpt if="$s" of="$d" bs="$bs" skip="$sk" seek="$se" count="$cnt" --verify
}
lbprz() { sg_readcap -l "$1" | grep -q 'lbprz=1'; }
c_unmap() { # dev bs: UNMAP 64 blocks at LBA 256; zeros read back if LBPRZ
  dd if=/dev/urandom of=/tmp/w.bin bs="$2" count=64 2>/dev/null
  ddpt if=/tmp/w.bin of="$1" bs="$2" seek=256 count=64 || return 1
  sg_unmap --force --lba=256 --num=64 "$1" || return 1
  rm -f /tmp/r.bin; ddpt if="$1" of=/tmp/r.bin bs="$2" skip=256 count=64 || return 1
  if lbprz "$1"; then
    dd if=/dev/zero of=/tmp/z.bin bs="$2" count=64 2>/dev/null; cmp /tmp/z.bin /tmp/r.bin || { echo "LBPRZ=1 but unmapped blocks are not zero"; return 1; }
  else echo "LBPRZ=0: content after UNMAP not checked"; fi
}
c_write_same() { # dev bs which: WRITE SAME(10|16) of one block to 32 blocks, each block read back
  lba=512; [ "$3" = 16 ] && lba=1024
  dd if=/dev/urandom of=/tmp/blk.bin bs="$2" count=1 2>/dev/null
  sg_write_same --"$3" --lba=$lba --num=32 --in=/tmp/blk.bin --xferlen="$2" "$1" || return 1
  rm -f /tmp/r.bin; ddpt if="$1" of=/tmp/r.bin bs="$2" skip=$lba count=32 || return 1
  : > /tmp/want.bin; i=0; while [ $i -lt 32 ]; do cat /tmp/blk.bin >> /tmp/want.bin; i=$((i + 1)); done
  cmp /tmp/want.bin /tmp/r.bin
}

# --- per LUN ------------------------------------------------------------------
for lab in $LABELS; do
  d=$(v dev "$lab"); bs=$(v bs "$lab"); bytes=$(v bytes "$lab"); nb=$(nblocks "$lab")
  check "$lab.sg_inq" c_inq "$d"
  check "$lab.sg_vpd_list" c_vpd_mandatory "$d"
  for p in $(vpd_pages "$d"); do check "$lab.sg_vpd_0x$p" c_vpd_page "$d" "$p"; done
  check "$lab.sg_opcodes" c_opcodes "$d"
  # the full one-command comparison once per target, the commands used here on every LUN
  case " $SEEN_TIDS " in *" $(v tid "$lab") "*) scope=used ;; *) scope=all; SEEN_TIDS="$SEEN_TIDS $(v tid "$lab")" ;; esac
  check "$lab.sg_opcodes_match_$scope" c_opcodes_match "$d" $scope
  check "$lab.sg_opcodes_cover" c_opcodes_cover
  check "$lab.sg_readcap_l" c_readcap "$d" "$bs" "$bytes"
  check "$lab.sg_modes_all" c_modes "$d"
  [ "$scope" = all ] && check "$lab.sg_luns" c_luns "$d" "$(v tid "$lab")"
  check "$lab.sg_raw_rw10_cmp" c_rw10 "$d" "$bs"
  check "$lab.sg_raw_rw16_last_cmp" c_rw16_last "$d" "$bs" "$nb"
  check "$lab.sg_raw_read_oob" c_read_oob "$d" "$bs" "$nb"
  check "$lab.sg_unmap" c_unmap "$d" "$bs"
  check "$lab.sg_write_same10" c_write_same "$d" "$bs" 10
  check "$lab.sg_write_same16" c_write_same "$d" "$bs" 16
done

# --- ddpt copies: to a LUN of the same block size on another target, else another
# LUN, else another region of the same LUN --------------------------------------
for lab in $LABELS; do
  bs=$(v bs "$lab"); peer=""
  for o in $LABELS; do [ "$o" != "$lab" ] && [ "$(v bs "$o")" = "$bs" ] && [ "$(v tid "$o")" != "$(v tid "$lab")" ] && { peer=$o; break; }; done
  [ -n "$peer" ] || for o in $LABELS; do [ "$o" != "$lab" ] && [ "$(v bs "$o")" = "$bs" ] && { peer=$o; break; }; done
  [ -n "$peer" ] || peer=$lab
  cnt=$((1048576 / bs))   # 1 MiB
  s=$(v dev "$lab"); d=$(v dev "$peer")
  check "$lab.ddpt_copy_verify_to_$peer" c_ddpt_copy "$s" "$d" "$bs" "$cnt" 2048 4096
  if [ "$PT_DEV" = scsi-block ]; then skip "$lab.ddpt_verify_miscompare_$peer" "QEMU's scsi-block completes VERIFY(BYTCHK=1) itself"
  else check "$lab.ddpt_verify_miscompare_$peer" c_ddpt_verify_miscompare "$s" "$d" "$bs" "$cnt" 2048 4096; fi
done

if have_copy; then copy_checks; else skip "copy offload checks" "LINUX_VM_COPY=0"; fi
finish
