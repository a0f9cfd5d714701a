#!/usr/bin/env bash
# The xtgt test command: ./conformance/test.sh
#
# On a fresh Debian 12 machine, as root: installs the Debian packages the
# tests need, Rust (rustup, only if cargo is missing), runs the workspace
# tests, builds the release binary and runs the conformance scripts with
# real initiators. Every check prints "PASS name", "FAIL name" or
# "SKIP name (reason)" (a check that cannot run here: counted as skipped,
# never as passed); the last line is "N passed, M failed, K skipped"; the
# exit status is non-zero on any FAIL.
#
# Environment:
#   XTGT_NO_APT=1          skip apt-get (packages already installed)
#   QEMU_IMG_SIZE_MIB=256  smaller image for qemu-img.sh (default 1024)
#   XCOPY_SIZE_MIB=256     smaller image for xcopy.sh (default 1024)
#   LIBISCSI_SKIP_ALL=1    skip the iscsi-test-cu -t ALL runs
#   CONFORMANCE_ONLY="libiscsi chap"   run only these scripts (the others
#                          print SKIP)
set -u
cd "$(dirname "$0")/.."
REPO=$(pwd)
LOG_DIR=${LOG_DIR:-$REPO/target/conformance}
mkdir -p "$LOG_DIR"
TOTAL_PASS=0
TOTAL_FAIL=0
TOTAL_SKIP=0
started=$(date +%s)

record() { # record STATUS NAME [DETAIL...]
    local status=$1 name=$2
    shift 2
    echo "$status $name"
    local d
    for d in "$@"; do
        [ -n "$d" ] && printf '%s\n' "$d" | sed 's/^/    /'
    done
    case "$status" in
    PASS) TOTAL_PASS=$((TOTAL_PASS + 1)) ;;
    FAIL) TOTAL_FAIL=$((TOTAL_FAIL + 1)) ;;
    *) echo "record: unknown status $status" >&2; TOTAL_FAIL=$((TOTAL_FAIL + 1)) ;;
    esac
}

# record_skip NAME REASON: a check that cannot run here.
record_skip() {
    echo "SKIP $1 ($2)"
    TOTAL_SKIP=$((TOTAL_SKIP + 1))
}

finish() {
    echo "total time: $(($(date +%s) - started)) s; logs in $LOG_DIR"
    echo "$TOTAL_PASS passed, $TOTAL_FAIL failed, $TOTAL_SKIP skipped"
    [ "$TOTAL_FAIL" -eq 0 ]
    exit $?
}

# install_packages: 0 installed, 1 failed, 2 not attempted (APT_SKIPPED
# says why).
install_packages() {
    if [ -n "${XTGT_NO_APT:-}" ]; then
        APT_SKIPPED="XTGT_NO_APT set; the packages must already be installed"
        return 2
    fi
    if [ "$(id -u)" -ne 0 ]; then
        APT_SKIPPED="not root; the packages must already be installed"
        return 2
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >"$LOG_DIR/apt.log" 2>&1 || return 1
    # qemu-utils may come from backports while qemu-block-extra (the iscsi
    # driver) does not: pin qemu-utils, qemu-block-extra, qemu-system-x86
    # and their exact-version siblings to the version qemu-block-extra can
    # be installed at. qemu-system-data is arch-independent and carries the
    # version without the binNMU suffix (+bN).
    local v vdata pkgs pkg
    v=$(apt-cache policy qemu-block-extra | awk '/Candidate:/{print $2; exit}')
    if [ -z "$v" ] || [ "$v" = "(none)" ]; then
        echo "no installable qemu-block-extra" >>"$LOG_DIR/apt.log"
        return 1
    fi
    vdata=${v%+b[0-9]*}
    pkgs="qemu-utils=$v qemu-block-extra=$v qemu-system-x86=$v"
    for pkg in qemu-system-common qemu-system-gui qemu-system-modules-spice qemu-system-modules-opengl; do
        if apt-cache madison "$pkg" 2>/dev/null | grep -qF "| $v |"; then
            if [ "$pkg" = qemu-system-common ] || dpkg -s "$pkg" >/dev/null 2>&1; then
                pkgs="$pkgs $pkg=$v"
            fi
        fi
    done
    if apt-cache madison qemu-system-data 2>/dev/null | grep -qF "| $vdata |"; then
        pkgs="$pkgs qemu-system-data=$vdata"
    fi
    echo "qemu packages: $pkgs" >>"$LOG_DIR/apt.log"
    # shellcheck disable=SC2086 # $pkgs is a list of words
    apt-get install -y -q --allow-downgrades --no-install-recommends \
        libiscsi-bin sg3-utils $pkgs \
        tgt ddpt open-iscsi xfsprogs \
        python3 curl ca-certificates build-essential pkg-config \
        >>"$LOG_DIR/apt.log" 2>&1
}

ensure_rust() {
    [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
    command -v cargo >/dev/null 2>&1 && return 0
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
        sh -s -- -y --profile minimal --component rustfmt --component clippy >"$LOG_DIR/rustup.log" 2>&1 || return 1
    . "$HOME/.cargo/env"
    command -v cargo >/dev/null 2>&1
}

install_packages
case $? in
0) record PASS "setup: Debian packages" ;;
2) record_skip "setup: Debian packages" "$APT_SKIPPED" ;;
*) record FAIL "setup: Debian packages" "see $LOG_DIR/apt.log" "$(tail -3 "$LOG_DIR/apt.log")" ;;
esac
if ensure_rust; then
    record PASS "setup: Rust toolchain ($(cargo --version 2>/dev/null))"
else
    record FAIL "setup: Rust toolchain" "see $LOG_DIR/rustup.log"
    finish
fi

# test_counts LOG: "P passed, I ignored" summed over the "test result:" lines.
test_counts() {
    awk '/^test result:/ { p += $4; i += $8 } END { printf "%d passed, %d ignored\n", p, i }' "$1"
}
if cargo test --workspace >"$LOG_DIR/cargo-test.log" 2>&1; then
    record PASS "cargo test --workspace ($(test_counts "$LOG_DIR/cargo-test.log"))"
else
    record FAIL "cargo test --workspace" "see $LOG_DIR/cargo-test.log" \
        "$(grep -E '^test .* FAILED|^error|panicked' "$LOG_DIR/cargo-test.log" | head -8)"
fi
if cargo fmt --all -- --check >"$LOG_DIR/cargo-fmt.log" 2>&1; then
    record PASS "cargo fmt --all -- --check"
else
    record FAIL "cargo fmt --all -- --check" "see $LOG_DIR/cargo-fmt.log" "$(grep -E '^Diff in|^error' "$LOG_DIR/cargo-fmt.log" | head -5)"
fi
if cargo clippy --workspace --all-targets -- -D warnings >"$LOG_DIR/cargo-clippy.log" 2>&1; then
    record PASS "cargo clippy --workspace --all-targets -- -D warnings"
else
    record FAIL "cargo clippy --workspace --all-targets -- -D warnings" "see $LOG_DIR/cargo-clippy.log" \
        "$(grep -E -A3 '^(error|warning)' "$LOG_DIR/cargo-clippy.log" | grep -E '^(error|warning)|-->' | head -8)"
fi
# The #[ignore]d tests need what a plain `cargo test` may not have; run
# them here where it exists, or say SKIP (never lose them silently).
# run_ignored NAME REASON_IF_NOT_HERE CONDITION CARGO_ARGS...
run_ignored() {
    local name=$1 why=$2 cond=$3 log
    shift 3
    log=$LOG_DIR/cargo-test-ignored-$(tr -c 'a-z0-9\n' - <<<"$name" | head -1).log
    if ! eval "$cond"; then
        record_skip "cargo test -- --ignored: $name" "$why"
        return
    fi
    if cargo test "$@" -- --ignored >"$log" 2>&1 && grep -q '^test result: ok. [1-9]' "$log"; then
        record PASS "cargo test -- --ignored: $name ($(test_counts "$log"))"
    else
        record FAIL "cargo test -- --ignored: $name" "see $log" \
            "$(grep -E '^test .* FAILED|^error|panicked|^test result' "$log" | head -8)"
    fi
}
run_ignored "scsi: file backend on a loop device" "needs root and losetup" \
    '[ "$(id -u)" -eq 0 ] && command -v losetup >/dev/null' -p scsi --lib backend::file::tests::block_device
run_ignored "xtgt: login with a real initiator (iscsi-inq)" "iscsi-inq (libiscsi-bin) not installed" \
    'command -v iscsi-inq >/dev/null' -p xtgt --test cli real_initiator
run_ignored "scsi: XFS point-in-time snapshots" "needs root and mkfs.xfs: loop-mounts XFS" \
    '[ "$(id -u)" -eq 0 ] && command -v mkfs.xfs >/dev/null' -p scsi --lib snapshot
if cargo build --release --bin xtgt >"$LOG_DIR/cargo-build.log" 2>&1; then
    record PASS "cargo build --release"
else
    record FAIL "cargo build --release" "see $LOG_DIR/cargo-build.log" "$(grep -E '^error' "$LOG_DIR/cargo-build.log" | head -5)"
    finish
fi
export XTGT_BIN=$REPO/target/release/xtgt

# run_script NAME PATH: run a conformance script, count its PASS/FAIL/SKIP
# lines.
run_script() {
    local name=$1 script=$2 log=$LOG_DIR/$1.log rc p f k
    if [ -n "${CONFORMANCE_ONLY:-}" ] && ! grep -qw "$name" <<<"$CONFORMANCE_ONLY"; then
        record_skip "$name ($script)" "not in CONFORMANCE_ONLY"
        return 0
    fi
    echo "== $name ($script)"
    local t0
    t0=$(date +%s)
    bash "$script" 2>&1 | tee "$log" | grep -E '^(PASS|FAIL|SKIP) |^    '
    rc=${PIPESTATUS[0]}
    p=$(grep -c '^PASS ' "$log")
    f=$(grep -c '^FAIL ' "$log")
    k=$(grep -c '^SKIP ' "$log")
    TOTAL_PASS=$((TOTAL_PASS + p))
    TOTAL_FAIL=$((TOTAL_FAIL + f))
    TOTAL_SKIP=$((TOTAL_SKIP + k))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        record FAIL "$name: script exited with status $rc without a FAIL line" "$(tail -5 "$log")"
    fi
    echo "   ($name: $p passed, $f failed, $k skipped, $(($(date +%s) - t0)) s)"
}

run_script libiscsi conformance/libiscsi.sh
run_script qemu-img conformance/qemu-img.sh
run_script xcopy conformance/xcopy.sh
run_script odx conformance/odx.sh
run_script pr conformance/pr.sh
run_script chap conformance/chap.sh
run_script robustness conformance/robustness.sh
if [ -f conformance/linux-vm/run.sh ]; then
    run_script linux-vm conformance/linux-vm/run.sh
else
    record_skip "linux-vm (conformance/linux-vm/run.sh)" "script not present"
fi
finish
