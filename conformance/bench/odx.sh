# ODX benchmarks (issue 8), sourced by run.sh --odx after the work directory
# exists; uses run.sh's helpers (log, die, median, time_it, cfr_copy,
# zero_file, check_copy, metrics_text, PIDS, stop_pid) and odx_bench.py.
#
# 1. A COPY_SIZE LU -> LU copy on ext4 (the --dir file system: change-
#    vulnerable tokens, copy_file_range or emulation) and on XFS (a
#    loop-mounted reflink image: point-in-time tokens, FICLONERANGE), each
#    timed as the Windows sequence (POPULATE TOKEN, RRTI, WRITE USING TOKEN
#    repeated with OFFSET INTO ROD advanced after each COPY ABORTED
#    0x0D/0x04 until GOOD), against the backend's own copy on the same file
#    system, a host copy through xtgt (qemu-img convert) and EXTENDED COPY
#    (qemu-img convert -C). REPS rounds, the method order rotating; every
#    destination is compared with its source.
# 2. Token store scale: POPULATE TOKEN and WRITE USING TOKEN latency
#    (median, p99) with 1 live token and with ODX_TOKENS more, and xtgt's
#    VmRSS before and after creating them.
# The table goes to $OUT.

# One compound command, parsed before it runs (as run.sh): editing this file
# during a run does not derail the run.
{
ODX_BENCH="python3 $SCRIPT_DIR/odx_bench.py"
ODX_PORT=$XTGT_PORT
# the second xtgt of the token store comparison
ODX_PORT_N=$((XTGT_PORT + 3))
ODX_METRICS_PORT_N=$((XTGT_METRICS_PORT + 3))
ODX_IQN=iqn.2026-11.com.example:bench-odx
ODX_INIT_SRC=iqn.2026-11.com.example:odx-host1
ODX_INIT_DST=iqn.2026-11.com.example:odx-host2
COPY_BLOCKS=$((COPY_BYTES / 512))
COPY_BAD=()

# The binary run is a private copy (others may rebuild target/release).
cp "$XTGT_BIN" "$WORK/xtgt.new" && mv "$WORK/xtgt.new" "$WORK/xtgt"
XTGT_BIN=$WORK/xtgt

# odx_config NAME PORT METRICS_PORT ODX_KEYS FILE... : an xtgt config, one
# file LUN per FILE (absolute paths), LUNs numbered from 0.
odx_config() {
    local name=$1 port=$2 mport=$3 keys=$4 lun=0 f
    shift 4
    {
        printf '[server]\nlisten = ["127.0.0.1:%s"]\nmetrics_listen = "127.0.0.1:%s"\n' \
            "$port" "$mport"
        printf '\n[odx]\n%s\n' "$keys"
        printf '\n[[targets]]\niqn = "%s"\n' "$ODX_IQN"
        for f in "$@"; do
            printf '\n[[targets.luns]]\nlun = %d\nbackend = "file"\npath = "%s"\nsize = "%s"\nblock_size = 512\n' \
                "$lun" "$f" "$(human_size "$(stat -c %s "$f")")"
            lun=$((lun + 1))
        done
    } >"$WORK/$name.toml"
}

# odx_start NAME PORT: start xtgt with $WORK/NAME.toml; ODX_PID is its pid
odx_start() {
    port_free "$2" || die "port $2 is in use"
    RUST_LOG=${RUST_LOG:-warn} "$XTGT_BIN" --config "$WORK/$1.toml" >"$WORK/$1.log" 2>&1 &
    ODX_PID=$!
    PIDS+=("$ODX_PID")
    wait_port "$2" "$ODX_PID" "$1"
    log "$1: xtgt pid $ODX_PID on 127.0.0.1:$2"
}

# odx_metric NAME FILTER: sum of the samples of NAME whose line contains
# FILTER; dies when /metrics cannot be read (an unread counter is no 0).
odx_metric() {
    local text
    text=$(metrics_text)
    grep -q '^# TYPE xtgt_' <<<"$text" || die "xtgt /metrics unreadable on 127.0.0.1:$XTGT_METRICS_PORT"
    awk -v n="$1" -v f="$2" '{ name = $1; sub(/\{.*/, "", name) }
        name == n && index($0, f) { s += $NF } END { printf "%.0f\n", s }' <<<"$text"
}

who() { echo "$1@$ODX_IQN/$2"; } # INITIATOR LUN
last() { awk '{print $NF}' <<<"$1"; }

# ---------------------------------------------------------------- files

log "creating the ext4 LUN files ($COPY_SIZE each)"
ODX_FS_EXT4=$(findmnt -n -o FSTYPE -T "$WORK" || stat -f -c %T "$WORK")
head -c "$COPY_BYTES" /dev/urandom >"$WORK/ext4-src.img"
truncate -s "$COPY_BYTES" "$WORK/ext4-dst.img" "$WORK/ext4-fs-dst.img"
ODX_FILES=("$WORK/ext4-src.img" "$WORK/ext4-dst.img")
ODX_SIDES=(ext4)

ODX_XFS_NOTE=""
if [[ $(id -u) -ne 0 ]] || ! command -v mkfs.xfs >/dev/null || ! command -v losetup >/dev/null; then
    ODX_XFS_NOTE="not run: needs root, mkfs.xfs and losetup"
else
    # src + dst + the backend copy's destination, data written for real
    truncate -s $((3 * COPY_BYTES + (512 << 20))) "$WORK/xfs.img"
    if mkfs.xfs -q -m reflink=1 "$WORK/xfs.img" >"$WORK/mkfs.log" 2>&1 &&
        mkdir -p "$WORK/xfs" && mount -o loop "$WORK/xfs.img" "$WORK/xfs" 2>>"$WORK/mkfs.log"; then
        ODX_MNT=$WORK/xfs
        log "XFS (reflink) loop-mounted at $ODX_MNT"
        cp --reflink=never "$WORK/ext4-src.img" "$ODX_MNT/xfs-src.img"
        truncate -s "$COPY_BYTES" "$ODX_MNT/xfs-dst.img"
        ODX_FILES+=("$ODX_MNT/xfs-src.img" "$ODX_MNT/xfs-dst.img")
        ODX_SIDES+=(xfs)
    else
        ODX_XFS_NOTE="not run: $(tail -n1 "$WORK/mkfs.log")"
    fi
fi
[[ -z $ODX_XFS_NOTE ]] || log "XFS part $ODX_XFS_NOTE"

# ---------------------------------------------------------------- copies

# default [odx] keys: the WRITE USING TOKEN budget is the default 1000 ms
odx_config odx-copy "$ODX_PORT" "$XTGT_METRICS_PORT" "# defaults" "${ODX_FILES[@]}"
odx_start odx-copy "$ODX_PORT"
ODX_URL=iscsi://127.0.0.1:$ODX_PORT/$ODX_IQN

declare -A OC     # OC[side,method] = seconds per round
declare -A OWUT   # OWUT[side,odx|odxw] = "wuts/partials/longest" per round
declare -A OBYTES # OBYTES[side,odx|odxw] = copy engine bytes by method during the ODX copies
declare -A OCHUNK # OCHUNK[odx|odxw] = blocks per WRITE USING TOKEN
ODX_XCOPY_FELL_BACK=""

# odx_copy SIDE METHOD: one timed copy of SIDE's source LU to its
# destination LU (or, for "backend", of the source file to a plain file)
odx_copy() {
    local side=$1 method=$2 i=0 src dst json secs before after n0 n1 b0 b1
    [[ $side == ext4 ]] || i=2
    src=${ODX_FILES[i]} dst=${ODX_FILES[i + 1]}
    case $method in
    odx | odxw)
        zero_file "$dst"
        sync
        n0=$(odx_metric xtgt_copy_bytes_total 'method="native",command="wut"')
        b0=$(odx_metric xtgt_copy_bytes_total 'method="emulated",command="wut"')
        json=$($ODX_BENCH copy "127.0.0.1:$ODX_PORT" "$(who "$ODX_INIT_SRC" "$i")" \
            "$(who "$ODX_INIT_DST" $((i + 1)))" "$COPY_BLOCKS" "$([[ $method == odx ]] && echo 0 || echo windows)" \
            2>>"$WORK/copy.log") ||
            { log "ODX copy ($method) on $side failed: $(tail -n1 "$WORK/copy.log")"; json=""; }
        n1=$(odx_metric xtgt_copy_bytes_total 'method="native",command="wut"')
        b1=$(odx_metric xtgt_copy_bytes_total 'method="emulated",command="wut"')
        OBYTES[$side,$method]+="native $(((n1 - n0) >> 20)) MiB + emulated $(((b1 - b0) >> 20)) MiB|"
        if [[ -n $json ]]; then
            secs=$(jq -r .seconds <<<"$json")
            OWUT[$side,$method]+="$(jq -r '"\(.wuts)/\(.partials)/\(.longest_wut)"' <<<"$json") "
            OCHUNK[$method]=$(jq -r .chunk_blocks <<<"$json")
        else
            secs=nan
            COPY_BAD+=("ODX copy ($method) on $side (failed)")
        fi
        check_copy "ODX copy ($method) on $side" "$src" "$dst"
        ;;
    host)
        zero_file "$dst"
        secs=$(time_it qemu-img convert -n -f raw -O raw "$ODX_URL/$i" "$ODX_URL/$((i + 1))")
        check_copy "host copy on $side" "$src" "$dst"
        ;;
    xcopy)
        zero_file "$dst"
        before=$(odx_metric xtgt_commands_total 'opcode="EXTENDED_COPY')
        secs=$(time_it qemu-img convert -C -n -f raw -O raw "$ODX_URL/$i" "$ODX_URL/$((i + 1))")
        after=$(odx_metric xtgt_commands_total 'opcode="EXTENDED_COPY')
        [[ $after != "$before" ]] || ODX_XCOPY_FELL_BACK+=" $side"
        check_copy "EXTENDED COPY on $side" "$src" "$dst"
        ;;
    backend)
        if [[ $side == ext4 ]]; then
            dst=$WORK/ext4-fs-dst.img
            zero_file "$dst"
            secs=$(time_it cfr_copy "$src" "$dst")
        else
            dst=$ODX_MNT/xfs-fs-dst.img
            rm -f "$dst"
            secs=$(time_it cp --reflink=always "$src" "$dst")
        fi
        check_copy "backend copy on $side" "$src" "$dst"
        ;;
    esac
    OC[$side,$method]+="$secs "
}

ODX_METHODS=(odx odxw host xcopy backend)
for rep in $(seq "$REPS"); do
    log "ODX copy round $rep/$REPS"
    cat "${ODX_FILES[@]}" >/dev/null # warm page cache
    # rotate the method order from round to round
    k=$(((rep - 1) % ${#ODX_METHODS[@]}))
    order=("${ODX_METHODS[@]:k}" "${ODX_METHODS[@]:0:k}")
    for side in "${ODX_SIDES[@]}"; do
        for m in "${order[@]}"; do odx_copy "$side" "$m"; done
        log "  $side: odx $(last "${OC[$side,odx]}") s (WUTs/short/longest $(last "${OWUT[$side,odx]:-n/a}"))," \
            "odx in Windows' WUTs $(last "${OC[$side,odxw]}") s ($(last "${OWUT[$side,odxw]:-n/a}"))," \
            "host $(last "${OC[$side,host]}") s, xcopy $(last "${OC[$side,xcopy]}") s, backend $(last "${OC[$side,backend]}") s"
    done
done
stop_pid "$ODX_PID"

# ---------------------------------------------------------------- token store

# Two xtgts serving the same LUs (the source read-only: POPULATE TOKEN
# reads nothing, WRITE USING TOKEN writes the destinations, one file each):
# odx-scale-1 keeps 1 live token, odx-scale-n gets ODX_TOKENS more; both
# are measured alternately. Enough room for the tokens, all from one
# initiator, kept for the run.
ODX_ROOM=$((ODX_TOKENS + ODX_HELD + 4 * ODX_SAMPLES + 1024))
ODX_SCALE_KEYS=$(printf 'max_live_tokens = %d\nmax_tokens_per_initiator = %d\nmax_inactivity_timeout_secs = 3600' \
    "$ODX_ROOM" "$ODX_ROOM")
odx_config odx-scale-1 "$ODX_PORT" "$XTGT_METRICS_PORT" "$ODX_SCALE_KEYS" "$WORK/ext4-src.img" "$WORK/ext4-dst.img"
odx_config odx-scale-n "$ODX_PORT_N" "$ODX_METRICS_PORT_N" "$ODX_SCALE_KEYS" "$WORK/ext4-src.img" "$WORK/ext4-fs-dst.img"
odx_start odx-scale-1 "$ODX_PORT"
ODX_PID_1=$ODX_PID
odx_start odx-scale-n "$ODX_PORT_N"
ODX_PID_N=$ODX_PID
log "token store: $ODX_TOKENS live tokens, $ODX_SAMPLES commands per sample set"
SCALE_JSON=$($ODX_BENCH scale "127.0.0.1:$ODX_PORT" "127.0.0.1:$ODX_PORT_N" "$(who "$ODX_INIT_SRC" 0)" \
    "$(who "$ODX_INIT_DST" 1)" "$ODX_PID_N" "$ODX_TOKENS" "$ODX_SAMPLES" 8 20 "$ODX_HELD" 2>>"$WORK/scale.log") ||
    die "token store scale run failed: $(tail -n1 "$WORK/scale.log")"
ODX_LIVE_1=$(odx_metric xtgt_rod_tokens "")
ODX_LIVE=$(XTGT_METRICS_PORT=$ODX_METRICS_PORT_N odx_metric xtgt_rod_tokens "")
stop_pid "$ODX_PID_N"
stop_pid "$ODX_PID_1"
log "token store: $SCALE_JSON; xtgt_rod_tokens $ODX_LIVE_1 and $ODX_LIVE"
# every token the run created is still alive
[[ $ODX_LIVE -ge $(jq -r '.held.live_n_end // .live_n_end' <<<"$SCALE_JSON") && $ODX_LIVE_1 -ge $(jq -r .live_1_end <<<"$SCALE_JSON") ]] ||
    die "xtgt_rod_tokens is $ODX_LIVE_1 / $ODX_LIVE, fewer than the tokens created"

# ---------------------------------------------------------------- report

ELAPSED=$(awk -v a="$START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
fmt() { awk -v v="$1" -v p="$2" 'BEGIN { if (v == "nan" || v == "") print "n/a"; else printf "%." p "f\n", v }'; }
# shellcheck disable=SC2086
med() { fmt "$(median $1)" 4; }
# wut_stats SIDE -> "WUTs per copy (range), longest single WUT"
wut_stats() {
    local w
    w=${OWUT[$1]:-}
    [[ -n $w ]] || { echo "n/a | n/a"; return; }
    tr ' ' '\n' <<<"$w" | sed '/^$/d' | awk -F/ '
        { n[NR] = $1; if ($3 > l) l = $3 }
        END { lo = hi = n[1]; for (i in n) { if (n[i] < lo) lo = n[i]; if (n[i] > hi) hi = n[i] }
              printf "%s | %.3f s\n", (lo == hi ? lo : lo "–" hi), l }'
}
lat() { jq -r "${LAT_PREFIX:-}.$1.$2" <<<"$SCALE_JSON"; }
lratio() { awk -v a="$(lat "$1" "$3")" -v b="$(lat "$2" "$3")" 'BEGIN { printf "%.2f\n", b / a }'; }
XTGT_REV=${XTGT_REV:-$(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null || echo unknown)}
{
    echo "## ODX ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "xtgt at $XTGT_REV, loopback 127.0.0.1, file LUNs with 512-byte blocks, $(nproc) cores," \
        "kernel $(uname -r), $(qemu-img --version | head -n1). One xtgt, default \`[odx]\` keys" \
        "(WRITE USING TOKEN budget 1000 ms); POPULATE TOKEN as initiator 1, WRITE USING TOKEN as" \
        "initiator 2 (another session), source LU -> destination LU of the same target."
    echo
    echo "### Copy of $COPY_SIZE, seconds (median of $REPS rounds, method order rotating; page cache warm)"
    echo
    echo "ODX = the Windows sequence over raw iSCSI (\`odx_bench.py copy\`): POPULATE TOKEN of the" \
        "whole LU (one range), RRTI, then WRITE USING TOKENs, each repeated with OFFSET INTO ROD" \
        "advanced after a COPY ABORTED 0Dh/04h until GOOD; timed from POPULATE TOKEN to the last" \
        "GOOD, with the sessions logged in before (the qemu-img and backend times include process" \
        "start and, for qemu-img, the login). Every destination was compared with its source (\`cmp\`)."
    echo
    echo "| file system | copy | seconds | / backend | / host copy | WUTs per copy | longest WUT |"
    echo "|---|---|---:|---:|---:|---:|---:|"
    for side in "${ODX_SIDES[@]}"; do
        if [[ $side == ext4 ]]; then
            label="$ODX_FS_EXT4 (change-vulnerable tokens)"
            bk="copy_file_range, in place, $(nproc) threads"
        else
            label="XFS, loop-mounted, reflink (point-in-time tokens)"
            bk="cp --reflink=always"
        fi
        b=$(med "${OC[$side,backend]}")
        h=$(med "${OC[$side,host]}")
        for m in odx odxw xcopy host backend; do
            case $m in
            odx) what="ODX, one WRITE USING TOKEN of the whole copy (repeated until GOOD)" ;;
            odxw) what="ODX, WRITE USING TOKENs of $((${OCHUNK[odxw]:-0} >> 11)) MiB (Windows' transfer size)" ;;
            xcopy) what="EXTENDED COPY (qemu-img convert -C)" ;;
            host) what="host copy through xtgt (qemu-img convert)" ;;
            backend) what="backend's own copy ($bk)" ;;
            esac
            v=$(med "${OC[$side,$m]}")
            if [[ $m == odx* ]]; then w=$(wut_stats "$side,$m"); else w="|"; fi
            printf '| %s | %s | %s | %s | %s | %s |\n' "$label" "$what" "$v" \
                "$(awk -v v="$v" -v b="$b" 'BEGIN { if (b + 0 > 0 && v != "n/a") printf "%.2f", v / b; else printf "n/a" }')" \
                "$(awk -v v="$v" -v h="$h" 'BEGIN { if (h + 0 > 0 && v != "n/a") printf "%.2f", v / h; else printf "n/a" }')" "$w"
        done
    done
    echo
    for side in "${ODX_SIDES[@]}"; do
        for m in odx odxw; do
            echo "- $side, $m: copy engine bytes during each ODX copy (\`xtgt_copy_bytes_total{command=\"wut\"}\`):" \
                "$(b=${OBYTES[$side,$m]%|}; echo "${b//|/; }")."
        done
    done
    [[ -z $ODX_XFS_NOTE ]] || echo "- XFS part $ODX_XFS_NOTE."
    [[ -z $ODX_XCOPY_FELL_BACK ]] || echo "- qemu-img convert -C sent no EXTENDED COPY on:$ODX_XCOPY_FELL_BACK (it fell back to a host copy)."
    if ((${#COPY_BAD[@]})); then
        echo "- Copies whose destination differed from the source (or that failed): ${COPY_BAD[*]}."
    else
        echo "- All $((${#ODX_SIDES[@]} * ${#ODX_METHODS[@]} * REPS)) destinations equal their sources."
    fi
    echo
    echo "### Token store: $(jq -r .tokens_created <<<"$SCALE_JSON") live tokens (ext4, change vulnerable, no clone)"
    echo
    echo "Two xtgts side by side with the same two LUs (a $COPY_SIZE source on $ODX_FS_EXT4, a destination each)." \
        "On each, $(jq -r .samples <<<"$SCALE_JSON") POPULATE TOKENs (each a new token of $(jq -r .blocks <<<"$SCALE_JSON") blocks)" \
        "and as many WRITE USING TOKENs ($(jq -r .blocks <<<"$SCALE_JSON") blocks, one token), interleaved, one at a time," \
        "timed at the initiator (\`odx_bench.py scale\`), in $(jq -r .rounds <<<"$SCALE_JSON") sets alternating between" \
        "the two xtgts (order swapped every set), after an uncounted warm-up: first while both have 1 live token" \
        "(the control), then again after the second got the tokens below. The token of each timed POPULATE TOKEN is" \
        "deleted right after (untimed: RRTI, then a WRITE USING TOKEN with DEL_TKN), so the first xtgt keeps 1 live token" \
        "($(jq -r .live_1_end <<<"$SCALE_JSON") at the end, plus tombstones of the deleted ones), and the second, after the control, got" \
        "$(jq -r .tokens_created <<<"$SCALE_JSON") POPULATE TOKENs (8 blocks each, spread over the LU," \
        "inactivity timeout 3600 s, one list id so that only the token store grows, not the held results), which took" \
        "$(jq -r .create_seconds <<<"$SCALE_JSON") s (\`xtgt_rod_tokens\` at the end: $ODX_LIVE_1 and $ODX_LIVE)."
    echo
    echo "| command | xtgt 1: live tokens | median µs | p99 µs | xtgt 2: live tokens | median µs | p99 µs | ratio 2/1 median | ratio 2/1 p99 |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for c in populate wut; do
        if [[ $c == populate ]]; then name="POPULATE TOKEN"; else name="WRITE USING TOKEN"; fi
        for LAT_PREFIX in .control ""; do
            if [[ -n $LAT_PREFIX ]]; then n2=1; else n2=$(jq -r .live_n_end <<<"$SCALE_JSON"); fi
            printf '| %s | 1 | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$(lat "${c}_1" median_us)" \
                "$(lat "${c}_1" p99_us)" "$n2" "$(lat "${c}_n" median_us)" "$(lat "${c}_n" p99_us)" \
                "$(lratio "${c}_1" "${c}_n" median_us)" "$(lratio "${c}_1" "${c}_n" p99_us)"
        done
    done
    LAT_PREFIX=""
    echo
    echo "The rows with 1 live token on both xtgts are the control, measured first in the same way: how far two" \
        "equal xtgts land apart on this machine, the noise floor of the ratio."
    echo
    echo "Memory: the second xtgt's VmRSS $(jq -r .rss_before_kib <<<"$SCALE_JSON") KiB before and" \
        "$(jq -r .rss_after_kib <<<"$SCALE_JSON") KiB after creating the tokens:" \
        "**$(jq -r .bytes_per_token <<<"$SCALE_JSON") bytes per live token**."
    echo
    if [[ $(jq -r '.held != null' <<<"$SCALE_JSON") == true ]]; then
        echo "### Held POPULATE TOKEN results: $(jq -r .held.tokens <<<"$SCALE_JSON") more tokens, each with a new list id"
        echo
        echo "Then the second xtgt got $(jq -r .held.tokens <<<"$SCALE_JSON") more POPULATE TOKENs, each with a new list id" \
            "(as a host that numbers its copy operations does), so each result is held for RRTI (up to the copy" \
            "manager's limit of held results, then the oldest goes). They took $(jq -r .held.create_seconds <<<"$SCALE_JSON") s;" \
            "VmRSS $(jq -r .held.rss_after_kib <<<"$SCALE_JSON") KiB after. The same alternating measurement once more:"
        echo
        echo "| command | xtgt 1: live tokens | median µs | p99 µs | xtgt 2: live tokens | median µs | p99 µs | ratio 2/1 median | ratio 2/1 p99 |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        LAT_PREFIX=.held
        for c in populate wut; do
            if [[ $c == populate ]]; then name="POPULATE TOKEN"; else name="WRITE USING TOKEN"; fi
            printf '| %s | 1 | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$(lat "${c}_1" median_us)" \
                "$(lat "${c}_1" p99_us)" "$(jq -r .held.live_n_end <<<"$SCALE_JSON")" "$(lat "${c}_n" median_us)" \
                "$(lat "${c}_n" p99_us)" "$(lratio "${c}_1" "${c}_n" median_us)" "$(lratio "${c}_1" "${c}_n" p99_us)"
        done
        LAT_PREFIX=""
        echo
    fi
    echo "Whole run: ${ELAPSED} s (\`conformance/bench/run.sh${ARGS:+ $ARGS}\`)."
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
log "results written to $OUT"
}
