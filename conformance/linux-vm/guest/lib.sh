# Shared helpers for the guest test scripts (sourced, busybox sh).
#
#   check NAME CMD [ARGS...]   run CMD; print "PASS NAME" or "FAIL NAME" plus
#                              the command's output (indented) on failure.
#   quiet CMD [ARGS...]        CMD must exit 0 and print nothing on stderr
#                              ("decodes without error" for sg3_utils tools).
#   expect_fail CMD [ARGS...]  CMD must exit non-zero (negative checks).
#   have_copy                  true when LINUX_VM_COPY=1 was passed to run.sh.
# Every check's output is also kept in /tmp/log/NAME for debugging (VERBOSE=1
# prints it for passing checks too).
mkdir -p /tmp/log
NPASS=0; NFAIL=0
uptime_cs() { awk '{printf "%d", $1*100}' /proc/uptime; }
check() {
  _name=$1; shift
  _t0=$(uptime_cs)
  echo "START $_name"   # the host names the check that hung if the guest times out
  "$@" > /tmp/log/$_name 2>&1; _rc=$?
  _dt=$(( $(uptime_cs) - _t0 ))
  _secs=$(printf '%d.%02ds' $((_dt / 100)) $((_dt % 100)))
  if [ $_rc -eq 0 ]; then
    NPASS=$((NPASS + 1)); echo "PASS $_name ($_secs)"
    [ "${VERBOSE:-0}" = 1 ] && sed 's/^/    | /' /tmp/log/$_name
  else
    NFAIL=$((NFAIL + 1)); echo "FAIL $_name (rc=$_rc, $_secs): $*"
    tail -n 25 /tmp/log/$_name | sed 's/^/    | /'
  fi
  return 0
}
quiet() {
  "$@" 2>/tmp/stderr.$$; _r=$?
  if [ -s /tmp/stderr.$$ ]; then echo "--- stderr:"; cat /tmp/stderr.$$; [ $_r -eq 0 ] && _r=97; fi
  rm -f /tmp/stderr.$$; return $_r
}
expect_fail() {
  if "$@"; then echo "expected a failure, command succeeded"; return 1; fi
  return 0
}
have_copy() { [ "${LINUX_VM_COPY:-1}" = 1 ]; }
have_odx() { [ "${LINUX_VM_ODX:-0}" = 1 ]; }
# note TEXT: an informational line the host passes through (not counted)
note() { echo "NOTE $*"; }
# skip NAME REASON: a check not run here; the host counts it as skipped
skip() { echo "SKIP $1 ($2)"; }
# hexbytes FILE [SKIP [COUNT]]: the file's bytes as lowercase hex, one per line
hexbytes() { od -An -v -tx1 ${2:+-j $2} ${3:+-N $3} "$1" | tr -s ' ' '\n' | grep -v '^$'; }
# decbytes FILE [SKIP [COUNT]]: the same as unsigned decimals
decbytes() { od -An -v -tu1 ${2:+-j $2} ${3:+-N $3} "$1" | tr -s ' ' '\n' | grep -v '^$'; }
# be16/be32 FILE OFFSET: big-endian integer at OFFSET
be16() { set -- $(hexbytes "$1" "$2" 2); echo $((0x$1$2)); }
be32() { set -- $(hexbytes "$1" "$2" 4); echo $((0x$1$2$3$4)); }
byte() { set -- $(hexbytes "$1" "$2" 1); echo $((0x$1)); }
# cdb helpers: hex bytes of a big-endian integer
hex64() { printf '%016x' "$1" | sed 's/../& /g'; }
hex32() { printf '%08x' "$1" | sed 's/../& /g'; }
hex16() { printf '%04x' "$1" | sed 's/../& /g'; }
finish() {
  echo "SUMMARY $NPASS passed, $NFAIL failed"
  [ $NFAIL -eq 0 ]
}
