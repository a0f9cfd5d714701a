#!/usr/bin/env python3
"""Send one EXTENDED COPY (LID1) over a plain iSCSI session and print the result.

Usage: xcopy_probe.py PORTAL TARGET INITIATOR SRC_IQN SRC_LUN DST_IQN DST_LUN BLOCKS
                      [SEGMENTS [BLOCK_LEN]]

Logs in to TARGET as INITIATOR (no CHAP), sends to LUN 0 an EXTENDED COPY
whose two identification CSCDs (0xE4) name the LUs SRC_IQN/SRC_LUN and
DST_IQN/DST_LUN by their NAA designator, and SEGMENTS (default 1)
block-to-block segments each copying BLOCKS blocks of BLOCK_LEN (default
512) bytes from LBA 0 to LBA 0 (many segments: a long copy, for the
shutdown and abort checks). Prints "status=0xSS" and, with CHECK
CONDITION, "sense=KK/AA/QQ" (key, ASC, ASCQ).

The NAA designator is computed as xtgt derives it (README, "LU identity"):
NAA 6, COMPANY_ID 0x0A5854, vendor specific extension = FNV-1a 64 of
IQN || 0x00 || LUN as 8 bytes big endian.
"""
import socket
import struct
import sys

COMPANY_ID = 0x0A5854


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def naa(iqn, lun):
    ident = fnv1a64(iqn.encode() + b"\0" + lun.to_bytes(8, "big"))
    d = bytearray(16)
    d[0] = 0x60 | ((COMPANY_ID >> 20) & 0x0F)
    d[1] = (COMPANY_ID >> 12) & 0xFF
    d[2] = (COMPANY_ID >> 4) & 0xFF
    d[3] = (COMPANY_ID & 0x0F) << 4
    d[8:16] = ident.to_bytes(8, "big")
    return bytes(d)


def cscd(designator, block_len=512):
    d = bytearray(32)
    d[0] = 0xE4
    d[4] = 0x01  # code set binary
    d[5] = 0x03  # association LU, type NAA
    d[7] = len(designator)
    d[8:8 + len(designator)] = designator
    d[29:32] = block_len.to_bytes(3, "big")
    return bytes(d)


def segment(blocks):
    d = bytearray(28)
    d[0] = 0x02
    d[2:4] = (0x18).to_bytes(2, "big")
    d[4:6] = (0).to_bytes(2, "big")  # source CSCD 0
    d[6:8] = (1).to_bytes(2, "big")  # destination CSCD 1
    d[10:12] = blocks.to_bytes(2, "big")
    return bytes(d)


def parameter_list(src, dst, blocks, segments=1, block_len=512):
    cscds = cscd(src, block_len) + cscd(dst, block_len)
    segs = segment(blocks) * segments
    head = bytearray(16)
    head[1] = 0b11 << 3  # LIST ID USAGE 11b, LIST IDENTIFIER 0
    head[2:4] = len(cscds).to_bytes(2, "big")
    head[8:12] = len(segs).to_bytes(4, "big")
    return bytes(head) + cscds + segs


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by the target")
        buf += chunk
    return buf


def read_pdu(s):
    h = recv_exact(s, 48)
    ahs = h[4] * 4
    dlen = int.from_bytes(h[5:8], "big")
    body = recv_exact(s, ahs + dlen + (-dlen % 4))
    return h, body[ahs:ahs + dlen]


def padded(b):
    return b + b"\0" * (-len(b) % 4)


def pdu(opcode, flags, data, rest40):
    return bytes([opcode, flags, 0, 0, 0]) + len(data).to_bytes(3, "big") + rest40 + padded(data)


def login(portal, target, initiator):
    host, port = portal.rsplit(":", 1)
    s = socket.create_connection((host.strip("[]"), int(port)), timeout=30)
    isid = bytes([0x80, 0x00, 0x58, 0x43, 0x50, 0x01])
    stages = [
        (0, 1, ["InitiatorName=" + initiator, "TargetName=" + target,
                "SessionType=Normal", "AuthMethod=None"]),
        (1, 3, ["HeaderDigest=None", "DataDigest=None", "ImmediateData=Yes",
                "InitialR2T=Yes", "FirstBurstLength=65536", "MaxBurstLength=262144",
                "MaxRecvDataSegmentLength=65536", "ErrorRecoveryLevel=0"]),
    ]
    cmdsn, expstatsn = 1, 0
    for csg, nsg, keys in stages:
        data = ("\0".join(keys) + "\0").encode()
        rest = isid + b"\0\0" + struct.pack(">IHHII", 1, 0, 0, cmdsn, expstatsn) + bytes(16)
        s.sendall(pdu(0x43, 0x80 | (csg << 2) | nsg, data, rest))
        h, _ = read_pdu(s)
        if h[0] & 0x3F != 0x23 or h[36] != 0:
            raise ConnectionError("login refused: status class %d detail %d" % (h[36], h[37]))
        expstatsn = struct.unpack(">I", h[24:28])[0] + 1
        cmdsn = struct.unpack(">I", h[28:32])[0]
        if h[1] & 0x80 and h[1] & 0x03 == 3:
            return s, cmdsn, expstatsn
    raise ConnectionError("login did not reach the full feature phase")


def main():
    if len(sys.argv) not in (9, 10, 11):
        sys.exit(__doc__)
    portal, target, initiator, src_iqn, src_lun, dst_iqn, dst_lun, blocks = sys.argv[1:9]
    segments = int(sys.argv[9]) if len(sys.argv) > 9 else 1
    block_len = int(sys.argv[10]) if len(sys.argv) > 10 else 512
    params = parameter_list(naa(src_iqn, int(src_lun)), naa(dst_iqn, int(dst_lun)), int(blocks),
                            segments, block_len)
    s, cmdsn, expstatsn = login(portal, target, initiator)
    cdb = bytearray(16)
    cdb[0] = 0x83
    cdb[10:14] = len(params).to_bytes(4, "big")
    # The first command of a new I_T nexus gets the power-on UNIT ATTENTION:
    # send again while the answer is a UNIT ATTENTION.
    for itt in range(0x10, 0x14):
        rest = bytes(8) + struct.pack(">IIII", itt, len(params), cmdsn, expstatsn) + bytes(cdb)
        # F=1, W=1, ATTR=SIMPLE; the parameter list goes as immediate data.
        s.sendall(pdu(0x01, 0xA1, params, rest))
        cmdsn += 1
        while True:
            h, data = read_pdu(s)
            if h[0] & 0x3F == 0x21 and struct.unpack(">I", h[16:20])[0] == itt:
                break
        expstatsn = struct.unpack(">I", h[24:28])[0] + 1
        status = h[3]
        line = "status=0x%02x" % status
        key = None
        if status == 0x02 and len(data) >= 2:
            n = int.from_bytes(data[:2], "big")
            sense = data[2:2 + n]
            if len(sense) >= 14:
                key = sense[2] & 0x0F
                line += " sense=%02x/%02x/%02x" % (key, sense[12], sense[13])
        if key != 0x06:
            break
    print(line)
    s.close()


if __name__ == "__main__":
    main()
