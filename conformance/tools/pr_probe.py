#!/usr/bin/env python3
"""Persistent reservations over raw iSCSI (conformance/pr.sh).

  pr_probe.py PORTAL TARGET aptpl1   register (APTPL=1) and reserve Write
                                     Exclusive, then print READ FULL STATUS
  pr_probe.py PORTAL TARGET aptpl0   re-register the same key with APTPL=0
  pr_probe.py PORTAL TARGET status   print READ FULL STATUS (hex) and exit
                                     0 when it could be read
  pr_probe.py PORTAL TARGET conflict exit 0 when a second initiator's WRITE
                                     gets RESERVATION CONFLICT (0x18)
"""
import struct
import sys

import iscsi_wire as w

INIT1 = "iqn.2026-11.org.xtgt.conformance:pr-host1"
INIT2 = "iqn.2026-11.org.xtgt.conformance:pr-host2"
KEY = 0x0123456789ABCDEF


def prout(c, sa, ty, key, sa_key, flags):
    params = struct.pack(">QQ", key, sa_key) + bytes(4) + bytes([flags, 0, 0, 0])
    cdb = bytes([0x5F, sa, ty, 0, 0]) + struct.pack(">I", len(params)) + b"\0"
    status, sense, _ = w.scsi_command(c, cdb, data_out=params)
    if status != 0:
        raise SystemExit("PERSISTENT RESERVE OUT sa %d: status 0x%02x sense %s"
                         % (sa, status, w.sense_code(sense)))


def full_status(c):
    cdb = bytes([0x5E, 0x03, 0, 0, 0, 0, 0, 0x10, 0x00, 0])
    status, sense, data = w.scsi_command(c, cdb, data_in_len=4096)
    if status != 0:
        raise SystemExit("READ FULL STATUS: status 0x%02x sense %s" % (status, w.sense_code(sense)))
    return data


def main():
    portal, target, what = sys.argv[1:4]
    c = w.login(portal, target, initiator=INIT1)
    if what == "aptpl1":
        # REGISTER AND IGNORE EXISTING KEY, APTPL=1; RESERVE Write Exclusive.
        prout(c, 0x06, 0, 0, KEY, 0x01)
        prout(c, 0x01, 0x01, KEY, 0, 0)
    elif what == "aptpl0":
        prout(c, 0x06, 0, 0, KEY, 0x00)
    elif what == "conflict":
        c2 = w.login(portal, target, initiator=INIT2, isid=b"\x80\x00\x00\x00\x02\x02")
        cdb = bytes([0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0])
        status, _, _ = w.scsi_command(c2, cdb, data_out=bytes(512))
        print("WRITE(10) from a second initiator: status 0x%02x" % status)
        sys.exit(0 if status == 0x18 else 1)
    elif what != "status":
        raise SystemExit("unknown action " + what)
    print(full_status(c).hex())


if __name__ == "__main__":
    main()
