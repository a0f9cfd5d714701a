#!/usr/bin/env python3
"""One target over several portals, as a multipath initiator sees it.

Usage: alua_probe.py TARGET LUN PORTAL [PORTAL...]

Over plain iSCSI (no iscsiadm): a discovery session on every portal asks
SendTargets=All, which must list TARGET on every given portal, each with
its own TPGT, the same list through every portal. Then a normal session on
each portal: the login's TargetPortalGroupTag is that portal's TPGT;
INQUIRY says TPGS != 0; VPD 0x83 has the same LU designators through every
portal and, per portal, a relative target port, a target port group and
the port name "TARGET,t,0x<TPGT>"; REPORT TARGET PORT GROUPS (extended
header) lists that relative port in that group, and the same groups
through every portal; the relative ports differ between portals.

Prints one line per portal and exits 0, or exits 1 with the reason.
"""
import struct
import sys

import iscsi_wire as w

INITIATOR = "iqn.2026-11.org.xtgt.conformance:alua-probe"
STATES = {0: "active/optimized", 1: "active/non-optimized", 2: "standby",
          3: "unavailable", 4: "lba-dependent", 14: "offline", 15: "transitioning"}


def discovery(portal):
    """SendTargets=All through a discovery session on `portal`:
    [(target, address, tpgt)]."""
    c = w.Conn(w.connect(portal))
    isid = b"\x80\x00\x00\x00\x02\x01"
    keys = ["InitiatorName=" + INITIATOR, "SessionType=Discovery", "AuthMethod=None"]
    for csg, nsg, kv in [(0, 1, keys), (1, 3, ["HeaderDigest=None", "DataDigest=None"])]:
        text = ("\0".join(kv) + "\0").encode()
        rest = isid + b"\0\0" + struct.pack(">IHHII", 1, 0, 0, c.cmdsn, c.expstatsn)
        c.send(w.bhs(0x40 | w.OP_LOGIN, 0x80 | (csg << 2) | nsg, len(text), rest), text)
        h, _ = c.read_pdu()
        if h[0] & 0x3F != w.OP_LOGIN_RSP or h[36] != 0:
            raise SystemExit("%s: discovery login refused (class %d detail %d)" % (portal, h[36], h[37]))
        c.expstatsn = struct.unpack(">I", h[24:28])[0] + 1
        c.cmdsn = struct.unpack(">I", h[28:32])[0]
    text = b"SendTargets=All\0"
    itt = c.next_itt()
    rest = bytes(8) + struct.pack(">IIII", itt, 0xFFFFFFFF, c.cmdsn, c.expstatsn)
    c.send(w.bhs(0x40 | w.OP_TEXT, 0x80, len(text), rest), text)
    h, data = c.read_pdu()
    c.s.close()
    if h[0] & 0x3F != w.OP_TEXT_RSP:
        raise SystemExit("%s: SendTargets answered with opcode 0x%02x" % (portal, h[0] & 0x3F))
    out, name = [], None
    for kv in data.split(b"\0"):
        k, _, v = kv.decode(errors="replace").partition("=")
        if k == "TargetName":
            name = v
        elif k == "TargetAddress" and name is not None:
            addr, _, tag = v.rpartition(",")
            out.append((name, addr, int(tag)))
    return out


def good(c, what, cdb, lun, n):
    st, sense, data = w.scsi_command(c, cdb, lun, data_in_len=n)
    if st != 0:
        raise SystemExit("%s: status 0x%02x sense %s" % (what, st, w.sense_code(sense)))
    return data


def vpd83(page):
    """(LU designators, relative port, port group, port name) of VPD 0x83."""
    lu, rel, group, name = [], None, None, None
    at, end = 4, 4 + int.from_bytes(page[2:4], "big")
    if end != len(page):
        raise SystemExit("VPD 0x83: PAGE LENGTH says %d bytes, %d came" % (end, len(page)))
    while at + 4 <= end:
        assoc, kind, n = (page[at + 1] >> 4) & 3, page[at + 1] & 0x0F, page[at + 3]
        d = page[at + 4:at + 4 + n]
        if assoc == 0:
            lu.append(page[at:at + 4 + n])
        elif (assoc, kind) == (1, 4):
            rel = int.from_bytes(d[2:4], "big")
        elif (assoc, kind) == (1, 5):
            group = int.from_bytes(d[2:4], "big")
        elif (assoc, kind) == (1, 8):
            name = d.rstrip(b"\0").decode(errors="replace")
        at += 4 + n
    if at != end:
        raise SystemExit("VPD 0x83: descriptors do not tile the page (%d of %d)" % (at, end))
    return lu, rel, group, name


def rtpg(data):
    """{group: (state, [relative ports])} of extended-header RTPG data."""
    total = 4 + int.from_bytes(data[0:4], "big")
    if total != len(data) or len(data) < 8 or data[4] & 0x70 != 0x10:
        raise SystemExit("RTPG: length %d of %d, format byte 0x%02x" % (total, len(data), data[4]))
    groups, at = {}, 8
    while at + 8 <= total:
        g, count = int.from_bytes(data[at + 2:at + 4], "big"), data[at + 7]
        ports = [int.from_bytes(data[at + 8 + 4 * k + 2:at + 8 + 4 * k + 4], "big") for k in range(count)]
        groups[g] = (data[at] & 0x0F, ports)
        at += 8 + 4 * count
    if at != total:
        raise SystemExit("RTPG: descriptors do not tile the data (%d of %d)" % (at, total))
    return groups


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    target, lun, portals = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    lists = [discovery(p) for p in portals]
    listed = sorted((a, t) for n, a, t in lists[0] if n == target)
    for p, l in zip(portals, lists):
        mine = sorted((a, t) for n, a, t in l if n == target)
        if mine != listed:
            raise SystemExit("SendTargets through %s lists %s, through %s %s" % (portals[0], listed, p, mine))
    tpgt = dict(listed)
    if sorted(tpgt) != sorted(portals) or len(set(tpgt.values())) != len(portals):
        raise SystemExit("SendTargets lists %s for %s; want every portal of %s with its own TPGT" % (listed, target, portals))
    print("SendTargets: %s" % " ".join("%s,%d" % x for x in listed))
    seen_lu, seen_groups, rels = None, None, set()
    for k, p in enumerate(portals):
        c = w.login(p, target, initiator=INITIATOR, isid=bytes([0x80, 0, 0, 0, 3, k + 1]))
        tag = c.target_keys.get("TargetPortalGroupTag")
        if tag != str(tpgt[p]):
            raise SystemExit("%s: login says TargetPortalGroupTag=%s, SendTargets %d" % (p, tag, tpgt[p]))
        inq = good(c, "INQUIRY", [0x12, 0, 0, 0, 96, 0], lun, 96)
        tpgs = (inq[5] >> 4) & 3
        if tpgs == 0:
            raise SystemExit("%s: INQUIRY TPGS=0" % p)
        lu, rel, group, name = vpd83(good(c, "VPD 0x83", [0x12, 1, 0x83, 1, 0, 0], lun, 256))
        if rel is None or group is None or name != "%s,t,0x%04x" % (target, tpgt[p]):
            raise SystemExit("%s: VPD 0x83 relative port %s group %s port name %r" % (p, rel, group, name))
        groups = rtpg(good(c, "REPORT TARGET PORT GROUPS", [0xA3, 0x2A, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0], lun, 1024))
        if group not in groups or rel not in groups[group][1]:
            raise SystemExit("%s: VPD 0x83 says port %d in group %d, RTPG says %s" % (p, rel, group, groups))
        if seen_lu is not None and (lu != seen_lu or groups != seen_groups):
            raise SystemExit("%s: the LU designators or port groups differ from %s's" % (p, portals[0]))
        seen_lu, seen_groups = lu, groups
        rels.add(rel)
        c.s.close()
        print("%s: tpgt %d, TPGS %d, relative port %d, group %d %s, %d LU designators" % (
            p, tpgt[p], tpgs, rel, group, STATES.get(groups[group][0], "?"), len(lu)))
    if len(rels) != len(portals):
        raise SystemExit("relative ports %s are not one per portal" % sorted(rels))


if __name__ == "__main__":
    main()
