# Copy fairness benchmark (issue 9), sourced by run.sh --fairness after the
# work directory exists; uses run.sh's helpers (log, die, median, human_size,
# port_free, wait_port, start_tgt, metrics_text, PIDS, stop_pid, FIO) and
# odx_bench.py.
#
# Foreground: fio (libiscsi engine) 4 KiB random reads at queue depth 16 on
# one LU, FIO_RUNTIME seconds, p50/p99/p99.9 of the completion latency.
# Background, on two other LUs of the same file system (ext4 = the --dir file
# system, and a loop-mounted reflink XFS as root):
#   idle   - nothing
#   xcopy  - EXTENDED COPY of FAIR_COPY_SIZE (qemu-img convert -C), repeated
#            for as long as fio runs
#   odx    - the same with ODX (POPULATE TOKEN, RRTI, WRITE USING TOKENs of
#            64 MiB as Windows sends them; odx_bench.py loop, one pair of sessions for all copies)
# in rounds with the order rotating. Every copy is also timed alone (no fio)
# to give the copy's slowdown under foreground load.
# Then on ext4: 16 initiators (own names) x 8 sessions, each running
# EXTENDED COPY of FAIR_STORM_SIZE in a loop (qemu-img convert -C), one LU
# to another, while fio reads a third; xtgt's RSS before and
# at the end, every destination compared.
# Peer: tgt with the same three files, fio idle and while a host-side copy
# (qemu-img convert without -C) runs in a loop.
# The table goes to $OUT.
# One compound command, parsed before it runs (as run.sh).
{
FAIR_BENCH="python3 $SCRIPT_DIR/odx_bench.py"
# The copy initiators (qemu-img, odx_bench.py) stand for other hosts: on
# this box they share the CPUs with xtgt and fio, so they run at nice 19
# (FAIR_NICE= to run them at normal priority).
FAIR_NICE=${FAIR_NICE-nice -n 19}
# fio too stands for another host, and it polls (it keeps a CPU busy even
# at 10000 IOPS): at nice 19 its polling does not take CPU time from the
# target it measures (FAIR_FIO_NICE= for normal priority).
FAIR_FIO_NICE=${FAIR_FIO_NICE-nice -n 19}
# CPU partition (--fair-cpus): copy work on FAIR_CPUS (xtgt's copy.cpus,
# and the copy initiators), xtgt's other threads, fio and tgtd on the other
# CPUs, as an administrator would keep copy work off the CPUs that serve
# I/O. "none": nothing pinned.
read -r FAIR_CPUS FAIR_IO_CPUS < <(python3 - "${FAIR_CPUS:-auto}" <<'PY'
import os, sys
allowed = sorted(os.sched_getaffinity(0))
arg = sys.argv[1]
if arg == "none" or (arg == "auto" and len(allowed) < 2):
    print("none none")
    sys.exit()
copy = set()
if arg == "auto":
    copy.add(allowed[-1])
else:
    for part in arg.split(","):
        a, _, b = part.partition("-")
        copy.update(range(int(a), int(b or a) + 1))
io = [c for c in allowed if c not in copy]
if not io or not copy.issubset(allowed):
    sys.exit(f"--fair-cpus {arg}: needs CPUs of {allowed} and leaves at least one for the rest")
print(",".join(map(str, sorted(copy))), ",".join(map(str, io)))
PY
) || die "bad --fair-cpus"
if [[ $FAIR_CPUS == none ]]; then
    FAIR_COPY_PIN="" FAIR_IO_PIN=""
else
    FAIR_COPY_PIN="taskset -c $FAIR_CPUS" FAIR_IO_PIN="taskset -c $FAIR_IO_CPUS"
fi
FAIR_COPY_RUN="$FAIR_COPY_PIN $FAIR_NICE"
# the rate of the second, unsaturated fio run per load
FAIR_RATE=${FAIR_RATE:-10000}
FAIR_IQN=iqn.2026-12.com.example:bench-fair
FAIR_PORT=$XTGT_PORT
FAIR_COPY_BYTES=$(to_bytes "$FAIR_COPY_SIZE")
FAIR_STORM_BYTES=$(to_bytes "$FAIR_STORM_SIZE")
FG_BYTES=$LUN_BYTES
COPY_BAD=()

cp "$XTGT_BIN" "$WORK/xtgt.new" && mv "$WORK/xtgt.new" "$WORK/xtgt"
XTGT_BIN=$WORK/xtgt

# ---------------------------------------------------------------- files

# LUN layout of the one xtgt: per file system SIDE, lun 3*k = foreground,
# 3*k+1 = copy source, 3*k+2 = copy destination; then the storm LUs.
log "creating the ext4 LUN files (foreground $LUN_SIZE, copy $FAIR_COPY_SIZE x 2)"
head -c "$FG_BYTES" /dev/urandom >"$WORK/ext4-fg.img"
head -c "$FAIR_COPY_BYTES" /dev/urandom >"$WORK/ext4-src.img"
truncate -s "$FAIR_COPY_BYTES" "$WORK/ext4-dst.img"
FAIR_FILES=("$WORK/ext4-fg.img" "$WORK/ext4-src.img" "$WORK/ext4-dst.img")
FAIR_SIDES=(ext4)
FAIR_FS_EXT4=$(findmnt -n -o FSTYPE -T "$WORK" || stat -f -c %T "$WORK")

FAIR_XFS_NOTE=""
if [[ $(id -u) -ne 0 ]] || ! command -v mkfs.xfs >/dev/null || ! command -v losetup >/dev/null; then
    FAIR_XFS_NOTE="not run: needs root, mkfs.xfs and losetup"
else
    truncate -s $((2 * FAIR_COPY_BYTES + FG_BYTES + (512 << 20))) "$WORK/xfs.img"
    if mkfs.xfs -q -m reflink=1 "$WORK/xfs.img" >"$WORK/mkfs.log" 2>&1 &&
        mkdir -p "$WORK/xfs" && mount -o loop "$WORK/xfs.img" "$WORK/xfs" 2>>"$WORK/mkfs.log"; then
        ODX_MNT=$WORK/xfs # run.sh's cleanup unmounts it
        # Direct I/O from the loop device to its image: the XFS files'
        # pages are cached once (by XFS), not a second time as the image
        # file's pages on ext4, which would double the page cache this
        # benchmark needs and bring reclaim into its latencies.
        FAIR_LOOP=$(findmnt -n -o SOURCE "$ODX_MNT")
        losetup --direct-io=on "$FAIR_LOOP" 2>>"$WORK/mkfs.log" ||
            log "$FAIR_LOOP stays buffered: $(tail -n1 "$WORK/mkfs.log")"
        log "XFS (reflink) loop-mounted at $ODX_MNT ($FAIR_LOOP, direct I/O: $(cat "/sys/block/${FAIR_LOOP#/dev/}/loop/dio" 2>/dev/null))"
        cp --reflink=never "$WORK/ext4-fg.img" "$ODX_MNT/xfs-fg.img"
        cp --reflink=never "$WORK/ext4-src.img" "$ODX_MNT/xfs-src.img"
        truncate -s "$FAIR_COPY_BYTES" "$ODX_MNT/xfs-dst.img"
        FAIR_FILES+=("$ODX_MNT/xfs-fg.img" "$ODX_MNT/xfs-src.img" "$ODX_MNT/xfs-dst.img")
        FAIR_SIDES+=(xfs)
    else
        FAIR_XFS_NOTE="not run: $(tail -n1 "$WORK/mkfs.log")"
    fi
fi
[[ -z $FAIR_XFS_NOTE ]] || log "XFS part $FAIR_XFS_NOTE"

FAIR_STORM_LUN=${#FAIR_FILES[@]}
head -c "$FAIR_STORM_BYTES" /dev/urandom >"$WORK/storm-src.img"
truncate -s "$FAIR_STORM_BYTES" "$WORK/storm-dst.img"
FAIR_FILES+=("$WORK/storm-src.img" "$WORK/storm-dst.img")

# ---------------------------------------------------------------- xtgt

{
    printf '[server]\nlisten = ["127.0.0.1:%s"]\nmetrics_listen = "127.0.0.1:%s"\n' \
        "$FAIR_PORT" "$XTGT_METRICS_PORT"
    [[ $FAIR_CPUS == none ]] || printf '\n[copy]\ncpus = "%s"\n' "$FAIR_CPUS"
    printf '\n[[targets]]\niqn = "%s"\n' "$FAIR_IQN"
    lun=0
    for f in "${FAIR_FILES[@]}"; do
        printf '\n[[targets.luns]]\nlun = %d\nbackend = "file"\npath = "%s"\nsize = "%s"\nblock_size = 512\n' \
            "$lun" "$f" "$(human_size "$(stat -c %s "$f")")"
        lun=$((lun + 1))
    done
} >"$WORK/fair.toml"
port_free "$FAIR_PORT" || die "port $FAIR_PORT is in use"
RUST_LOG=${RUST_LOG:-warn} "$XTGT_BIN" --config "$WORK/fair.toml" >"$WORK/fair.log" 2>&1 &
FAIR_PID=$!
PIDS+=("$FAIR_PID")
wait_port "$FAIR_PORT" "$FAIR_PID" fair
log "xtgt pid $FAIR_PID on 127.0.0.1:$FAIR_PORT"
FAIR_URL=iscsi://127.0.0.1:$FAIR_PORT/$FAIR_IQN

side_lun() { # SIDE ROLE(0 fg, 1 src, 2 dst) -> LUN
    local k=0
    [[ $1 == ext4 ]] || k=1
    echo $((3 * k + $2))
}

# fio_lat URL BYTES [RATE] -> "p50_us p99_us p999_us iops"; with RATE,
# fio asks for at most RATE IOPS (the foreground no longer saturates the
# CPUs, so its latency shows what it waits behind, not lost CPU time)
fio_lat() {
    local url=${1//:/\\:} json=$WORK/fio-fair.json
    $FAIR_IO_PIN $FAIR_FIO_NICE "$FIO" --name=fg --ioengine=libiscsi --filename="$url" ${3:+--rate_iops=$3} \
        --rw=randread --bs=4k --iodepth=16 --runtime="$FIO_RUNTIME" --time_based \
        --size="$2" --percentile_list=50:99:99.9 \
        --output-format=json --output="$json" >"$WORK/fio.err" 2>&1 ||
        { log "fio failed: $(tail -n3 "$WORK/fio.err")"; echo "nan nan nan nan"; return; }
    jq -r '.jobs[0].read | "\(.clat_ns.percentile["50.000000"] / 1e3) \(.clat_ns.percentile["99.000000"] / 1e3) \(.clat_ns.percentile["99.900000"] / 1e3) \(.iops)"' "$json"
}

# one_copy METHOD SRC_LUN DST_LUN BYTES -> seconds (or nan)
one_copy() {
    local t0=$EPOCHREALTIME json
    case $1 in
    xcopy)
        $FAIR_COPY_RUN qemu-img convert -C -n -f raw -O raw "$FAIR_URL/$2" "$FAIR_URL/$3" >>"$WORK/copy.log" 2>&1 ||
            { echo nan; return; }
        ;;
    storm)
        # one session of one of the storm's initiators (its own name). Not
        # -m 8 -W: QEMU gives every EXTENDED COPY list id 1, so parallel
        # copies on one session collide (0x00/0x16, as SPC-5 says) and
        # qemu-img falls back to READ/WRITE; parallel sessions do not.
        local o="driver=iscsi,transport=tcp,portal=127.0.0.1:$FAIR_PORT,target=$FAIR_IQN,initiator-name=$FAIR_INITIATOR"
        $FAIR_COPY_RUN qemu-img convert -C -n --image-opts "$o,lun=$2" --target-image-opts "$o,lun=$3" \
            >>"$WORK/copy.log" 2>&1 || { echo nan; return; }
        ;;
    host)
        $FAIR_COPY_RUN qemu-img convert -n -f raw -O raw "$TGT_URL/$2" "$TGT_URL/$3" >>"$WORK/copy.log" 2>&1 ||
            { echo nan; return; }
        ;;
    odx)
        json=$($FAIR_COPY_RUN $FAIR_BENCH copy "127.0.0.1:$FAIR_PORT" "iqn.2026-12.com.example:fair-src@$FAIR_IQN/$2" \
            "iqn.2026-12.com.example:fair-dst@$FAIR_IQN/$3" $(($4 / 512)) windows 2>>"$WORK/copy.log") ||
            { echo nan; return; }
        jq -r .seconds <<<"$json"
        return
        ;;
    esac
    awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", b - a }'
}

# copy_loop METHOD SRC DST BYTES STOPFILE OUTFILE: copies until STOPFILE
# exists (at least one), one duration per line into OUTFILE. ODX copies
# stay on one pair of sessions, as a Windows host does (a new process and
# login per copy would be most of the load when a copy takes 10 ms).
copy_loop() {
    : >"$6"
    if [[ $1 == odx ]]; then
        $FAIR_COPY_RUN $FAIR_BENCH loop "127.0.0.1:$FAIR_PORT" "iqn.2026-12.com.example:fair-src@$FAIR_IQN/$2" \
            "iqn.2026-12.com.example:fair-dst@$FAIR_IQN/$3" $(($4 / 512)) windows "$5" 2>>"$WORK/copy.log" |
            grep -E '^[0-9.]+$' >>"$6" || true
        return
    fi
    while :; do
        one_copy "$1" "$2" "$3" "$4" >>"$6"
        [[ -e $5 ]] && break
    done
}

declare -A FL # FL[side,load] = "p50 p99 p999 iops" per round, "|"-separated
declare -A FR # FR[side,load] = the same at FAIR_RATE IOPS
declare -A FC # FC[side,method,unl|rate|idle] = copy seconds, space-separated
declare -A FN # FN[side,method,unl|rate] = copies completed beside fio, per round

# loaded_fio SIDE LOAD MODE URL SRC DST: one fio run on URL (MODE unl:
# unlimited, rate: at FAIR_RATE IOPS) with LOAD's copy loop from SRC to
# DST beside it (a loop of its own per fio run: each copy time belongs to
# one fio mode); prints fio's "p50 p99 p999 iops"
loaded_fio() {
    local side=$1 load=$2 mode=$3 stop=$WORK/stop.$1.$2 out=$WORK/copies.$1.$2 lpid r
    rm -f "$stop"
    if [[ $load != idle ]]; then
        copy_loop "$load" "$5" "$6" "$FAIR_COPY_BYTES" "$stop" "$out" &
        lpid=$!
        sleep 0.5 # let the first copy start
    fi
    if [[ $mode == unl ]]; then r=$(fio_lat "$4" "$FG_BYTES"); else r=$(fio_lat "$4" "$FG_BYTES" "$FAIR_RATE"); fi
    if [[ $load != idle ]]; then
        touch "$stop"
        wait "$lpid"
        sync # the copies' writeback is not the next run's load
        FC[$side,$load,$mode]+="$(tr '\n' ' ' <"$out")"
        FN[$side,$load,$mode]+="$(grep -c . "$out") "
    fi
    echo "$r"
}

# fair_run SIDE LOAD: the two fio runs on SIDE's foreground LU with LOAD beside them
fair_run() {
    local side=$1 load=$2 fg src dst r rr
    fg=$(side_lun "$side" 0) src=$(side_lun "$side" 1) dst=$(side_lun "$side" 2)
    # (not in $(...): the copy times must reach FC in this shell)
    loaded_fio "$side" "$load" unl "$FAIR_URL/$fg" "$src" "$dst" >"$WORK/fio-line"
    r=$(<"$WORK/fio-line")
    FL[$side,$load]+="$r|"
    loaded_fio "$side" "$load" rate "$FAIR_URL/$fg" "$src" "$dst" >"$WORK/fio-line"
    rr=$(<"$WORK/fio-line")
    FR[$side,$load]+="$rr|"
    if [[ $load != idle ]] && ! cmp -s "${FAIR_FILES[src]}" "${FAIR_FILES[dst]}"; then
        COPY_BAD+=("$load on $side")
    fi
    log "  $side $load: fio p50/p99/p99.9 µs, IOPS: $r; at $FAIR_RATE IOPS: $rr"
}

# copies_alone SIDE METHOD N: N copies with nothing else running
copies_alone() {
    local i s
    for i in $(seq "$3"); do
        s=$(one_copy "$2" "$(side_lun "$1" 1)" "$(side_lun "$1" 2)" "$FAIR_COPY_BYTES")
        FC[$1,$2,idle]+="$s "
    done
    sync
}

FAIR_LOADS=(idle xcopy odx)
# The LUN files were just written (about 20 GiB): their writeback is not
# round 1's load.
sync
for rep in $(seq "$REPS"); do
    log "fairness round $rep/$REPS"
    cat "${FAIR_FILES[@]}" >/dev/null # warm the page cache
    k=$(((rep - 1) % ${#FAIR_LOADS[@]}))
    order=("${FAIR_LOADS[@]:k}" "${FAIR_LOADS[@]:0:k}")
    for side in "${FAIR_SIDES[@]}"; do
        for load in "${order[@]}"; do fair_run "$side" "$load"; done
        copies_alone "$side" xcopy 2
        copies_alone "$side" odx 2
        log "  $side alone: xcopy ${FC[$side,xcopy,idle]}s, odx ${FC[$side,odx,idle]}s"
    done
done

# ---------------------------------------------------------------- storm

FAIR_STORM_N=${FAIR_STORM_N:-16}
FAIR_STORM_PER=${FAIR_STORM_PER:-8}
log "storm: $FAIR_STORM_N initiators x $FAIR_STORM_PER sessions, one EXTENDED COPY in flight each, $FAIR_STORM_SIZE copies in a loop, fio on the ext4 foreground LU"
rss() { awk '/^VmRSS/ {print $2}' "/proc/$FAIR_PID/status"; }
# what reached xtgt as offload and as plain I/O (a refused EXTENDED COPY
# makes qemu-img fall back to READ/WRITE silently)
storm_counters() {
    echo "$(metric_sum xtgt_copy_bytes_total 'command="xcopy"') $(metric_sum xtgt_commands_total 'opcode="WRITE_10"') $(metric_sum xtgt_commands_total 'opcode="EXTENDED_COPY"')"
}
read -r STORM_XB0 STORM_W0 STORM_X0 <<<"$(storm_counters)"
STORM_RSS0=$(rss)
STORM_RSS_MAX=$STORM_RSS0
rm -f "$WORK/stop.storm"
SPIDS=()
for i in $(seq "$FAIR_STORM_N"); do
    for j in $(seq "$FAIR_STORM_PER"); do
        FAIR_INITIATOR=iqn.2026-12.com.example:storm-$i copy_loop storm "$FAIR_STORM_LUN" $((FAIR_STORM_LUN + 1)) \
            "$FAIR_STORM_BYTES" "$WORK/stop.storm" "$WORK/storm.$i.$j" &
        SPIDS+=($!)
    done
done
(
    while [[ ! -e $WORK/stop.storm ]]; do rss >>"$WORK/storm.rss"; sleep 0.2; done
) &
RSS_PID=$!
sleep 1
STORM_FIO=$(fio_lat "$FAIR_URL/$(side_lun ext4 0)" "$FG_BYTES")
STORM_FIO_R=$(fio_lat "$FAIR_URL/$(side_lun ext4 0)" "$FG_BYTES" "$FAIR_RATE")
touch "$WORK/stop.storm"
wait "${SPIDS[@]}" "$RSS_PID"
STORM_RSS_MAX=$(sort -n "$WORK/storm.rss" | tail -n1)
STORM_DONE=$(cat "$WORK"/storm.[0-9]* | grep -vc nan || true)
STORM_FAILED=$(cat "$WORK"/storm.[0-9]* | grep -c nan || true)
cmp -s "$WORK/storm-src.img" "$WORK/storm-dst.img" || COPY_BAD+=("storm")
log "storm: fio $STORM_FIO; copies done $STORM_DONE, failed $STORM_FAILED; RSS $STORM_RSS0 -> max $STORM_RSS_MAX KiB"
read -r STORM_XB1 STORM_W1 STORM_X1 <<<"$(storm_counters)"
STORM_OFFLOAD="EXTENDED COPY commands $(awk -v a="$STORM_X0" -v b="$STORM_X1" 'BEGIN { printf "%d", b - a }'), bytes copied by them $(awk -v a="$STORM_XB0" -v b="$STORM_XB1" 'BEGIN { printf "%.0f MiB", (b - a) / 1048576 }'), WRITE(10) commands (qemu-img's fallback after a refused copy) $(awk -v a="$STORM_W0" -v b="$STORM_W1" 'BEGIN { printf "%d", b - a }')"
log "storm: $STORM_OFFLOAD"
sync
STORM_IDLE=$(fio_lat "$FAIR_URL/$(side_lun ext4 0)" "$FG_BYTES")
STORM_IDLE_R=$(fio_lat "$FAIR_URL/$(side_lun ext4 0)" "$FG_BYTES" "$FAIR_RATE")
log "storm: fio after it, idle: $STORM_IDLE"
metrics_text >"$WORK/fair-metrics.txt"
stop_pid "$FAIR_PID"

# ---------------------------------------------------------------- tgt peer

TGT_WRAP=$FAIR_IO_PIN start_tgt tgt "$TGT_PORT" "$FAIR_IQN" "$WORK/ext4-fg.img" "$WORK/ext4-src.img" "$WORK/ext4-dst.img"
TGT_URL=iscsi://127.0.0.1:$TGT_PORT/$FAIR_IQN
declare -A TL TR
for rep in $(seq "$REPS"); do
    log "tgt round $rep/$REPS"
    for load in idle host; do
        loaded_fio tgt "$load" unl "$TGT_URL/1" 2 3 >"$WORK/fio-line"
        r=$(<"$WORK/fio-line")
        TL[$load]+="$r|"
        loaded_fio tgt "$load" rate "$TGT_URL/1" 2 3 >"$WORK/fio-line"
        rr=$(<"$WORK/fio-line")
        TR[$load]+="$rr|"
        log "  tgt $load: fio p50/p99/p99.9 µs, IOPS: $r; at $FAIR_RATE IOPS: $rr"
    done
    FC[tgt,host,idle]+="$(one_copy host 2 3 "$FAIR_COPY_BYTES") "
    sync
done
stop_pid "${PIDS[-1]}"

# ---------------------------------------------------------------- report

ELAPSED=$(awk -v a="$START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
# col SAMPLES N -> median of field N over "|"-separated records
# (one value per argument: quoted, the whole list was one argument and
# "the median" was the first round's value)
# shellcheck disable=SC2046 # the values are words
col() { median $(tr '|' '\n' <<<"$1" | awk -v n="$2" 'NF { print $n }'); }
f1() { awk -v v="$1" 'BEGIN { if (v == "nan" || v == "") print "n/a"; else printf "%.0f\n", v }'; }
f3() { awk -v v="$1" 'BEGIN { if (v == "nan" || v == "") print "n/a"; else printf "%.3f\n", v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "nan") printf "%.2f\n", a / b; else print "n/a" }'; }
# shellcheck disable=SC2086
medcopy() { median $(tr ' ' '\n' <<<"$1" | grep -v '^nan$' | tr '\n' ' '); }
XTGT_REV=${XTGT_REV:-$(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null || echo unknown)}
{
    echo "## Copy fairness ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "xtgt at $XTGT_REV, loopback 127.0.0.1, file LUNs with 512-byte blocks, $(nproc) cores, kernel $(uname -r)," \
        "$(qemu-img --version | head -n1). Foreground: fio (libiscsi) 4 KiB random reads, queue depth 16," \
        "${FIO_RUNTIME} s, on a $LUN_SIZE LU; completion latency percentiles, median over $REPS rounds" \
        "(load order rotating). Background: copies of $FAIR_COPY_SIZE between two other LUs on the same" \
        "file system, one after the other for as long as fio runs; EXTENDED COPY = \`qemu-img convert -C\`," \
        "ODX = POPULATE TOKEN + RRTI + WRITE USING TOKENs of 64 MiB (\`odx_bench.py loop\`: one pair of sessions for the whole loop, as a host that stays logged in; the copies timed alone use a session each, login not timed). Page cache warm." \
        "Each load gets two fio runs: unlimited (the foreground then takes all the CPU time it is given, so its latency mostly" \
        "follows the CPU time left to it) and at $FAIR_RATE IOPS (the latency shows what a read waits" \
        "behind); each fio run has a copy loop of its own, and the copy speed is the median copy time alone" \
        "over the median beside that fio run. The copy initiators and fio, which stand for other hosts, run at" \
        "\`${FAIR_NICE:-normal priority}\` and \`${FAIR_FIO_NICE:-normal priority}\`;" \
        "\`sync\` after each loop keeps one load's writeback out of the next run." \
        "$(if [[ $FAIR_CPUS == none ]]; then echo "Nothing pinned: every thread on every CPU."; else
            echo "CPUs: copy work on CPU $FAIR_CPUS (xtgt's \`copy.cpus = \"$FAIR_CPUS\"\`, and the copy initiators);" \
                "xtgt's other threads, fio and tgtd on CPU $FAIR_IO_CPUS (\`--fair-cpus $FAIR_CPUS\`)."; fi)"
    echo
    echo "| file system | background | p50 µs | p99 µs | p99.9 µs | IOPS | p99 / idle p99 | copy speed / alone | at $FAIR_RATE IOPS: p50 / p99 / p99.9 µs | p99 / idle p99 at $FAIR_RATE IOPS | copy speed / alone at $FAIR_RATE IOPS | copy s alone |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    # speed SIDE METHOD MODE -> "alone/with (median s with, N copies)"
    speed() {
        local w a n
        w=$(medcopy "${FC[$1,$2,$3]}") a=$(medcopy "${FC[$1,$2,idle]}")
        n=$(awk '{ for (i = 1; i <= NF; i++) s += $i } END { print s + 0 }' <<<"${FN[$1,$2,$3]:-}")
        echo "$(ratio "$a" "$w") ($(f3 "$w") s, $n copies)"
    }
    # row LABEL WHAT FL-RECORDS FR-RECORDS IDLE99 RIDLE99 SIDE METHOD
    row() {
        local s=$3 rs=$4 p99 cu="" cr="" ca=""
        p99=$(col "$s" 2)
        if [[ -n $8 ]]; then cu=$(speed "$7" "$8" unl) cr=$(speed "$7" "$8" rate) ca=$(f3 "$(medcopy "${FC[$7,$8,idle]}")"); fi
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" \
            "$(f1 "$(col "$s" 1)")" "$(f1 "$p99")" "$(f1 "$(col "$s" 3)")" "$(f1 "$(col "$s" 4)")" \
            "$(ratio "$p99" "$5")" "$cu" \
            "$(f1 "$(col "$rs" 1)") / $(f1 "$(col "$rs" 2)") / $(f1 "$(col "$rs" 3)")" \
            "$(ratio "$(col "$rs" 2)" "$6")" "$cr" "$ca"
    }
    for side in "${FAIR_SIDES[@]}"; do
        if [[ $side == ext4 ]]; then label=$FAIR_FS_EXT4; else label="XFS (reflink, loop)"; fi
        idle99=$(col "${FL[$side,idle]}" 2)
        ridle99=$(col "${FR[$side,idle]}" 2)
        for load in "${FAIR_LOADS[@]}"; do
            case $load in
            idle) row "$label" "none (idle)" "${FL[$side,idle]}" "${FR[$side,idle]}" "$idle99" "$ridle99" "" "" ;;
            xcopy) row "$label" "EXTENDED COPY loop" "${FL[$side,xcopy]}" "${FR[$side,xcopy]}" "$idle99" "$ridle99" "$side" xcopy ;;
            odx) row "$label" "ODX copy loop" "${FL[$side,odx]}" "${FR[$side,odx]}" "$idle99" "$ridle99" "$side" odx ;;
            esac
        done
    done
    idle99=$(col "${TL[idle]}" 2)
    ridle99=$(col "${TR[idle]}" 2)
    row "tgt (peer), $FAIR_FS_EXT4" "none (idle)" "${TL[idle]}" "${TR[idle]}" "$idle99" "$ridle99" "" ""
    row "tgt (peer), $FAIR_FS_EXT4" "host copy loop (qemu-img convert, no offload)" "${TL[host]}" "${TR[host]}" "$idle99" "$ridle99" tgt host
    echo
    echo "### $FAIR_STORM_N initiators copying, one reading"
    echo
    fmt4() { read -r a b c d <<<"$1"; echo "$(f1 "$a") / $(f1 "$b") / $(f1 "$c") µs, $(f1 "$d") IOPS"; }
    echo "$FAIR_STORM_N initiators (own initiator names), each with $FAIR_STORM_PER sessions copying $FAIR_STORM_SIZE with" \
        "EXTENDED COPY (\`qemu-img convert -C\`, one copy command in flight per session, so $((FAIR_STORM_N * FAIR_STORM_PER)) at once;" \
        "one LU to another, $FAIR_FS_EXT4) in a loop" \
        "while a 17th did the fio reads above: p50 / p99 / p99.9 **$(fmt4 "$STORM_FIO")** (idle right after:" \
        "$(fmt4 "$STORM_IDLE"); p99 ratio $(ratio "$(awk '{print $2}' <<<"$STORM_FIO")" "$(awk '{print $2}' <<<"$STORM_IDLE")")); at $FAIR_RATE IOPS" \
        "**$(fmt4 "$STORM_FIO_R")** (idle: $(fmt4 "$STORM_IDLE_R"); p99 ratio $(ratio "$(awk '{print $2}' <<<"$STORM_FIO_R")" "$(awk '{print $2}' <<<"$STORM_IDLE_R")")). Copies" \
        "completed $STORM_DONE, failed (refused or aborted) $STORM_FAILED. xtgt VmRSS $STORM_RSS0 KiB before," \
        "at most $STORM_RSS_MAX KiB during (+$(((STORM_RSS_MAX - STORM_RSS0) / 1024)) MiB). xtgt counted: $STORM_OFFLOAD."
    echo
    if ((${#COPY_BAD[@]})); then
        echo "Destinations that differed from their source: ${COPY_BAD[*]}."
    else
        echo "Every destination equalled its source after each loop."
    fi
    [[ -z $FAIR_XFS_NOTE ]] || echo "XFS part $FAIR_XFS_NOTE."
    echo
    echo "Whole run: ${ELAPSED} s (\`conformance/bench/run.sh${ARGS:+ $ARGS}\`)."
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
log "results written to $OUT"
}
