#!/usr/bin/env bash
# qemu-img through xtgt: a random image (1 GiB by default; QEMU_IMG_SIZE_MIB
# to change) is written into a LUN with "qemu-img convert", read back and
# compared byte for byte, with CRC32C header digests.
#
# How qemu takes the header digest: the iscsi driver's "header-digest"
# option (crc32c, none, crc32c-none, none-crc32c), given here through
# --image-opts / --target-image-opts. The libiscsi URL argument
# "?header_digest=crc32c" crashes qemu-img 7.2 (segfault in URL parsing),
# so it is not used. That the digest is really negotiated is checked by
# recording the login keys through a relay (tools/login_tap.py).
set -u
. "$(dirname "$0")/lib.sh"
need qemu-img python3 cmp head
make_workdir

IQN=iqn.2026-11.org.xtgt.conformance:qemu
MIB=${QEMU_IMG_SIZE_MIB:-1024}
cat >"$WORK/xtgt.toml" <<TOML
[server]
listen = ["127.0.0.1:0"]

[[targets]]
iqn = "$IQN"
[[targets.luns]]
lun = 0
backend = "file"
path = "lun0.img"
size = "${MIB}MiB"
block_size = 512
TOML
start_xtgt "$WORK/xtgt.toml" || { summary; exit 1; }
OPTS="driver=iscsi,transport=tcp,portal=$PORTAL,target=$IQN,lun=0,header-digest=crc32c"

# 1. The digest is negotiated: a qemu-img info through the login relay.
python3 "$CONF_DIR/tools/login_tap.py" "$PORTAL" "$WORK/tap.port" "$WORK/tap.log" &
TAP_PID=$!
trap 'kill $TAP_PID 2>/dev/null; cleanup' EXIT
for _ in $(seq 1 50); do [ -s "$WORK/tap.port" ] && break; sleep 0.1; done
TAP_OPTS="driver=iscsi,transport=tcp,portal=127.0.0.1:$(cat "$WORK/tap.port" 2>/dev/null),target=$IQN,lun=0,header-digest=crc32c"
info=$(timeout 60 qemu-img info --image-opts "$TAP_OPTS" 2>&1)
if grep -q "virtual size: .*($((MIB * 1048576)) bytes)" <<<"$info"; then
    pass "qemu-img: info reports the LUN size"
else
    fail "qemu-img: info reports the LUN size" "$info"
fi
if grep -q '^> HeaderDigest=CRC32C' "$WORK/tap.log" && grep -q '^< HeaderDigest=CRC32C' "$WORK/tap.log"; then
    pass "qemu-img: header-digest=crc32c is offered and accepted"
else
    fail "qemu-img: header-digest=crc32c is offered and accepted" "$(grep -i digest "$WORK/tap.log" | head -4)"
fi
kill $TAP_PID 2>/dev/null

# 2. Write a random image, read it back, compare.
head -c "$((MIB * 1048576))" /dev/urandom >"$WORK/src.img"
start=$(date +%s%N)
if out=$(timeout 900 qemu-img convert -n -f raw "$WORK/src.img" --target-image-opts "$OPTS" 2>&1); then
    ms=$((($(date +%s%N) - start) / 1000000))
    pass "qemu-img: convert writes ${MIB} MiB into the LUN (${ms} ms)"
else
    fail "qemu-img: convert writes ${MIB} MiB into the LUN" "$out"
fi
if out=$(timeout 900 qemu-img convert --image-opts "$OPTS" -O raw "$WORK/back.img" 2>&1); then
    pass "qemu-img: convert reads the LUN back"
else
    fail "qemu-img: convert reads the LUN back" "$out"
fi
if cmp "$WORK/src.img" "$WORK/back.img" >/dev/null 2>&1; then
    pass "qemu-img: read-back is byte-identical"
else
    fail "qemu-img: read-back is byte-identical" "$(cmp "$WORK/src.img" "$WORK/back.img" 2>&1 | head -2)"
fi
# The backing file holds the same bytes (nothing lost in a cache).
stop_xtgt
if cmp "$WORK/src.img" "$WORK/lun0.img" >/dev/null 2>&1; then
    pass "qemu-img: backing file equals the image after shutdown"
else
    fail "qemu-img: backing file equals the image after shutdown" "$(cmp "$WORK/src.img" "$WORK/lun0.img" 2>&1 | head -2)"
fi
summary
