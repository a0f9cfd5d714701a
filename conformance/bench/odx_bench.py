#!/usr/bin/env python3
"""ODX benchmarks over plain iSCSI sessions (driven by run.sh --odx).

Usage:
  odx_bench.py copy PORTAL SRC_WHO DST_WHO BLOCKS CHUNK
      The Windows sequence for a LU -> LU copy of BLOCKS blocks from LBA 0:
      POPULATE TOKEN of the range, RECEIVE ROD TOKEN INFORMATION (the token),
      then WRITE USING TOKENs of CHUNK blocks (0: the whole copy in one;
      "windows": what Windows sends, the OPTIMAL TRANSFER COUNT of VPD 0x8F,
      64 MiB if that is 0, at most 256 MiB and the MAXIMUM TOKEN TRANSFER SIZE),
      each repeated with OFFSET INTO ROD advanced while it ends COPY ABORTED
      0x0D/0x04 with INFORMATION = blocks written, until GOOD. Prints one
      JSON object: seconds of the sequence (sessions already logged in),
      number of WRITE USING TOKENs, how many ended short, the longest one.
  odx_bench.py loop PORTAL SRC_WHO DST_WHO BLOCKS CHUNK STOP_FILE
      The same copy again and again on the same two sessions (a host stays
      logged in) until the file STOP_FILE exists, at least once; prints each
      copy's seconds on a line of its own as it ends, then a JSON object
      with the number of copies.
  odx_bench.py scale PORTAL_1 PORTAL_N SRC_WHO DST_WHO PID_N TOKENS SAMPLES BLOCKS ROUNDS HELD
      POPULATE TOKEN and WRITE USING TOKEN latency (SAMPLES commands each,
      BLOCKS blocks per range) on two xtgts serving the same LU names: the
      one at PORTAL_1 with 1 live token, the one at PORTAL_N (pid PID_N)
      after TOKENS more POPULATE TOKENs, measured in ROUNDS sets alternating
      between the two; VmRSS of PID_N before and after creating the tokens.
      Then (HELD > 0) HELD more tokens on PORTAL_N, each POPULATE TOKEN
      with a new list id, so that its result is held, and once more.
      Prints one JSON object.

A LU is named INITIATOR@IQN/LUN (as in conformance/tools/odx_probe.py, whose
session and command helpers this imports). Any answer other than the ones
the sequence expects ends the run with exit status 1 and the reason on
stderr: a benchmark of a failing copy is not a result.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import odx_probe as odx  # noqa: E402

# Largest inactivity timeout the scale config allows (run.sh sets
# odx.max_inactivity_timeout_secs to it): the tokens must outlive the run.
SCALE_TIMEOUT_SECS = 3600


class BenchError(Exception):
    pass


def token_of(sess, list_id, ranges, timeout=0):
    """POPULATE TOKEN + RRTI; the 512-byte token."""
    r = odx.populate_token(sess, list_id, ranges, timeout=timeout)
    if r.answer() != "good":
        raise BenchError("POPULATE TOKEN %s -> %s" % (ranges[:2], r.answer()))
    rr, info = odx.rrti(sess, list_id)
    if rr.status != 0 or not info.ok or info.copy_status != 0x01 or len(info.token) != 512:
        raise BenchError("RRTI after POPULATE TOKEN: %s, %s" % (rr.answer(), info))
    return info.token


def windows_chunk(sess):
    """Blocks per WRITE USING TOKEN as Windows' class driver picks them
    from the destination's Block Device ROD Token Limits (512-byte blocks)."""
    r = sess.command(odx.cdb_inquiry_vpd(0x8F, 8192), data_in_len=8192)
    lim = dict(odx.descriptors(r.data)).get(0x0000, b"")
    if r.status != 0 or len(lim) < 36:
        raise BenchError("VPD 0x8F without Block Device ROD Token Limits: %s" % r.answer())
    max_blocks = int.from_bytes(lim[20:28], "big")
    optimal = int.from_bytes(lim[28:36], "big") or (64 << 20) // odx.BS
    chunk = min(optimal, (256 << 20) // odx.BS)
    return min(chunk, max_blocks) if max_blocks else chunk


def open_pair(portal, src_who, dst_who, chunk):
    """Sessions to the source and destination LUs, and the WRITE USING
    TOKEN size in blocks."""
    src = odx.open_lu(portal, src_who)
    dst = odx.open_lu(portal, dst_who)
    # A TEST UNIT READY on each first takes the power-on UNIT ATTENTION
    # out of the timed part.
    for s in (src, dst):
        s.command(bytes(6))
    if chunk == "windows":
        chunk = windows_chunk(dst)
    elif not isinstance(chunk, int):
        raise BenchError("CHUNK must be a number of blocks or \"windows\", not %r" % chunk)
    return src, dst, chunk


def one_copy(src, dst, blocks, chunk, list_id):
    """One POPULATE TOKEN + WRITE USING TOKENs copy of BLOCKS blocks; list
    ids from LIST_ID on. Returns the result and the next free list id."""
    chunk = chunk or blocks
    wuts = partials = 0
    longest = 0.0
    t0 = time.monotonic()
    token = token_of(src, list_id, [(0, blocks)])
    for start in range(0, blocks, chunk):
        n = min(chunk, blocks - start)
        done = 0
        while done < n:
            list_id = (list_id + 1) & 0xFFFFFFFF
            wuts += 1
            r = odx.write_using_token(dst, list_id, token, [(start + done, n - done)],
                                      offset=start + done)
            longest = max(longest, r.seconds)
            a = r.answer()
            if a == "good":
                done = n
            elif a == "0a/0d/04" and r.sense.valid and 0 < r.sense.information < n - done:
                partials += 1
                done += r.sense.information
            else:
                raise BenchError("WRITE USING TOKEN %d (offset %d): %s, VALID=%s, INFORMATION=%s"
                                 % (wuts, start + done, a, r.sense and r.sense.valid,
                                    r.sense and r.sense.information))
    seconds = time.monotonic() - t0
    return ({"seconds": round(seconds, 4), "wuts": wuts, "partials": partials,
             "longest_wut": round(longest, 4), "chunk_blocks": chunk},
            (list_id + 1) & 0xFFFFFFFF)


def copy(portal, src_who, dst_who, blocks, chunk):
    src, dst, chunk = open_pair(portal, src_who, dst_who, chunk)
    result, _ = one_copy(src, dst, blocks, chunk, 0x3000)
    src.close()
    dst.close()
    return result


def loop(portal, src_who, dst_who, blocks, chunk, stop_file):
    """Copies one after the other on the same two sessions (as a host
    that stays logged in does) until STOP_FILE exists, at least one; each
    copy's seconds on a line of its own as it ends."""
    src, dst, chunk = open_pair(portal, src_who, dst_who, chunk)
    list_id = 0x3000
    n = 0
    while True:
        result, list_id = one_copy(src, dst, blocks, chunk, list_id)
        n += 1
        print(result["seconds"], flush=True)
        if os.path.exists(stop_file):
            break
    src.close()
    dst.close()
    return {"copies": n}


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError("no VmRSS in /proc/%d/status" % pid)


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100)."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, -(-len(v) * p // 100) - 1))
    return v[int(k)]


def summary(values):
    return {"median_us": round(percentile(values, 50) * 1e6, 1),
            "p99_us": round(percentile(values, 99) * 1e6, 1)}


class Side:
    """One xtgt of the scale comparison: sessions to its source and
    destination LU, the token every WRITE USING TOKEN of it uses, the next
    LBA for a new token's range, and the latencies measured."""

    def __init__(self, portal, src_who, dst_who, blocks):
        self.src = odx.open_lu(portal, src_who)
        self.dst = odx.open_lu(portal, dst_who)
        for s in (self.src, self.dst):
            s.command(bytes(6))
        self.capacity = lu_blocks(self.src)
        self.blocks = blocks
        self.token = token_of(self.src, 0x4000, [(0, blocks)], timeout=SCALE_TIMEOUT_SECS)
        self.want = odx.read_blocks(self.src, 0, blocks)
        self.live = 1
        self.lba = blocks
        self.wut_lba = 0
        self.last_wut_lba = 0
        self.pt, self.wut = [], []

    def populate(self, list_id):
        """A new live token of BLOCKS blocks; seconds."""
        r = odx.populate_token(self.src, list_id, [(self.lba % self.capacity, self.blocks)],
                               timeout=SCALE_TIMEOUT_SECS)
        if r.answer() != "good":
            raise BenchError("POPULATE TOKEN with %d live tokens: %s (the [odx] limits must allow more)"
                             % (self.live, r.answer()))
        self.lba += self.blocks
        self.live += 1
        return r.seconds

    def write(self, list_id):
        r = odx.write_using_token(self.dst, list_id, self.token, [(self.wut_lba, self.blocks)])
        if r.answer() != "good":
            raise BenchError("WRITE USING TOKEN with %d live tokens: %s" % (self.live, r.answer()))
        self.last_wut_lba = self.wut_lba
        self.wut_lba = (self.wut_lba + self.blocks) % self.capacity
        return r.seconds

    def delete(self, list_id):
        """Untimed: the token the last POPULATE TOKEN on LIST_ID made is
        read (RRTI) and used up by a WRITE USING TOKEN with DEL_TKN (to the
        last BLOCKS blocks of the destination), so the timed POPULATE
        TOKENs leave the number of live tokens as it was."""
        rr, info = odx.rrti(self.src, list_id)
        if rr.status != 0 or not info.ok or len(info.token) != 512:
            raise BenchError("RRTI after a timed POPULATE TOKEN: %s, %s" % (rr.answer(), info))
        r = odx.write_using_token(self.dst, 0x4400, info.token,
                                  [(self.capacity - self.blocks, self.blocks)], del_tkn=True)
        if r.answer() != "good":
            raise BenchError("WRITE USING TOKEN with DEL_TKN: %s" % r.answer())
        self.live -= 1

    def measure(self, n, keep=True):
        """N POPULATE TOKENs (each deleted again, untimed) and N WRITE
        USING TOKENs, interleaved."""
        for i in range(n):
            pt = self.populate(0x4100 + (i % 2))
            self.delete(0x4100 + (i % 2))
            wut = self.write(0x4200 + (i % 2))
            if keep:
                self.pt.append(pt)
                self.wut.append(wut)

    def check(self):
        """The timed WRITE USING TOKENs really copied: the last destination
        range read back equals the token's source blocks."""
        got = odx.read_blocks(self.dst, self.last_wut_lba, self.blocks)
        if got != self.want:
            raise BenchError("destination blocks %d..%d differ from the token's source"
                             % (self.last_wut_lba, self.last_wut_lba + self.blocks))


def alternate(one, many, samples, rounds):
    """SAMPLES pairs on each side, in ROUNDS sets alternating between the
    two, the order swapped every set."""
    per_round = -(-samples // rounds)
    for r in range(rounds):
        for side in ((one, many) if r % 2 == 0 else (many, one)):
            side.measure(min(per_round, samples - len(side.pt)))


def scale(portal_1, portal_n, src_who, dst_who, pid_n, tokens, samples, blocks, rounds, held):
    """Two xtgts with the same LUs side by side: one keeps 1 live token
    (each timed POPULATE TOKEN's token is deleted right after, untimed), the
    other gets TOKENS more. SAMPLES pairs are measured on each, in ROUNDS
    sets that alternate between the two, so drift on a shared machine hits
    both alike: once before the TOKENS are created (the control: two equal
    xtgts), once after. Then, if HELD > 0, HELD more POPULATE TOKENs on
    the second, each with a new list id (as a host that numbers its
    operations does), so their results are held for RRTI, and once more."""
    one = Side(portal_1, src_who, dst_who, blocks)
    many = Side(portal_n, src_who, dst_who, blocks)
    # Warm-up, uncounted (first commands of a session, allocator growth).
    for side in (one, many):
        side.measure(samples // 4 or 1, keep=False)
    # Control: the same measurement while both have 1 live token, i.e. how
    # far two equal xtgts land apart on the machine (the noise floor of
    # the ratio).
    alternate(one, many, samples, rounds)
    control = {"populate_1": summary(one.pt), "populate_n": summary(many.pt),
               "wut_1": summary(one.wut), "wut_n": summary(many.wut)}
    for side in (one, many):
        side.pt, side.wut = [], []
    rss_before = vm_rss_kib(pid_n)
    # The TOKENS more live tokens: small ranges spread over the LU. One
    # list id, so the held POPULATE TOKEN results (each carrying its
    # 512-byte token) stay one record and what grows is the token store.
    live_before = many.live
    t0 = time.monotonic()
    for _ in range(tokens):
        many.populate(0x5000)
    create_seconds = time.monotonic() - t0
    rss_after = vm_rss_kib(pid_n)
    alternate(one, many, samples, rounds)
    out = {"populate_1": summary(one.pt), "populate_n": summary(many.pt),
           "wut_1": summary(one.wut), "wut_n": summary(many.wut)}
    held_out = None
    if held:
        for side in (one, many):
            side.check()
            side.pt, side.wut = [], []
        t0 = time.monotonic()
        for i in range(held):
            many.populate(0x10000 + i)
        held_seconds = time.monotonic() - t0
        rss_held = vm_rss_kib(pid_n)
        alternate(one, many, samples, rounds)
        held_out = {"tokens": held, "create_seconds": round(held_seconds, 3), "rss_after_kib": rss_held,
                    "live_n_end": many.live,
                    "populate_1": summary(one.pt), "populate_n": summary(many.pt),
                    "wut_1": summary(one.wut), "wut_n": summary(many.wut)}
    for side in (one, many):
        side.check()
        side.src.close()
        side.dst.close()
    return {
        "tokens_created": tokens,
        "create_seconds": round(create_seconds, 3),
        "live_1_end": one.live,
        "live_n_before": live_before,
        "live_n_end": many.live - (held or 0),
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "bytes_per_token": round((rss_after - rss_before) * 1024 / tokens, 1),
        "control": control,
        "held": held_out,
        **out,
        "samples": samples,
        "rounds": rounds,
        "blocks": blocks,
    }


def lu_blocks(sess):
    """Number of blocks of the session's LU (READ CAPACITY(16))."""
    cdb = bytearray(16)
    cdb[0], cdb[1] = 0x9E, 0x10
    cdb[10:14] = (32).to_bytes(4, "big")
    r = sess.command(cdb, data_in_len=32)
    if r.status != 0 or len(r.data) < 12:
        raise BenchError("READ CAPACITY(16): %s" % r.answer())
    return int.from_bytes(r.data[0:8], "big") + 1


def main():
    cmds = {"copy": (copy, 5), "loop": (loop, 6), "scale": (scale, 10)}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds or len(sys.argv) != 2 + cmds[sys.argv[1]][1]:
        sys.exit(__doc__)
    fn = cmds[sys.argv[1]][0]
    args = [int(a) if a.isdigit() else a for a in sys.argv[2:]]
    try:
        print(json.dumps(fn(*args)))
    except (BenchError, OSError, ConnectionError) as e:
        print("odx_bench %s: %s" % (sys.argv[1], e), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
