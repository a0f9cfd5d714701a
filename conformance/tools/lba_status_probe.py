#!/usr/bin/env python3
"""Where does the first GET LBA STATUS descriptor start? (SBC-4 5.8)

Usage: lba_status_probe.py PORTAL TARGET LUN

Replays, over a plain iSCSI session, the step of libiscsi 1.19's
SCSI.GetLBAStatus.UnmapSingle (second loop) that xtgt and libiscsi
disagree on when a physical block holds LBPPB > 1 logical blocks:
write LBAs 0..4*LBPPB-1, UNMAP LBAs 0..i-1 with i = LBPPB, then GET LBA
STATUS with STARTING LOGICAL BLOCK ADDRESS i+1. SBC-4 (GET LBA STATUS
parameter data) requires the first LBA status descriptor to describe the
STARTING LOGICAL BLOCK ADDRESS, so it must start at i+1 (mapped, up to the
end of what was written); libiscsi expects it at i+LBPPB.

Prints "lbppb=N start=S first=LBA,BLOCKS,STATUS" and exits 0 when the
first descriptor is (S, 4*LBPPB-S, mapped); exits 1 (with the reason)
otherwise.
"""
import struct
import sys

import iscsi_wire as w


def cdb16(op, sa=0, lba=0, n=0):
    c = bytearray(16)
    c[0] = op
    c[1] = sa
    c[2:10] = lba.to_bytes(8, "big")
    c[10:14] = n.to_bytes(4, "big")
    return bytes(c)


def check_good(what, status, sense):
    if status != 0:
        raise SystemExit("%s: status 0x%02x sense %s" % (what, status, w.sense_code(sense)))


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    portal, target, lun = sys.argv[1], sys.argv[2], int(sys.argv[3])
    c = w.login(portal, target)
    # READ CAPACITY (16): block size and LBPPB exponent.
    st, sense, cap = w.scsi_command(c, cdb16(0x9E, 0x10, 0, 32), lun, data_in_len=32)
    check_good("READ CAPACITY (16)", st, sense)
    if len(cap) < 14:
        raise SystemExit("READ CAPACITY (16): %d bytes" % len(cap))
    block = struct.unpack(">I", cap[8:12])[0]
    lbppb = 1 << (cap[13] & 0x0F)
    blocks = 4 * lbppb
    chunk = max(1, min(c.target_mrdsl, 65536) // block)
    lba = 0
    while lba < blocks:
        n = min(chunk, blocks - lba)
        cdb = bytearray(10)
        cdb[0] = 0x2A
        cdb[2:6] = lba.to_bytes(4, "big")
        cdb[7:9] = n.to_bytes(2, "big")
        st, sense, _ = w.scsi_command(c, cdb, lun, data_out=b"A" * (n * block))
        check_good("WRITE (10) at LBA %d" % lba, st, sense)
        lba += n
    i = lbppb
    # UNMAP LBAs 0..i-1: parameter list header + one block descriptor.
    desc = (0).to_bytes(8, "big") + i.to_bytes(4, "big") + bytes(4)
    params = (6 + len(desc)).to_bytes(2, "big") + len(desc).to_bytes(2, "big") + bytes(4) + desc
    cdb = bytearray(10)
    cdb[0] = 0x42
    cdb[7:9] = len(params).to_bytes(2, "big")
    st, sense, _ = w.scsi_command(c, cdb, lun, data_out=params)
    check_good("UNMAP LBAs 0..%d" % (i - 1), st, sense)
    start = i + 1
    st, sense, data = w.scsi_command(c, cdb16(0x9E, 0x12, start, 24), lun, data_in_len=24)
    check_good("GET LBA STATUS at LBA %d" % start, st, sense)
    if len(data) < 24:
        raise SystemExit("GET LBA STATUS: %d bytes, want 24" % len(data))
    first = struct.unpack(">QIB", data[8:21])
    print("lbppb=%d start=%d first=%d,%d,%d" % (lbppb, start, first[0], first[1], first[2]))
    want = (start, blocks - start, 0)
    if first != want:
        print("want first descriptor %d,%d,%d (STARTING LBA, to the end of the written blocks, mapped)" % want)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
