#!/usr/bin/env bash
# Benchmarks of xtgt against tgt, the userspace iSCSI target people run today.
#
# Not part of the test command: run on demand. Both targets run in the same
# invocation, each with a file LUN of the same size on the same filesystem, and
# the same real initiators measure both (see /work/shared/docs/benchmarking.md):
#   - qemu-img bench, 1 MiB sequential read, queue depth 16
#   - qemu-img bench, 1 MiB sequential write, queue depth 16 (-w)
#   - fio (libiscsi engine), 4 KiB random read, queue depth 32, 10 s, with p99
# Each is repeated (median taken). With --copy, a 1 GiB LUN->LUN copy is also
# timed: host copy (qemu-img convert) through tgt and through xtgt, offloaded
# copy (qemu-img convert -C) in xtgt, and the backend's own copy
# (cp --reflink=never, copy_file_range) as the physical limit.
#
# The Markdown table goes to conformance/bench/results.md (or --out FILE).
# Every server this script starts is stopped by pid on exit, even on failure.
set -euo pipefail
# The whole script is one compound command, parsed before it runs, so editing
# this file during a run does not derail the run.
{

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/../.." && pwd)
ARGS="$*"

usage() {
    cat <<EOF
usage: $0 [options]
  --reps N          rounds per workload, medians reported (default 5)
  --size SIZE       LUN size for the benchmark LUN (default 1GiB; K/M/G suffixes)
  --count N         1 MiB requests per qemu-img bench run (default 4096)
  --fio-runtime S   seconds per fio run (default 10)
  --copy            also run the 1 GiB LUN->LUN copy comparison
  --copy-size SIZE  size of the copy LUNs (default 1GiB)
  --odx             run the ODX benchmarks instead (no tgt; see odx.sh): 1 GiB
                    copies with POPULATE TOKEN / WRITE USING TOKEN on ext4 (the
                    --dir file system) and on a loop-mounted XFS, against the
                    backend's own copy, a host copy and EXTENDED COPY; token
                    store latency and memory with 1 and --odx-tokens live
                    tokens. Results to conformance/bench/results-odx.md
  --fairness        run the copy fairness benchmark instead (see fairness.sh):
                    fio 4 KiB random reads QD16 idle and beside EXTENDED COPY
                    and ODX copies on the same file system (ext4 --dir and a
                    loop-mounted XFS), 16 copying sessions, tgt with a host
                    copy as the peer. Results to conformance/bench/results-fairness.md
  --fair-copy-size SIZE  size of each fairness copy (default 4GiB)
  --fair-storm-size SIZE size of each of the 16 sessions' copies (default 256MiB)
  --fair-cpus LIST  CPUs for copy work (xtgt's copy.cpus, and the copy initiators);
                    xtgt's other threads, fio and tgtd get the rest. Default: the
                    last CPU (with 2 or more); "none": nothing pinned
  --odx-tokens N    live tokens for the token store scale part (default 100000)
  --odx-samples N   commands of each kind timed per xtgt (default 1000)
  --odx-held N      then N more tokens, each POPULATE TOKEN with a new list id
                    (results held), and the latency again (default 20000; 0: no)
  --xtgt PATH       xtgt binary (default target/release/xtgt, built if missing)
  --tgt-tuned       give tgt 256 KiB data segments (MaxRecvDataSegmentLength,
                    MaxXmitDataSegmentLength) like xtgt's default, instead of
                    tgt's own default of 8 KiB
  --b-as-tgt        run a second tgt in xtgt's slot (to prove the script before
                    xtgt works); its column is labelled tgt#2, never xtgt
  --dir DIR         where the LUN files go (default \${XTGT_BENCH_DIR:-/var/tmp})
  --out FILE        Markdown results (default conformance/bench/results.md)
  --no-install      skip the package check and the fio build
  --keep            keep the work directory (LUN files, logs)
  --perf DIR        after the rounds, one extra uncounted run of each workload
                    against the second target (xtgt) under
                    \`perf record --call-graph dwarf\`, into DIR/<workload>.data
  --quick           1 repetition, 1024 requests, 3 s fio (a smoke run)
Environment: XTGT_CACHE (fio cache, default ~/.cache/xtgt), TGT_PORT (13262),
XTGT_PORT (13263), XTGT_METRICS_PORT (13264), XTGT_REV (revision printed for
xtgt; default the tree's HEAD, which is wrong for a prebuilt --xtgt binary).
EOF
}

REPS=5
LUN_SIZE=1GiB
COUNT=4096
FIO_RUNTIME=10
COPY=0
COPY_SIZE=1GiB
ODX=0
FAIRNESS=0
FAIR_COPY_SIZE=4GiB
FAIR_STORM_SIZE=256MiB
FAIR_CPUS=auto
ODX_TOKENS=100000
ODX_SAMPLES=1000
ODX_HELD=20000
XTGT_BIN=""
B_AS_TGT=0
TGT_TUNED=0
BENCH_DIR=${XTGT_BENCH_DIR:-/var/tmp}
OUT=""
INSTALL=1
KEEP=0
PERF_DIR=""
TGT_PORT=${TGT_PORT:-13262}
XTGT_PORT=${XTGT_PORT:-13263}
XTGT_METRICS_PORT=${XTGT_METRICS_PORT:-13264}
CACHE=${XTGT_CACHE:-$HOME/.cache/xtgt}

while (($#)); do
    case $1 in
    --reps) REPS=$2; shift ;;
    --size) LUN_SIZE=$2; shift ;;
    --count) COUNT=$2; shift ;;
    --fio-runtime) FIO_RUNTIME=$2; shift ;;
    --copy) COPY=1 ;;
    --copy-size) COPY_SIZE=$2; shift ;;
    --odx) ODX=1 ;;
    --fairness) FAIRNESS=1 ;;
    --fair-copy-size) FAIR_COPY_SIZE=$2; shift ;;
    --fair-storm-size) FAIR_STORM_SIZE=$2; shift ;;
    --fair-cpus) FAIR_CPUS=$2; shift ;;
    --odx-tokens) ODX_TOKENS=$2; shift ;;
    --odx-samples) ODX_SAMPLES=$2; shift ;;
    --odx-held) ODX_HELD=$2; shift ;;
    --xtgt) XTGT_BIN=$2; shift ;;
    --b-as-tgt) B_AS_TGT=1 ;;
    --tgt-tuned) TGT_TUNED=1 ;;
    --dir) BENCH_DIR=$2; shift ;;
    --out) OUT=$2; shift ;;
    --no-install) INSTALL=0 ;;
    --keep) KEEP=1 ;;
    --perf) PERF_DIR=$2; shift ;;
    --quick) REPS=1; COUNT=1024; FIO_RUNTIME=3 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

if [[ -z $OUT ]]; then
    if ((ODX)); then OUT=$SCRIPT_DIR/results-odx.md; elif ((FAIRNESS)); then OUT=$SCRIPT_DIR/results-fairness.md; else OUT=$SCRIPT_DIR/results.md; fi
fi

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Bytes from "1GiB", "512M", "4096".
to_bytes() {
    local s=${1%iB} n unit
    s=${s%B}
    n=${s%%[KMGTkmgt]}
    unit=${s:${#n}}
    case $unit in
    "") echo "$n" ;;
    [Kk]) echo $((n << 10)) ;;
    [Mm]) echo $((n << 20)) ;;
    [Gg]) echo $((n << 30)) ;;
    [Tt]) echo $((n << 40)) ;;
    esac
}

LUN_BYTES=$(to_bytes "$LUN_SIZE")
COPY_BYTES=$(to_bytes "$COPY_SIZE")
((LUN_BYTES % 1048576 == 0)) || die "--size must be a multiple of 1 MiB"
((COPY_BYTES % 1048576 == 0)) || die "--copy-size must be a multiple of 1 MiB"

# ---------------------------------------------------------------------------
# Dependencies
# ---------------------------------------------------------------------------

installed_version() { dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null | awk '/ok installed/{print $4}'; }

install_packages() {
    local need=() p cand iu ib updated=0
    for p in tgt libiscsi-dev zlib1g-dev libaio-dev build-essential; do
        [[ -n $(installed_version "$p") ]] || need+=("$p")
    done
    # qemu-img needs qemu-block-extra (the iscsi:// driver is a module) at
    # exactly its own version. If qemu-utils came from a backport, pin both to
    # the candidate of qemu-block-extra, downgrading qemu-utils if need be.
    cand=$(apt-cache policy qemu-block-extra 2>/dev/null | awk '/Candidate:/{print $2}')
    if [[ -z $cand || $cand == "(none)" ]]; then
        apt-get update -qq && updated=1
        cand=$(apt-cache policy qemu-block-extra | awk '/Candidate:/{print $2}')
    fi
    iu=$(installed_version qemu-utils)
    ib=$(installed_version qemu-block-extra)
    if [[ $iu != "$cand" || $ib != "$cand" ]]; then
        need+=("qemu-utils=$cand" "qemu-block-extra=$cand")
    fi
    if ((${#need[@]})); then
        log "installing: ${need[*]}"
        ((updated)) || apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --allow-downgrades "${need[@]}" >&2
    fi
}

fio_has_libiscsi() { [[ -x $1 ]] && "$1" --enghelp=libiscsi >/dev/null 2>&1; }

# Debian's fio is built without libiscsi; Debian's source package builds with
# it. The binary is cached in $CACHE/fio/.
build_fio() {
    FIO=$CACHE/fio/fio
    if fio_has_libiscsi "$FIO"; then return; fi
    log "building fio with libiscsi into $CACHE/fio"
    mkdir -p "$CACHE/fio"
    local tmp src list
    tmp=$(mktemp -d)
    mkdir -p "$tmp/lists/partial"
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
        list=$tmp/src.sources
        sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$list"
    else
        list=$tmp/src.list
        sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >"$list"
    fi
    local opts=(-o "Dir::Etc::SourceList=$list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$tmp/lists")
    apt-get "${opts[@]}" update -qq >&2
    (cd "$tmp" && apt-get "${opts[@]}" source --download-only fio >&2)
    local tarball
    tarball=$(find "$tmp" -maxdepth 1 -name 'fio_*.orig.tar.*' ! -name '*.asc' | head -n1)
    [[ -n $tarball ]] || die "fio source archive not downloaded"
    tar xf "$tarball" -C "$tmp"
    src=$(find "$tmp" -maxdepth 1 -type d -name 'fio-*' | head -n1)
    [[ -n $src ]] || die "fio source not found in $tmp"
    (cd "$src" && ./configure --enable-libiscsi --disable-native >&2 && make -j2 >&2)
    cp "$src/fio" "$FIO.new" && mv "$FIO.new" "$FIO"
    rm -rf "$tmp"
    fio_has_libiscsi "$FIO" || die "fio built without the libiscsi engine"
}

# ---------------------------------------------------------------------------
# Servers (every pid we start is recorded and stopped on exit)
# ---------------------------------------------------------------------------

PIDS=()
declare -A TGT_CTL # tgtd pid -> its control port
WORK=""
ODX_MNT="" # the loop-mounted XFS of --odx

gone_within() { # PID TENTHS: true once PID has exited
    local i
    for ((i = 0; i < $2; i++)); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    ! kill -0 "$1" 2>/dev/null
}

stop_pid() {
    local pid=$1 ctl=${TGT_CTL[$1]:-}
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return; }
    if [[ -n $ctl ]]; then
        # tgtd catches SIGTERM and keeps running; it leaves on a system delete
        # once its targets are gone.
        tgtadm -C "$ctl" --lld iscsi --mode target --op delete --tid 1 --force >/dev/null 2>&1 || true
        tgtadm -C "$ctl" --mode system --op delete >/dev/null 2>&1 || true
        gone_within "$pid" 50 && { wait "$pid" 2>/dev/null || true; return; }
    fi
    kill "$pid" 2>/dev/null || true
    if ! gone_within "$pid" 50; then
        log "pid $pid did not stop; SIGKILL"
        kill -9 "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    if [[ -n $ODX_MNT ]] && mountpoint -q "$ODX_MNT"; then
        umount "$ODX_MNT" || umount -l "$ODX_MNT" || log "could not unmount $ODX_MNT"
    fi
    if [[ -n $WORK && -d $WORK ]]; then
        if ((KEEP || rc != 0)); then
            log "work directory kept: $WORK"
            # LUN files are large; keep only the logs on failure.
            ((KEEP)) || rm -f "$WORK"/*.img
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_free() { ! ss -Hltn "sport = :$1" | grep -q .; }

wait_port() { # PORT PID NAME
    local i
    for i in $(seq 100); do
        kill -0 "$2" 2>/dev/null || die "$3 exited during start (see $WORK/$3.log)"
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    die "$3 does not listen on port $1"
}

# start_tgt NAME PORT IQN FILE... ; LUNs are numbered from 1 (LUN 0 is tgt's
# controller LUN).
start_tgt() {
    local name=$1 port=$2 iqn=$3 ctl=$2 lun=1 f i
    shift 3
    port_free "$port" || die "port $port is in use"
    ${TGT_WRAP:-} tgtd -f -C "$ctl" --iscsi "portal=127.0.0.1:$port" >"$WORK/$name.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    TGT_CTL[$pid]=$ctl
    for i in $(seq 100); do
        tgtadm -C "$ctl" --lld iscsi --mode target --op show >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || die "tgtd ($name) exited (see $WORK/$name.log)"
        sleep 0.1
    done
    tgtadm -C "$ctl" --lld iscsi --mode target --op new --tid 1 --targetname "$iqn"
    for f in "$@"; do
        tgtadm -C "$ctl" --lld iscsi --mode logicalunit --op new --tid 1 --lun "$lun" \
            --backing-store "$f" --blocksize 512
        lun=$((lun + 1))
    done
    if ((TGT_TUNED)); then
        local key
        for key in MaxRecvDataSegmentLength MaxXmitDataSegmentLength; do
            tgtadm -C "$ctl" --lld iscsi --mode target --op update --tid 1 --name "$key" --value 262144
        done
    fi
    tgtadm -C "$ctl" --lld iscsi --mode target --op bind --tid 1 --initiator-address ALL
    wait_port "$port" "$pid" "$name"
    log "$name: tgtd pid $pid on 127.0.0.1:$port"
}

human_size() { # BYTES (a multiple of 1 MiB) -> "1GiB" / "512MiB"
    if (($1 % (1 << 30) == 0)); then echo "$(($1 >> 30))GiB"; else echo "$(($1 >> 20))MiB"; fi
}

# start_xtgt NAME PORT IQN FILE... ; LUNs are numbered from 0.
start_xtgt() {
    local name=$1 port=$2 iqn=$3 lun=0 f cfg=$WORK/$1.toml
    shift 3
    port_free "$port" || die "port $port is in use"
    {
        printf '[server]\nlisten = ["127.0.0.1:%s"]\nmetrics_listen = "127.0.0.1:%s"\n' \
            "$port" "$XTGT_METRICS_PORT"
        printf '\n[[targets]]\niqn = "%s"\n' "$iqn"
        for f in "$@"; do
            printf '\n[[targets.luns]]\nlun = %d\nbackend = "file"\npath = "%s"\nsize = "%s"\nblock_size = 512\n' \
                "$lun" "$(basename "$f")" "$(human_size "$(stat -c %s "$f")")"
            lun=$((lun + 1))
        done
    } >"$cfg"
    RUST_LOG=${RUST_LOG:-warn} "$XTGT_BIN" --config "$cfg" >"$WORK/$name.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    wait_port "$port" "$pid" "$name"
    log "$name: xtgt pid $pid on 127.0.0.1:$port"
}

# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------

# median of the arguments (mean of the two middle ones for an even count)
median() {
    printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2] + v[NR/2+1]) / 2 }'
}

# qemu_bench URL [-w] -> MiB/s
qemu_bench() {
    local url=$1 out secs
    shift
    out=$(qemu-img bench -f raw -c "$COUNT" -d 16 -s 1M "$@" "$url" 2>&1) ||
        { log "qemu-img bench failed: $out"; echo nan; return; }
    secs=$(sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p' <<<"$out")
    [[ -n $secs ]] || { log "qemu-img bench: unexpected output: $out"; echo nan; return; }
    awk -v c="$COUNT" -v s="$secs" 'BEGIN { printf "%.1f\n", c / s }'
}

# fio_randread URL -> "IOPS P99_MS"
fio_randread() {
    # The engine is flagged FIO_SYNCIO, so fio prints that the depth is capped
    # at 1; it is not (iodepth_level in the JSON shows 16-32 in flight).
    local url=${1//:/\\:} json=$WORK/fio.json
    "$FIO" --name=randread --ioengine=libiscsi --filename="$url" \
        --rw=randread --bs=4k --iodepth=32 --runtime="$FIO_RUNTIME" --time_based \
        --size="$LUN_BYTES" --output-format=json --output="$json" >"$WORK/fio.err" 2>&1 ||
        { log "fio failed: $(cat "$WORK/fio.err")"; echo "nan nan"; return; }
    jq -r '.jobs[0].read | "\(.iops) \(.clat_ns.percentile["99.000000"] / 1e6)"' "$json"
}

# Copy helpers (the --copy comparison and the ODX part)

# xtgt's Prometheus text, read with bash's /dev/tcp (no curl needed)
metrics_text() {
    local line
    exec 5<>"/dev/tcp/127.0.0.1/$XTGT_METRICS_PORT" || return 0
    printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&5
    while IFS= read -r -t 5 line <&5; do printf '%s\n' "${line%$'\r'}"; done
    exec 5<&-
}

metric_sum() { # NAME FILTER -> sum of matching samples from xtgt's exporter
    metrics_text |
        awk -v n="$1" -v f="$2" 'index($0, n) == 1 && index($0, f) { s += $NF } END { print s + 0 }'
}

time_it() { # command... -> seconds (stdout), command output to the log
    # Start every copy with no dirty pages queued from the one before.
    sync
    local t0=$EPOCHREALTIME
    "$@" >>"$WORK/copy.log" 2>&1 || { log "failed: $*"; echo nan; return; }
    awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", b - a }'
}

cfr_copy() { # SRC DST: copy_file_range(2) in place, 8 MiB chunks, one thread per core
    python3 - "$1" "$2" <<'EOF'
import os, sys, threading
src = os.open(sys.argv[1], os.O_RDONLY)
dst = os.open(sys.argv[2], os.O_WRONLY)  # overwrite in place, as a LUN copy does
size = os.fstat(src).st_size
chunk = 8 << 20
next_off = [0]
lock = threading.Lock()
def worker():
    while True:
        with lock:
            off = next_off[0]
            next_off[0] += chunk
        if off >= size:
            return
        end = min(off + chunk, size)
        while off < end:
            n = os.copy_file_range(src, dst, end - off, off, off)
            if n == 0:
                raise SystemExit("copy_file_range: unexpected end of file")
            off += n
threads = [threading.Thread(target=worker) for _ in range(os.cpu_count() or 1)]
for t in threads:
    t.start()
for t in threads:
    t.join()
EOF
}

zero_file() { dd if=/dev/zero of="$1" bs=1M count=$((COPY_BYTES >> 20)) conv=notrunc status=none; }

check_copy() { # LABEL SRC DST
    if ! cmp -s "$2" "$3"; then
        log "WARNING: $1 left a destination that differs from its source"
        COPY_BAD+=("$1")
    fi
}

# "method bytes" lines from xtgt_copy_bytes_total{method="..."}, sorted for join
copy_bytes_by_method() {
    metrics_text | sed -n 's/^xtgt_copy_bytes_total{.*method="\([^"]*\)".*} \([0-9.e+]*\)$/\1 \2/p' | sort
}

# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

START=$EPOCHREALTIME

((ODX && B_AS_TGT)) && die "--odx measures xtgt alone; it does not take --b-as-tgt"
((ODX && FAIRNESS)) && die "--odx and --fairness are separate runs; pick one"
((INSTALL)) && install_packages
if ((ODX)); then
    : # no fio in the ODX part
elif ((INSTALL)); then
    build_fio
else
    FIO=$CACHE/fio/fio
    fio_has_libiscsi "$FIO" || FIO=$(command -v fio || true)
    fio_has_libiscsi "$FIO" || die "no fio with libiscsi; run without --no-install"
fi

if ((B_AS_TGT)); then
    B_LABEL="tgt#2"
else
    B_LABEL="xtgt"
    if [[ -z $XTGT_BIN ]]; then
        XTGT_BIN=$REPO_DIR/target/release/xtgt
        log "building xtgt (release)"
        (cd "$REPO_DIR" && cargo build --release --bin xtgt >&2)
    fi
    [[ -x $XTGT_BIN ]] || die "no xtgt binary at $XTGT_BIN"
fi

mkdir -p "$BENCH_DIR"
WORK=$(mktemp -d "$BENCH_DIR/xtgt-bench.XXXXXX")
log "work directory $WORK ($(findmnt -n -o FSTYPE -T "$WORK"))"

if ((ODX)); then
    # shellcheck source=conformance/bench/odx.sh
    . "$SCRIPT_DIR/odx.sh"
    exit 0
fi
if ((FAIRNESS)); then
    # shellcheck source=conformance/bench/fairness.sh
    . "$SCRIPT_DIR/fairness.sh"
    exit 0
fi

# LUN files with real data (reads of holes would measure nothing): one random
# file, copied for the other target so both read the same bytes.
make_lun() { # FILE BYTES [SOURCE]
    if [[ -n ${3:-} ]]; then
        cp --reflink=never "$3" "$1"
    else
        head -c "$2" /dev/urandom >"$1"
    fi
}
log "creating LUN files ($LUN_SIZE each)"
make_lun "$WORK/a-bench.img" "$LUN_BYTES"
make_lun "$WORK/b-bench.img" "$LUN_BYTES" "$WORK/a-bench.img"
A_FILES=("$WORK/a-bench.img")
B_FILES=("$WORK/b-bench.img")
if ((COPY)); then
    log "creating copy LUN files ($COPY_SIZE each)"
    make_lun "$WORK/a-src.img" "$COPY_BYTES"
    make_lun "$WORK/b-src.img" "$COPY_BYTES" "$WORK/a-src.img"
    truncate -s "$COPY_BYTES" "$WORK/a-dst.img" "$WORK/b-dst.img"
    make_lun "$WORK/fs-src.img" "$COPY_BYTES" "$WORK/a-src.img"
    A_FILES+=("$WORK/a-src.img" "$WORK/a-dst.img")
    B_FILES+=("$WORK/b-src.img" "$WORK/b-dst.img")
fi

A_IQN=iqn.2026-11.com.example:bench-tgt
B_IQN=iqn.2026-11.com.example:bench-b
start_tgt tgt "$TGT_PORT" "$A_IQN" "${A_FILES[@]}"
A_URL=iscsi://127.0.0.1:$TGT_PORT/$A_IQN
if ((B_AS_TGT)); then
    start_tgt tgt2 "$XTGT_PORT" "$B_IQN" "${B_FILES[@]}"
    B_PID=${PIDS[-1]}
    B_URL=iscsi://127.0.0.1:$XTGT_PORT/$B_IQN
    B_LUN0=1
else
    # Run a private copy: others rebuilding target/release during the run must
    # not change what is measured, and perf needs the exact binary to resolve
    # symbols afterwards.
    XTGT_RUN=${PERF_DIR:-$WORK}/xtgt
    mkdir -p "$(dirname "$XTGT_RUN")"
    cp "$XTGT_BIN" "$XTGT_RUN.new" && mv "$XTGT_RUN.new" "$XTGT_RUN"
    XTGT_BIN=$XTGT_RUN
    start_xtgt xtgt "$XTGT_PORT" "$B_IQN" "${B_FILES[@]}"
    B_PID=${PIDS[-1]}
    B_URL=iscsi://127.0.0.1:$XTGT_PORT/$B_IQN
    B_LUN0=0
fi
A_LUN0=1

declare -A R # R[workload,side] = space-separated samples, in round order

# perf_start NAME / perf_stop: sample the second target while it serves
PERF_PID=""
perf_start() {
    [[ -n $PERF_DIR ]] || return 0
    mkdir -p "$PERF_DIR"
    perf record -q -F 999 --call-graph dwarf,16384 -p "$B_PID" -o "$PERF_DIR/$1.data" >"$PERF_DIR/$1.log" 2>&1 &
    PERF_PID=$!
    PIDS+=("$PERF_PID")
    sleep 0.5 # perf attaches before the load starts
}
perf_stop() {
    [[ -n $PERF_PID ]] || return 0
    kill -INT "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" 2>/dev/null || true
    PERF_PID=""
}

# measure WORKLOAD SIDE: one sample of one workload against one side
measure() {
    local url iops p99
    if [[ $2 == A ]]; then url=$A_URL/$A_LUN0; else url=$B_URL/$B_LUN0; fi # B or perf
    case $1 in
    seqread) R[seqread,$2]+="$(qemu_bench "$url") " ;;
    seqwrite) R[seqwrite,$2]+="$(qemu_bench "$url" -w) " ;;
    randread)
        read -r iops p99 < <(fio_randread "$url")
        R[randread,$2]+="$iops "
        R[p99,$2]+="$p99 "
        ;;
    esac
}

last() { awk '{print $NF}' <<<"$1"; }

# Warm-up (not counted): the first session against a fresh target is slower.
log "warm-up"
for side in A B; do
    if [[ $side == A ]]; then url=$A_URL/$A_LUN0; else url=$B_URL/$B_LUN0; fi
    qemu-img bench -f raw -c 256 -d 16 -s 1M "$url" >/dev/null 2>&1 ||
        die "qemu-img bench cannot read from $url (see $WORK/*.log)"
done

# Both targets are measured back to back for each workload, the order
# alternating between rounds, so that drift on a shared machine hits both
# sides of a pair alike; the ratio reported is the median of per-pair ratios.
for rep in $(seq "$REPS"); do
    log "round $rep/$REPS"
    if ((rep % 2)); then order=(A B); else order=(B A); fi
    for w in seqread seqwrite randread; do
        for side in "${order[@]}"; do measure "$w" "$side"; done
    done
    for side in A B; do
        log "  $side: seqread $(last "${R[seqread,$side]}") MiB/s," \
            "seqwrite $(last "${R[seqwrite,$side]}") MiB/s," \
            "randread $(last "${R[randread,$side]}") IOPS, p99 $(last "${R[p99,$side]}") ms"
    done
done

# Profiles: one extra, uncounted run of each workload against the second
# target under perf (sampling with DWARF call graphs slows it down).
if [[ -n $PERF_DIR ]]; then
    for w in seqread seqwrite randread; do
        log "perf: $w"
        perf_start "$w"
        measure "$w" perf
        perf_stop
    done
    log "perf data in $PERF_DIR (perf report -i $PERF_DIR/<workload>.data --no-children)"
fi

# Copy comparison ------------------------------------------------------------

COPY_BAD=()
if ((COPY)); then
    declare -A C
    XCOPY_BEFORE=0
    for rep in $(seq "$REPS"); do
        log "copy round $rep/$REPS"
        cat "$WORK/a-src.img" "$WORK/b-src.img" "$WORK/fs-src.img" >/dev/null # warm page cache
        zero_file "$WORK/a-dst.img"
        C[tgt]+="$(time_it qemu-img convert -n -f raw -O raw "$A_URL/2" "$A_URL/3") "
        check_copy "host copy via tgt" "$WORK/a-src.img" "$WORK/a-dst.img"
        zero_file "$WORK/b-dst.img"
        C[b]+="$(time_it qemu-img convert -n -f raw -O raw "$B_URL/$((B_LUN0 + 1))" "$B_URL/$((B_LUN0 + 2))") "
        check_copy "host copy via $B_LABEL" "$WORK/b-src.img" "$WORK/b-dst.img"
        zero_file "$WORK/b-dst.img"
        if ((!B_AS_TGT)); then
            XCOPY_BEFORE=$(metric_sum xtgt_commands_total 'opcode="EXTENDED_COPY')
            copy_bytes_by_method >"$WORK/copy-bytes.before"
        fi
        C[boff]+="$(time_it qemu-img convert -C -n -f raw -O raw "$B_URL/$((B_LUN0 + 1))" "$B_URL/$((B_LUN0 + 2))") "
        check_copy "offloaded copy via $B_LABEL" "$WORK/b-src.img" "$WORK/b-dst.img"
        if ((!B_AS_TGT)); then
            XCOPY_AFTER=$(metric_sum xtgt_commands_total 'opcode="EXTENDED_COPY')
            copy_bytes_by_method >"$WORK/copy-bytes.after"
            # bytes the copy engine moved during this -C run, by method
            join -a2 -e 0 -o 0,1.2,2.2 "$WORK/copy-bytes.before" "$WORK/copy-bytes.after" |
                awk '{ print $1, $3 - $2 }' >>"$WORK/copy-bytes.delta"
            if [[ $XCOPY_AFTER == "$XCOPY_BEFORE" ]]; then
                log "note: no EXTENDED COPY reached xtgt: qemu-img convert -C fell back to a host copy"
                OFFLOAD_FELL_BACK=1
            fi
        fi
        rm -f "$WORK/fs-dst.img"
        C[cp]+="$(time_it cp --reflink=never "$WORK/fs-src.img" "$WORK/fs-dst.img") "
        truncate -s "$COPY_BYTES" "$WORK/fs-dst.img"
        zero_file "$WORK/fs-dst.img"
        C[cfr]+="$(time_it cfr_copy "$WORK/fs-src.img" "$WORK/fs-dst.img") "
        check_copy "copy_file_range" "$WORK/fs-src.img" "$WORK/fs-dst.img"
    done
fi

# Report ---------------------------------------------------------------------

ELAPSED=$(awk -v a="$START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || a + 0 == 0) print "n/a"; else printf "%.2f\n", b / a }'; }
fmt() { awk -v v="$1" -v p="$2" 'BEGIN { if (v == "nan") print "n/a"; else printf "%." p "f\n", v }'; }

# pair_ratios "A samples" "B samples" -> B/A for each round
pair_ratios() {
    paste -d ' ' <(tr -s ' ' '\n' <<<"$1" | sed '/^$/d') <(tr -s ' ' '\n' <<<"$2" | sed '/^$/d') |
        awk '$1 != "nan" && $2 != "nan" && $1 + 0 != 0 { printf "%.4f\n", $2 / $1 }'
}

row() { # LABEL KEY DECIMALS
    local a b ratios r lo hi
    # shellcheck disable=SC2086
    a=$(median ${R[$2,A]})
    # shellcheck disable=SC2086
    b=$(median ${R[$2,B]})
    mapfile -t ratios < <(pair_ratios "${R[$2,A]}" "${R[$2,B]}" | sort -g)
    if ((${#ratios[@]})); then
        r=$(fmt "$(median "${ratios[@]}")" 2)
        lo=$(fmt "${ratios[0]}" 2)
        hi=$(fmt "${ratios[-1]}" 2)
    else
        r=n/a lo=n/a hi=n/a
    fi
    printf '| %s | %s | %s | %s | %s–%s |\n' "$1" "$(fmt "$a" "$3")" "$(fmt "$b" "$3")" "$r" "$lo" "$hi"
}

if ((TGT_TUNED)); then
    TGT_SEGMENTS="256 KiB data segments like xtgt (--tgt-tuned)"
else
    TGT_SEGMENTS="its default 8 KiB MaxRecvDataSegmentLength"
    ((B_AS_TGT)) || TGT_SEGMENTS+=" (xtgt offers 256 KiB)"
fi
FSTYPE=$(findmnt -n -o FSTYPE -T "$WORK" || stat -f -c %T "$WORK")
# XTGT_REV names the revision of a prebuilt --xtgt binary; otherwise the tree's HEAD
if [[ -z "${XTGT_REV:-}" ]]; then
    XTGT_REV=$(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
    # the tree others work in may hold uncommitted changes that the binary contains
    (cd "$REPO_DIR" && git diff --quiet HEAD -- . ':!conformance' 2>/dev/null) || XTGT_REV+="+uncommitted"
fi
if ((B_AS_TGT)); then
    B_WHAT="tgt#2 is a second tgt with the same settings: this table is the noise floor of the ratios"
else
    B_WHAT="xtgt at $XTGT_REV"
fi
{
    echo "## $B_LABEL vs tgt ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "Loopback 127.0.0.1, file LUNs of $LUN_SIZE with 512-byte blocks on $FSTYPE" \
        "(page cache warm), $(nproc) cores, kernel $(uname -r)." \
        "tgt $(tgtd -V 2>&1 | awk '{print $NF}'), $(qemu-img --version | head -n1)," \
        "$("$FIO" --version), $B_WHAT. Medians of $REPS rounds; in each" \
        "round both targets run each workload back to back (order alternating)," \
        "and the ratio is the median of those per-round ratios (range: lowest–highest)." \
        "tgt runs with $TGT_SEGMENTS."
    echo
    echo "| workload | tgt | $B_LABEL | ratio $B_LABEL/tgt | ratio range |"
    echo "|---|---:|---:|---:|---:|"
    row "1 MiB seq read QD16, MiB/s (qemu-img bench)" seqread 0
    row "1 MiB seq write QD16, MiB/s (qemu-img bench -w)" seqwrite 0
    row "4 KiB rand read QD32, IOPS (fio libiscsi, ${FIO_RUNTIME} s)" randread 0
    row "4 KiB rand read QD32, p99 latency ms (lower is better)" p99 2
    if ((COPY)); then
        echo
        echo "Copy of a $COPY_SIZE LUN to another LUN of the same target, seconds (lower is better):"
        echo
        echo "| copy | seconds |"
        echo "|---|---:|"
        # shellcheck disable=SC2086
        {
            printf '| host copy through tgt (qemu-img convert) | %s |\n' "$(fmt "$(median ${C[tgt]})" 3)"
            printf '| host copy through %s (qemu-img convert) | %s |\n' "$B_LABEL" "$(fmt "$(median ${C[b]})" 3)"
            printf '| offloaded copy in %s (qemu-img convert -C)%s | %s |\n' "$B_LABEL" \
                "${OFFLOAD_FELL_BACK:+ — fell back to host copy, no EXTENDED COPY seen}" \
                "$(fmt "$(median ${C[boff]})" 3)"
            printf '| backend: cp --reflink=never on %s (to a new file) | %s |\n' "$FSTYPE" "$(fmt "$(median ${C[cp]})" 3)"
            printf '| backend: copy_file_range on %s, in place, %s threads (physical limit) | %s |\n' \
                "$FSTYPE" "$(nproc)" "$(fmt "$(median ${C[cfr]})" 3)"
        }
        if [[ -s $WORK/copy-bytes.delta ]]; then
            echo
            echo "xtgt copy engine during the -C runs (\`xtgt_copy_bytes_total\` by method, MiB per run):" \
                "$(awk -v n="$REPS" '{ s[$1] += $2 } END { for (m in s) printf "%s%s %.0f", sep, m, s[m] / n / 1048576; sep = ", " }' "$WORK/copy-bytes.delta")."
        fi
        if ((${#COPY_BAD[@]})); then
            echo
            echo "Copies whose destination differed from the source: ${COPY_BAD[*]}."
        fi
    fi
    echo
    echo "Whole run: ${ELAPSED} s (\`conformance/bench/run.sh${ARGS:+ $ARGS}\`)."
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
log "results written to $OUT"
exit 0
}
