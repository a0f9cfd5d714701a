#!/bin/bash
# Build (or reuse from the cache) the tiny Linux guest used by run.sh.
#
# Output: a directory holding vmlinuz, base.cpio.gz (busybox, kernel modules,
# sg3_utils/ddpt/ddptctl, open-iscsi's iscsid/iscsiadm, e2fsprogs, tgtd/tgtadm,
# multipath-tools' multipath (from its package, not installed on the host),
# each with its shared libraries, and /init from guest/init) and busybox (the
# host uses it to pack the per-run overlay cpio). Its path is printed as the
# last line of stdout.
#
# The cache lives in ${XTGT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xtgt}/linux-vm/
# and is keyed by a hash of this script, guest/init, the Debian kernel package
# (resolved through linux-image-amd64, so a security update rebuilds) and the
# versions of the host packages whose binaries are copied in.
# Nothing is installed on the host except missing tool packages (apt-get install).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${XTGT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xtgt}/linux-vm
mkdir -p "$CACHE/debs"
log() { echo "build-guest: $*" >&2; }

# --- host packages whose binaries go into the guest ---------------------------
HOST_PKGS="sg3-utils ddpt open-iscsi e2fsprogs tgt"
missing=""
for p in $HOST_PKGS; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"; done
if [ -n "$missing" ] && [ -n "${XTGT_NO_APT:-}" ]; then
  log "missing host packages:$missing (XTGT_NO_APT is set)"; exit 1
elif [ -n "$missing" ]; then
  log "installing host packages:$missing"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >&2 || { apt-get update -q >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >&2; }
  # open-iscsi's package starts iscsid on the host; we only want its binaries
  systemctl disable --now iscsid.socket iscsid.service >/dev/null 2>&1 || true
fi

# --- resolve the current Debian kernel package (pitfall: it changes with updates)
resolve_kernel() {
  KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  [ -n "$KPKG" ] || return 1
  KVER=$(apt-cache show --no-all-versions "$KPKG" 2>/dev/null | awk '/^Version:/{print $2; exit}')
  [ -n "$KVER" ]
}
if ! resolve_kernel; then
  log "apt-cache knows no linux-image-amd64: running apt-get update"
  apt-get update -q >&2 || true
  if ! resolve_kernel; then
    # offline: fall back to the newest guest already in the cache
    last=$(ls -dt "$CACHE"/guest-* 2>/dev/null | head -1 || true)
    [ -n "$last" ] && [ -f "$last/base.cpio.gz" ] || { log "cannot resolve the kernel package and no cached guest"; exit 1; }
    log "WARNING: kernel package unresolvable, reusing $last"
    echo "$last"; exit 0
  fi
fi
HOSTVERS=$(dpkg-query -W -f='${Package}=${Version} ' $HOST_PKGS)
KEY=$( { cat "$HERE/build-guest.sh" "$HERE/guest/init"; echo "$KPKG=$KVER $HOSTVERS"; } | sha256sum | cut -c1-16)
OUT=$CACHE/guest-$KEY
if [ -f "$OUT/base.cpio.gz" ] && [ -f "$OUT/vmlinuz" ]; then
  log "cached guest $OUT ($KPKG $KVER)"
  echo "$OUT"; exit 0
fi
log "building guest $OUT ($KPKG $KVER)"
T0=$(date +%s)

# --- fetch the kernel and busybox packages (cached; apt-get download installs nothing)
cd "$CACHE/debs"
chmod 777 . 2>/dev/null || true   # lets apt's sandbox user write here (else a harmless warning)
KDEB=$(ls "${KPKG}"_*.deb 2>/dev/null | head -1 || true)
if [ -z "$KDEB" ] || ! dpkg-deb -f "$KDEB" Version | grep -qxF "$KVER"; then
  rm -f "${KPKG%%-[0-9]*}"-*.deb   # drop superseded kernel packages
  apt-get download -q "$KPKG=$KVER" >&2
  KDEB=$(ls "${KPKG}"_*.deb | head -1)
fi
BDEB=$(ls busybox-static_*.deb 2>/dev/null | head -1 || true)
if [ -z "$BDEB" ]; then apt-get download -q busybox-static >&2; BDEB=$(ls busybox-static_*.deb | head -1); fi
# dm-multipath's user space for the guest's two-path checks (its libraries are
# in the package; the rest it needs, libdevmapper, liburcu, libaio, are the host's)
MDEB=$(ls multipath-tools_*.deb 2>/dev/null | head -1 || true)
if [ -z "$MDEB" ]; then apt-get download -q multipath-tools >&2; MDEB=$(ls multipath-tools_*.deb | head -1); fi

W=$(mktemp -d "$CACHE/build.XXXXXX")
trap 'rm -rf "$W"' EXIT
dpkg-deb -x "$KDEB" "$W/kpkg"
dpkg-deb -x "$BDEB" "$W/bbpkg"
dpkg-deb -x "$MDEB" "$W/mppkg"
BB=$W/bbpkg/bin/busybox
KV=$(ls "$W/kpkg/lib/modules" | head -1)
MD=$W/kpkg/lib/modules/$KV
mkdir -p "$W/out"
cp "$W/kpkg/boot/vmlinuz-$KV" "$W/out/vmlinuz"
cp "$BB" "$W/out/busybox"

R=$W/rootfs
mkdir -p "$R"/{bin,sbin,etc/iscsi,proc,sys,dev,tmp,run,root,var/lib/iscsi,var/lock,lib/modules,lib/x86_64-linux-gnu,lib64,usr/bin,usr/sbin}
cp "$BB" "$R/bin/busybox"
for a in $("$BB" --list); do [ "$a" = busybox ] || [ -e "$R/bin/$a" ] || ln -s busybox "$R/bin/$a"; done

# --- kernel modules, dependencies resolved from each module's depends= --------
# (the extracted package has no modules.dep)
declare -A SEEN; ORDER=()
modpath() { find "$MD/kernel" -name "$(echo "$1" | sed 's/[-_]/[-_]/g').ko" | head -1; }
addmod() {
  local n=${1//-/_}; [ -n "${SEEN[$n]:-}" ] && return 0; SEEN[$n]=1
  local p; p=$(modpath "$1"); [ -n "$p" ] || { log "module $1 not found"; exit 1; }
  local deps; deps=$("$BB" strings "$p" | sed -n 's/^depends=//p' | tr ',' ' ')
  local x; for x in $deps; do addmod "$x"; done
  cp "$p" "$R/lib/modules/"; ORDER+=("$(basename "$p")")
}
# crc64_rocksoft_generic/crct10dif_generic: crypto backends t10-pi asks for at load time;
# crc32c_generic/crc32c-intel: "crc32c" for iSCSI digests and ext4/jbd2 metadata checksums.
MODS="crct10dif_generic crc64_rocksoft_generic crc32c_generic crc32c-intel libcrc32c
      virtio_pci virtio_scsi scsi_mod sd_mod sg scsi_transport_iscsi libiscsi libiscsi_tcp iscsi_tcp
      crc16 mbcache jbd2 ext4
      scsi_dh_alua dm_mod dm_multipath dm_round_robin dm_service_time"
for m in $MODS; do addmod "$m"; done
printf '%s\n' "${ORDER[@]}" > "$R/lib/modules/order"

# --- host binaries and their shared libraries ---------------------------------
copylibs() {
  ldd "$1" 2>/dev/null | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | while read -r l; do
    case $l in /lib64/*) cp -nL "$l" "$R/lib64/" ;; *) cp -nL "$l" "$R/lib/x86_64-linux-gnu/" ;; esac
  done
}
for t in /usr/bin/sg_* /usr/bin/sginfo /usr/bin/ddpt /usr/bin/ddptctl; do
  [ -x "$t" ] || continue; cp "$t" "$R/usr/bin/"; copylibs "$t"
done
for t in /usr/sbin/iscsid /usr/sbin/iscsiadm /usr/sbin/tgtd /usr/sbin/tgtadm \
         /usr/sbin/mke2fs /usr/sbin/e2fsck; do
  cp -L "$t" "$R/usr/sbin/"; copylibs "$t"
done
ln -s mke2fs "$R/usr/sbin/mkfs.ext4"; ln -s e2fsck "$R/usr/sbin/fsck.ext4"
# multipath: the binary, the package's libraries and its checker/prioritizer
# plugins (/lib/multipath, where it looks for them)
cp -L "$W/mppkg/sbin/multipath" "$R/usr/sbin/"
for l in "$W/mppkg"/lib/lib*.so.0; do cp -L "$l" "$R/lib/x86_64-linux-gnu/"; done
mkdir -p "$R/lib/multipath" && cp -L "$W/mppkg"/lib/multipath/*.so "$R/lib/multipath/"
for f in "$R/usr/sbin/multipath" "$R"/lib/multipath/*.so "$R"/lib/x86_64-linux-gnu/libm*path*.so.0; do
  LD_LIBRARY_PATH="$W/mppkg/lib" copylibs "$f"
done
[ -f /etc/mke2fs.conf ] && cp /etc/mke2fs.conf "$R/etc/"
# open-iscsi: our own minimal config (the host's wants systemctl to start iscsid)
cat > "$R/etc/iscsi/iscsid.conf" <<'CONF'
iscsid.startup = /bin/true
node.startup = manual
node.session.timeo.replacement_timeout = 10
node.conn[0].timeo.login_timeout = 10
node.conn[0].timeo.logout_timeout = 10
node.conn[0].timeo.noop_out_interval = 5
node.conn[0].timeo.noop_out_timeout = 5
node.session.initial_login_retry_max = 2
node.session.iscsi.InitialR2T = No
node.session.iscsi.ImmediateData = Yes
node.session.iscsi.FirstBurstLength = 262144
node.session.iscsi.MaxBurstLength = 16776192
node.conn[0].iscsi.MaxRecvDataSegmentLength = 262144
node.conn[0].iscsi.HeaderDigest = None
node.conn[0].iscsi.DataDigest = None
node.session.scan = auto
CONF
echo "InitiatorName=iqn.2026-11.com.example:linux-vm-guest" > "$R/etc/iscsi/initiatorname.iscsi"
echo "root:x:0:0:root:/root:/bin/sh" > "$R/etc/passwd"; echo "root:x:0:" > "$R/etc/group"
cp "$HERE/guest/init" "$R/init"; chmod +x "$R/init"

(cd "$R" && find . | "$BB" cpio -o -H newc 2>/dev/null | gzip -6) > "$W/out/base.cpio.gz"
echo "$KPKG $KVER $KV" > "$W/out/kernel"
rm -rf "$OUT"; mv "$W/out" "$OUT"
# keep the cache small: only the newest guest
for old in "$CACHE"/guest-*; do [ "$old" = "$OUT" ] || rm -rf "$old"; done
log "built in $(( $(date +%s) - T0 ))s: $(du -sh "$OUT/base.cpio.gz" | cut -f1) initramfs, kernel $KV, modules: ${ORDER[*]}"
echo "$OUT"
