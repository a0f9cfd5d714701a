#!/usr/bin/env python3
"""ODX (POPULATE TOKEN / WRITE USING TOKEN) checks over plain iSCSI sessions.

Usage: odx_probe.py SCENARIO PORTAL ARGS...   (see SCENARIOS below)

Each scenario logs in with its own sessions (raw iSCSI, no CHAP, no external
modules), sends the SCSI commands, compares exact bytes and sense, and prints
one line per check: "PASS name" or "FAIL name" followed by indented detail
lines. conformance/odx.sh relays these lines and counts them. The exit status
is 1 if any check failed.

WHO = INITIATOR@IQN/LUN: a session of INITIATOR to target IQN whose commands
go to LUN. Blocks are 512 bytes.
"""
import os
import socket
import struct
import sys
import time
import urllib.request

BS = 512
FAILED = False

# ROD types (SPC-5 table 110, SBC-4 4.28.4).
PIT_DEFAULT = 0x00800000
PIT_CHANGE_VULNERABLE = 0x00800001
ZERO_TOKEN = 0xFFFF0001


def report(ok, name, *details):
    global FAILED
    print(("PASS " if ok else "FAIL ") + name)
    if not ok:
        FAILED = True
        for d in details:
            for line in str(d).splitlines():
                print("    " + line)
    sys.stdout.flush()
    return ok


# ------------------------------------------------------------------ iSCSI

def lun_field(lun):
    """SAM-5 LUN field: peripheral addressing below 256, flat up to 16383."""
    if lun < 256:
        return bytes([0, lun]) + bytes(6)
    return bytes([0x40 | (lun >> 8), lun & 0xFF]) + bytes(6)


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise ConnectionError("connection closed by the target")
        buf += chunk
    return bytes(buf)


def padded(b):
    return b + b"\0" * (-len(b) % 4)


def pdu(opcode, flags, data, rest40):
    return bytes([opcode, flags, 0, 0, 0]) + len(data).to_bytes(3, "big") + rest40 + padded(data)


class Sense:
    """Fixed (0x70/0x71) or descriptor (0x72/0x73) sense data."""

    def __init__(self, raw):
        self.raw = raw
        self.key = self.asc = self.ascq = None
        self.valid = False
        self.information = None
        self.sks = None  # sense key specific bytes (3), when SKSV=1
        if len(raw) >= 14 and raw[0] & 0x7F in (0x70, 0x71):
            self.key, self.asc, self.ascq = raw[2] & 0x0F, raw[12], raw[13]
            self.valid = bool(raw[0] & 0x80)
            self.information = int.from_bytes(raw[3:7], "big")
            if len(raw) >= 18 and raw[15] & 0x80:
                self.sks = raw[15:18]
        elif len(raw) >= 8 and raw[0] & 0x7F in (0x72, 0x73):
            self.key, self.asc, self.ascq = raw[1] & 0x0F, raw[2], raw[3]
            i = 8
            while i + 2 <= len(raw):
                typ, n = raw[i], raw[i + 1]
                if typ == 0x00 and n >= 0x0A and i + 12 <= len(raw):
                    self.valid = bool(raw[i + 2] & 0x80)
                    self.information = int.from_bytes(raw[i + 4:i + 12], "big")
                if typ == 0x02 and n >= 0x06 and i + 7 <= len(raw) and raw[i + 4] & 0x80:
                    self.sks = raw[i + 4:i + 7]
                i += 2 + n

    def kcq(self):
        if self.key is None:
            return "none"
        return "%02x/%02x/%02x" % (self.key, self.asc, self.ascq)


class Result:
    def __init__(self, status, data, sense, seconds):
        self.status, self.data, self.sense, self.seconds = status, data, sense, seconds

    def answer(self):
        """"good" or the sense as KK/AA/QQ (or "status=0xSS")."""
        if self.status == 0:
            return "good"
        if self.status == 2 and self.sense is not None:
            return self.sense.kcq()
        return "status=0x%02x" % self.status


class Session:
    """One iSCSI session (one connection) of INITIATOR to TARGET."""

    _isid_counter = 0

    def __init__(self, portal, target, initiator, lun=0):
        self.lun = lun
        host, port = portal.rsplit(":", 1)
        self.s = socket.create_connection((host.strip("[]"), int(port)), timeout=120)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        Session._isid_counter += 1
        self.isid = bytes([0x80, 0x00, 0x58, 0x4F]) + (os.getpid() * 16 + Session._isid_counter & 0xFFFF).to_bytes(2, "big")
        self.itt = 0x100
        self.target_mrdsl = 8192
        self.first_burst = 65536
        self._login(target, initiator)

    def _login(self, target, initiator):
        stages = [
            (0, 1, ["InitiatorName=" + initiator, "TargetName=" + target,
                    "SessionType=Normal", "AuthMethod=None"]),
            (1, 3, ["HeaderDigest=None", "DataDigest=None", "ImmediateData=Yes",
                    "InitialR2T=Yes", "FirstBurstLength=65536", "MaxBurstLength=16776192",
                    "MaxRecvDataSegmentLength=262144", "ErrorRecoveryLevel=0"]),
        ]
        cmdsn, expstatsn = 1, 0
        for csg, nsg, keys in stages:
            data = ("\0".join(keys) + "\0").encode()
            rest = self.isid + b"\0\0" + struct.pack(">IHHII", 1, 0, 0, cmdsn, expstatsn) + bytes(16)
            self.s.sendall(pdu(0x43, 0x80 | (csg << 2) | nsg, data, rest))
            h, body = self._read_pdu()
            if h[0] & 0x3F != 0x23 or h[36] != 0:
                raise ConnectionError("login of %s to %s refused: status class %d detail %d"
                                      % (initiator, target, h[36], h[37]))
            for kv in body.split(b"\0"):
                k, _, v = kv.decode(errors="replace").partition("=")
                if k == "MaxRecvDataSegmentLength":
                    self.target_mrdsl = int(v)
                elif k == "FirstBurstLength":
                    self.first_burst = int(v)
            expstatsn = struct.unpack(">I", h[24:28])[0] + 1
            cmdsn = struct.unpack(">I", h[28:32])[0]
            if h[1] & 0x80 and h[1] & 0x03 == 3:
                self.cmdsn, self.expstatsn = cmdsn, expstatsn
                return
        raise ConnectionError("login did not reach the full feature phase")

    def _read_pdu(self):
        h = recv_exact(self.s, 48)
        ahs = h[4] * 4
        dlen = int.from_bytes(h[5:8], "big")
        body = recv_exact(self.s, ahs + dlen + (-dlen % 4))
        return h, body[ahs:ahs + dlen]

    def _send_data_out(self, itt, ttt, data, offset, length):
        datasn = 0
        end = offset + length
        while offset < end:
            n = min(self.target_mrdsl, end - offset)
            final = 0x80 if offset + n >= end else 0
            rest = bytes(8) + struct.pack(">IIIIIII", itt, ttt, 0, self.expstatsn, 0, datasn, offset) + bytes(4)
            self.s.sendall(pdu(0x05, final, data[offset:offset + n], rest))
            offset += n
            datasn += 1

    def raw_command(self, cdb, data_out=b"", data_in_len=0):
        itt = self.itt
        self.itt += 1
        cdb = bytes(cdb).ljust(16, b"\0")
        imm = data_out[:min(len(data_out), self.first_burst, self.target_mrdsl)]
        flags = 0x80 | 0x01  # F, ATTR=SIMPLE
        if data_out:
            flags |= 0x20
        if data_in_len:
            flags |= 0x40
        edtl = len(data_out) if data_out else data_in_len
        rest = lun_field(self.lun) + struct.pack(">IIII", itt, edtl, self.cmdsn, self.expstatsn) + cdb
        t0 = time.monotonic()
        self.s.sendall(pdu(0x01, flags, imm, rest))
        self.cmdsn += 1
        data_in = bytearray(data_in_len)
        got = 0
        while True:
            h, body = self._read_pdu()
            op = h[0] & 0x3F
            if op == 0x20:  # NOP-In: answer a ping
                ttt = h[20:24]
                if ttt != b"\xff\xff\xff\xff":
                    rest = bytes(8) + b"\xff\xff\xff\xff" + ttt + struct.pack(">II", self.cmdsn, self.expstatsn) + bytes(16)
                    self.s.sendall(pdu(0x40 | 0x00, 0x80, b"", rest))
                continue
            if struct.unpack(">I", h[16:20])[0] != itt:
                continue
            if op == 0x31:  # R2T
                ttt = struct.unpack(">I", h[20:24])[0]
                off = struct.unpack(">I", h[40:44])[0]
                length = struct.unpack(">I", h[44:48])[0]
                self._send_data_out(itt, ttt, data_out, off, length)
                continue
            if op == 0x25:  # Data-In
                off = struct.unpack(">I", h[40:44])[0]
                data_in[off:off + len(body)] = body
                got = max(got, off + len(body))
                if h[1] & 0x01:  # S: status in this PDU
                    self.expstatsn = struct.unpack(">I", h[24:28])[0] + 1
                    return Result(h[3], bytes(data_in[:got]), None, time.monotonic() - t0)
                continue
            if op == 0x21:  # SCSI Response
                self.expstatsn = struct.unpack(">I", h[24:28])[0] + 1
                status = h[3]
                sense = None
                if status == 0x02 and len(body) >= 2:
                    n = int.from_bytes(body[:2], "big")
                    sense = Sense(body[2:2 + n])
                return Result(status, bytes(data_in[:got]), sense, time.monotonic() - t0)
            raise ConnectionError("unexpected PDU opcode 0x%02x" % op)

    def command(self, cdb, data_out=b"", data_in_len=0):
        """raw_command, repeated while the answer is a UNIT ATTENTION (the
        first commands of a new I_T nexus get the power-on one)."""
        for _ in range(4):
            r = self.raw_command(cdb, data_out, data_in_len)
            if not (r.status == 2 and r.sense is not None and r.sense.key == 0x06):
                return r
        return r

    def lun_reset(self):
        """LOGICAL UNIT RESET (task management function 5) of this LUN;
        returns the TMF response code (0 = function complete)."""
        itt = self.itt
        self.itt += 1
        rest = lun_field(self.lun) + struct.pack(">IIIIII", itt, 0xFFFFFFFF, self.cmdsn, self.expstatsn, 0, 0) + bytes(8)
        self.s.sendall(pdu(0x02 | 0x40, 0x80 | 0x05, b"", rest))
        while True:
            h, _ = self._read_pdu()
            if h[0] & 0x3F == 0x22 and struct.unpack(">I", h[16:20])[0] == itt:
                self.expstatsn = struct.unpack(">I", h[24:28])[0] + 1
                return h[2]

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


# ------------------------------------------------------------- commands

def cdb_inquiry_vpd(page, alloc=4096):
    return bytes([0x12, 0x01, page]) + alloc.to_bytes(2, "big") + b"\0"


def ranges_bytes(ranges):
    return b"".join(struct.pack(">QI4x", lba, n) for lba, n in ranges)


def populate_token(sess, list_id, ranges, rod_type=None, timeout=0, immed=False):
    rd = ranges_bytes(ranges)
    p = bytearray(16) + rd
    p[0:2] = (len(p) - 2).to_bytes(2, "big")
    p[2] = (0x02 if rod_type is not None else 0) | (0x01 if immed else 0)
    p[4:8] = timeout.to_bytes(4, "big")
    p[8:12] = (rod_type or 0).to_bytes(4, "big")
    p[14:16] = len(rd).to_bytes(2, "big")
    cdb = bytearray(16)
    cdb[0], cdb[1] = 0x83, 0x10
    cdb[6:10] = list_id.to_bytes(4, "big")
    cdb[10:14] = len(p).to_bytes(4, "big")
    return sess.command(cdb, bytes(p))


def write_using_token(sess, list_id, token, ranges, offset=0, del_tkn=False, immed=False):
    rd = ranges_bytes(ranges)
    p = bytearray(536) + rd
    p[0:2] = (len(p) - 2).to_bytes(2, "big")
    p[2] = (0x02 if del_tkn else 0) | (0x01 if immed else 0)
    p[8:16] = offset.to_bytes(8, "big")
    p[16:528] = token
    p[534:536] = len(rd).to_bytes(2, "big")
    cdb = bytearray(16)
    cdb[0], cdb[1] = 0x83, 0x11
    cdb[6:10] = list_id.to_bytes(4, "big")
    cdb[10:14] = len(p).to_bytes(4, "big")
    return sess.command(cdb, bytes(p))


class Rrti:
    """A RECEIVE ROD TOKEN INFORMATION answer, decoded."""

    def __init__(self, d):
        self.raw = d
        self.ok = len(d) >= 32
        if not self.ok:
            return
        self.available = int.from_bytes(d[0:4], "big")
        self.service_action = d[4] & 0x1F
        self.copy_status = d[5]
        self.completion_status = d[12]
        self.sense_field_len = d[13]
        self.sense = Sense(d[32:32 + d[14]])
        self.units = d[15]
        self.transfer_count = int.from_bytes(d[16:24], "big")
        self.segments = int.from_bytes(d[24:26], "big")
        t = 32 + self.sense_field_len
        self.desc_len = int.from_bytes(d[t:t + 4], "big") if len(d) >= t + 4 else None
        self.token_id = d[t + 4:t + 6] if len(d) >= t + 6 else b""
        self.token = d[t + 6:t + 6 + 512] if len(d) >= t + 6 + 512 else b""

    def __str__(self):
        if not self.ok:
            return "short RRTI answer: %s" % self.raw.hex()
        return ("copy status 0x%02x, completion 0x%02x, sense %s, units 0x%02x, transfer count %d, "
                "segments %d, token descriptors length %s"
                % (self.copy_status, self.completion_status, self.sense.kcq(), self.units,
                   self.transfer_count, self.segments, self.desc_len))


def rrti(sess, list_id, alloc=4096):
    cdb = bytearray(16)
    cdb[0], cdb[1] = 0x84, 0x07
    cdb[2:6] = list_id.to_bytes(4, "big")
    cdb[10:14] = alloc.to_bytes(4, "big")
    r = sess.command(cdb, data_in_len=alloc)
    return r, Rrti(r.data)


def write16(sess, lba, data):
    cdb = bytearray(16)
    cdb[0] = 0x8A
    cdb[2:10] = lba.to_bytes(8, "big")
    cdb[10:14] = (len(data) // BS).to_bytes(4, "big")
    return sess.command(cdb, data)


def read16(sess, lba, blocks):
    cdb = bytearray(16)
    cdb[0] = 0x88
    cdb[2:10] = lba.to_bytes(8, "big")
    cdb[10:14] = blocks.to_bytes(4, "big")
    return sess.command(cdb, data_in_len=blocks * BS)


def read_blocks(sess, lba, blocks, step=2048):
    """Read BLOCKS from LBA in pieces of STEP blocks; None on an error."""
    out = bytearray()
    while blocks:
        n = min(step, blocks)
        r = read16(sess, lba, n)
        if r.status != 0 or len(r.data) != n * BS:
            return None
        out += r.data
        lba += n
        blocks -= n
    return bytes(out)


def file_blocks(path, lba, blocks):
    with open(path, "rb") as f:
        f.seek(lba * BS)
        return f.read(blocks * BS)


def first_difference(a, b):
    for i in range(0, max(len(a), len(b)), BS):
        if a[i:i + BS] != b[i:i + BS]:
            return "first differing block %d (of %d vs %d bytes)" % (i // BS, len(a), len(b))
    return "equal"


def open_lu(portal, who):
    """who = INITIATOR@IQN/LUN: a new session of INITIATOR to IQN whose
    commands go to LUN."""
    initiator, _, lu = who.partition("@")
    iqn, _, lun = lu.rpartition("/")
    return Session(portal, iqn, initiator, int(lun))


def descriptors(page):
    """The third-party copy descriptors of a VPD 0x8F page: [(type, body)]."""
    out, i = [], 4
    end = 4 + int.from_bytes(page[2:4], "big")
    while i + 4 <= min(end, len(page)):
        typ = int.from_bytes(page[i:i + 2], "big")
        n = int.from_bytes(page[i + 2:i + 4], "big")
        out.append((typ, page[i:i + 4 + n]))
        i += 4 + n
    return out


def rod_types(desc):
    """(type, flags) of a Supported ROD Types descriptor (0x0108)."""
    n = int.from_bytes(desc[6:8], "big")
    return [(int.from_bytes(desc[i:i + 4], "big"), desc[i + 4])
            for i in range(8, 8 + n, 64) if i + 64 <= len(desc)]


def populate(sess, list_id, ranges, name, rod_type=None, timeout=0):
    """POPULATE TOKEN + RRTI with Windows' expectations; returns the token
    (or None after reporting why)."""
    r = populate_token(sess, list_id, ranges, rod_type, timeout)
    if not report(r.answer() == "good", name + ": POPULATE TOKEN -> GOOD", r.answer()):
        return None
    rr, info = rrti(sess, list_id)
    ok = (rr.status == 0 and info.ok and info.copy_status == 0x01 and info.units == 0xF1
          and info.segments == 0 and info.desc_len == 514 and info.token_id == b"\0\0"
          and len(info.token) == 512
          and info.transfer_count == sum(n for _, n in ranges))
    if not report(ok, name + ": RRTI after POPULATE TOKEN: status 0x01, units 0xF1, segments 0, "
                  "descriptors length 514, id 0000, 512-byte token, transfer count = blocks",
                  "RRTI: %s" % rr.answer(), str(info)):
        return None
    return info.token


def wut_answer(sess, list_id, token, ranges, offset=0, del_tkn=False):
    return write_using_token(sess, list_id, token, ranges, offset, del_tkn).answer()


# ------------------------------------------------------------- scenarios

def sc_vpd(portal, who, expect_types, max_timeout, default_timeout):
    """VPD 0x00 lists 0x8F in ascending order; VPD 0x8F read with
    Windows' allocation length 255 starts with Block Device ROD Token
    Limits (0x0000, length 0x20) and is at least 0x24 long; its timeouts
    are the configured ones; Supported ROD Types lists exactly
    EXPECT_TYPES (comma separated hex), the zero token TOKEN_IN only."""
    s = open_lu(portal, who)
    lu = who.partition("@")[2]
    r = s.command(cdb_inquiry_vpd(0x00, 255), data_in_len=255)
    pages = list(r.data[4:4 + (r.data[3] if len(r.data) > 3 else 0)])
    report(r.status == 0 and 0x8F in pages and pages == sorted(pages),
           "%s: VPD 0x00 lists 0x8F, pages ascending" % lu, r.answer(), pages)
    r = s.command(cdb_inquiry_vpd(0x8F, 255), data_in_len=255)
    d = r.data
    plen = int.from_bytes(d[2:4], "big") if len(d) >= 4 else 0
    ok = r.status == 0 and len(d) >= 8 and d[1] == 0x8F and d[4:8] == b"\x00\x00\x00\x20" and plen >= 0x24
    report(ok, "%s: VPD 0x8F (allocation length 255): first descriptor 0x0000 length 0x20, page length 0x%x >= 0x24" % (lu, plen),
           r.answer(), d[:16].hex())
    r = s.command(cdb_inquiry_vpd(0x8F, 8192), data_in_len=8192)
    descs = dict(descriptors(r.data))
    lim = descs.get(0x0000, b"")
    got_t = (int.from_bytes(lim[12:16], "big"), int.from_bytes(lim[16:20], "big")) if len(lim) >= 36 else None
    report(got_t == (max_timeout, default_timeout) and int.from_bytes(lim[10:12], "big") >= 64,
           "%s: ROD token limits: max/default inactivity timeout %d/%d s (as configured), >= 64 ranges"
           % (lu, max_timeout, default_timeout), "got %s, descriptor %s" % (got_t, lim.hex()))
    types = rod_types(descs.get(0x0108, b""))
    want = sorted(int(t, 16) for t in expect_types.split(","))
    flags_ok = all((f & 0x03) == (0x02 if t == ZERO_TOKEN else 0x03) for t, f in types)
    report(sorted(t for t, _ in types) == want and flags_ok,
           "%s: Supported ROD Types = %s (zero token TOKEN_IN only, the others TOKEN_IN+TOKEN_OUT)"
           % (lu, ",".join("%08x" % t for t in want)),
           "got " + ", ".join("%08x flags %02x" % tf for tf in types))
    # POPULATE TOKEN with RTV=1 asking for point in time (0x00800000): made
    # where the LU lists it, else INVALID FIELD IN PARAMETER LIST pointing at
    # ROD TYPE (byte 8 of the parameter list; SBC-4 POPULATE TOKEN).
    r = populate_token(s, 0x1901, [(0, 8)], rod_type=PIT_DEFAULT)
    if PIT_DEFAULT in want:
        report(r.answer() == "good", "%s: POPULATE TOKEN with RTV=1, ROD type 0x00800000 -> GOOD" % lu, r.answer())
    else:
        sks = r.sense.sks if r.sense else None
        report(r.answer() == "05/26/00" and sks == b"\x80\x00\x08",
               "%s: POPULATE TOKEN with RTV=1, ROD type 0x00800000 (not made here) -> 0x26/0x00, field pointer byte 8" % lu,
               "got %s, sense key specific %s" % (r.answer(), sks.hex() if sks else None))
    s.close()


def fragmented(base, count, each, gap):
    return [(base + i * (each + gap), each) for i in range(count)]


def sc_copy(portal, src_who, dst_who, src_file, dst_file):
    """The Windows sequence: POPULATE TOKEN of 64 ranges (a fragmented
    file) + RRTI on one session; RRTI again returns the same token; WRITE
    USING TOKEN from a second session (another initiator name, another
    target, another LU) copies byte-exact (backing files compared); RRTI on
    that session says done with the blocks; a token altered in one byte is
    CORRUPT; DEL_TKN deletes the token after the copy: its reuse is
    DELETED."""
    src = open_lu(portal, src_who)
    ranges = fragmented(4096, 64, 16, 48)
    blocks = sum(n for _, n in ranges)
    token = populate(src, 0x1001, ranges, "copy")
    if token is None:
        return
    _, again = rrti(src, 0x1001)
    report(again.token == token, "copy: RRTI read twice returns the same token",
           "first %s..., second %s..." % (token[:16].hex(), again.token[:16].hex()))
    dst = open_lu(portal, dst_who)
    r = write_using_token(dst, 0x2001, token, [(8192, blocks)])
    report(r.answer() == "good", "copy: WRITE USING TOKEN from another initiator, target and LU -> GOOD", r.answer())
    want = b"".join(file_blocks(src_file, lba, n) for lba, n in ranges)
    got = file_blocks(dst_file, 8192, blocks)
    report(got == want, "copy: destination file equals the 64 source ranges (%d blocks) byte for byte" % blocks,
           first_difference(want, got))
    rr, info = rrti(dst, 0x2001)
    report(rr.status == 0 and info.ok and info.copy_status == 0x01 and info.units == 0xF1
           and info.transfer_count == blocks,
           "copy: RRTI after WRITE USING TOKEN: status 0x01, %d blocks" % blocks, rr.answer(), str(info))
    for pos in (8, 100, 300, 511):
        bad = bytearray(token)
        bad[pos] ^= 0x01
        a = wut_answer(dst, 0x2002, bytes(bad), [(16384, blocks)])
        report(a == "05/23/05", "copy: token with byte %d flipped -> 0x23/0x05 TOKEN CORRUPT" % pos, "got " + a)
    # DEL_TKN on a WRITE USING TOKEN that uses the whole token, so the
    # token is deleted whatever "completed" is taken to mean.
    a = wut_answer(dst, 0x2003, token, [(16384, blocks)], del_tkn=True)
    got = file_blocks(dst_file, 16384, blocks)
    report(a == "good" and got == want, "copy: WRITE USING TOKEN of the whole token with DEL_TKN -> GOOD, data copied",
           a, first_difference(want, got))
    a = wut_answer(dst, 0x2004, token, [(20480, 16)])
    report(a == "05/23/09", "copy: the token after DEL_TKN -> 0x23/0x09 TOKEN DELETED", "got " + a)
    src.close()
    dst.close()


def sc_revoke(portal, label, src_who, dst_who):
    """Change-vulnerable token (RTV=1, 0x00800001) on the LU LABEL names: a
    write outside its ranges leaves it usable, a write inside revokes it:
    0x23/0x06."""
    src = open_lu(portal, src_who)
    dst = open_lu(portal, dst_who)
    ranges = [(1024, 64)]
    name = "revoke (%s)" % label
    token = populate(src, 0x1101, ranges, name, rod_type=PIT_CHANGE_VULNERABLE)
    if token is None:
        return
    w = write16(src, 4096, os.urandom(8 * BS)).answer()
    a = wut_answer(dst, 0x2101, token, [(0, 64)])
    report(w == "good" and a == "good",
           name + ": a write outside the token's ranges leaves it usable", "write %s, WUT %s" % (w, a))
    w = write16(src, 1060, os.urandom(8 * BS)).answer()
    a = wut_answer(dst, 0x2102, token, [(0, 64)])
    report(w == "good" and a == "05/23/06",
           name + ": a write to the source of a change-vulnerable token -> 0x23/0x06 TOKEN REVOKED",
           "write %s, WUT %s" % (w, a))
    src.close()
    dst.close()


def sc_unauthorized(portal, src_who, dst_who):
    """A token of a LU the writer's initiator may not use: 0x26/0x15."""
    src = open_lu(portal, src_who)
    token = populate(src, 0x1201, [(0, 128)], "unauthorized")
    if token is None:
        return
    dst = open_lu(portal, dst_who)
    a = wut_answer(dst, 0x2201, token, [(0, 128)])
    report(a == "05/26/15",
           "unauthorized: WRITE USING TOKEN by an initiator not allowed on the source's target -> 0x26/0x15",
           "got " + a)
    src.close()
    dst.close()


def sc_zero(portal, who):
    """The block device zero ROD token zeroes its ranges (and only them)."""
    s = open_lu(portal, who)
    pattern = os.urandom(512 * BS)
    w = write16(s, 2048, pattern).answer()
    token = bytearray(512)
    token[0:4] = ZERO_TOKEN.to_bytes(4, "big")
    token[6:8] = (0x01F8).to_bytes(2, "big")
    a = wut_answer(s, 0x2301, bytes(token), [(2048 + 64, 128), (2048 + 320, 64)])
    got = read_blocks(s, 2048, 512)
    want = bytearray(pattern)
    for lba, n in ((64, 128), (320, 64)):
        want[lba * BS:(lba + n) * BS] = bytes(n * BS)
    report(w == "good" and a == "good" and got == bytes(want),
           "zero token: WRITE USING TOKEN 0xFFFF0001 zeroes its two ranges, the blocks around keep their data",
           "write %s, WUT %s" % (w, a), first_difference(bytes(want), got or b""))
    s.close()


def sc_slicing(portal, src_who, dst_who, src_file, blocks, chunk, max_rounds):
    """Windows' loop: WRITE USING TOKENs of CHUNK blocks, one at a time;
    a WUT that stops short must end with COPY ABORTED 0x0D/0x04, VALID=1,
    INFORMATION = blocks written, RRTI 0x04 with the same count; the next
    WUT continues with OFFSET INTO ROD advanced. After every GOOD the
    whole chunk is compared: a GOOD with fewer blocks written than asked is
    a failure. Every command must return within 4 s."""
    src = open_lu(portal, src_who)
    token = populate(src, 0x1401, [(0, blocks)], "slicing")
    if token is None:
        return
    dst = open_lu(portal, dst_who)
    rounds = partials = stalled = 0
    slowest = 0.0
    problems = []
    list_id = 0x2400
    for start in range(0, blocks, chunk):
        n = min(chunk, blocks - start)
        done = 0
        while done < n and rounds < max_rounds and not problems:
            rounds += 1
            list_id += 1
            r = write_using_token(dst, list_id, token, [(start + done, n - done)], offset=start + done)
            slowest = max(slowest, r.seconds)
            if r.seconds >= 4.0:
                problems.append("round %d: WUT took %.2f s (Windows gives up after about 4 s)" % (rounds, r.seconds))
            if r.answer() == "good":
                got = read_blocks(dst, start, n)
                want = file_blocks(src_file, start, n)
                if got != want:
                    problems.append("round %d: GOOD for blocks %d..%d but the destination differs: %s"
                                    % (rounds, start + done, start + n, first_difference(want, got or b"")))
                done = n
                continue
            sense = r.sense
            if r.answer() != "0a/0d/04" or not sense.valid:
                problems.append("round %d: got %s VALID=%s; expected GOOD or COPY ABORTED 0x0D/0x04 with VALID=1"
                                % (rounds, r.answer(), sense.valid if sense else None))
                break
            written = sense.information
            rr, info = rrti(dst, list_id)
            if not (info.ok and info.copy_status == 0x04 and info.transfer_count == written and info.units == 0xF1):
                problems.append("round %d: WUT said %d blocks written; RRTI: %s" % (rounds, written, info))
            if written >= n - done:
                problems.append("round %d: COPY ABORTED claims %d of %d blocks" % (rounds, written, n - done))
            # Windows fails the copy after 4 tries without progress.
            stalled = stalled + 1 if written == 0 else 0
            if stalled >= 4:
                problems.append("round %d: 4 WRITE USING TOKENs in a row wrote nothing (Windows gives up)" % rounds)
            partials += 1
            done += written
        if done < n and not problems:
            problems.append("no completion of chunk at %d within %d rounds" % (start, max_rounds))
        if problems:
            break
    report(not problems and partials > 0,
           "slicing: %d blocks in WUTs of %d: %d rounds, %d ended COPY ABORTED 0x0D/0x04 with INFORMATION = blocks "
           "written and RRTI 0x04 agreeing, no GOOD short of its blocks, destination byte-exact, slowest %.2f s"
           % (blocks, chunk, rounds, partials, slowest),
           *(problems or ["no WUT stopped short: the budget did not slice (expected at least one COPY ABORTED)"]))
    src.close()
    dst.close()


def sc_pit(portal, src_who, dst_who, src_file, dst_file):
    """Point in time (XFS): a write to the source after POPULATE TOKEN
    does not change what WRITE USING TOKEN copies."""
    src = open_lu(portal, src_who)
    ranges = fragmented(0, 64, 128, 128)
    blocks = sum(n for _, n in ranges)
    old = b"".join(file_blocks(src_file, lba, n) for lba, n in ranges)
    token = populate(src, 0x1501, ranges, "point in time", rod_type=PIT_DEFAULT)
    if token is None:
        return
    w = write16(src, 0, os.urandom(128 * BS)).answer()
    w2 = write16(src, 64 * 256 - 256, os.urandom(128 * BS)).answer()
    changed = b"".join(file_blocks(src_file, lba, n) for lba, n in ranges) != old
    dst = open_lu(portal, dst_who)
    a = wut_answer(dst, 0x2501, token, [(0, blocks)])
    got = file_blocks(dst_file, 0, blocks)
    report(w == "good" and w2 == "good" and changed and a == "good" and got == old,
           "point in time: the copy has the data of POPULATE TOKEN time after the source was overwritten",
           "writes %s %s, source changed %s, WUT %s" % (w, w2, changed, a), first_difference(old, got))
    src.close()
    dst.close()


def metric_sum(metrics, name, label=""):
    """Sum of the samples of NAME whose labels contain LABEL, from
    http://METRICS/metrics; None when it cannot be read."""
    try:
        with urllib.request.urlopen("http://%s/metrics" % metrics, timeout=10) as r:
            text = r.read().decode()
    except OSError:
        return None
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, _, value = line.rpartition(" ")
        if key.partition("{")[0] == name and label in key:
            total += float(value)
    return total


def sc_expiry(portal, src_who, dst_who, metrics):
    """A token whose INACTIVITY TIMEOUT (1 s) passes with no command at all
    is expired by xtgt's periodic sweep (xtgt_rod_tokens drops, an
    "expired" event is counted), and a late WRITE USING TOKEN gets
    0x23/0x07 TOKEN EXPIRED."""
    src = open_lu(portal, src_who)
    dst = open_lu(portal, dst_who)
    before = metric_sum(metrics, "xtgt_rod_token_events_total", 'event="expired"')
    token = populate(src, 0x1601, [(0, 64)], "expiry", timeout=1)
    if token is None:
        return
    live = metric_sum(metrics, "xtgt_rod_tokens")
    time.sleep(3.5)
    after = metric_sum(metrics, "xtgt_rod_token_events_total", 'event="expired"')
    live_after = metric_sum(metrics, "xtgt_rod_tokens")
    ok = None not in (before, after, live, live_after) and after == before + 1 and live_after == live - 1
    report(ok, "expiry: an idle token expires on its own 1 s after its last use "
           "(xtgt_rod_tokens -1, xtgt_rod_token_events_total{event=\"expired\"} +1)",
           "expired events %s -> %s, live tokens %s -> %s (None: /metrics unreadable)"
           % (before, after, live, live_after))
    a = wut_answer(dst, 0x2601, token, [(0, 64)])
    report(a == "05/23/07", "expiry: WRITE USING TOKEN after the inactivity timeout -> 0x23/0x07 TOKEN EXPIRED",
           "got " + a)
    src.close()
    dst.close()


def sc_limits(portal, src_who, dst_who, max_live, metrics):
    """With odx.max_live_tokens = MAX_LIVE: MAX_LIVE POPULATE TOKENs
    succeed, the next gets 0x55/0x0D INSUFFICIENT RESOURCES TO CREATE ROD
    TOKEN (counted as event="refused"), and the live tokens keep working.
    The tokens have a 3 s inactivity timeout; the scenario waits until they
    are gone, so the store is empty again afterwards."""
    src = open_lu(portal, src_who)
    dst = open_lu(portal, dst_who)
    refused0 = metric_sum(metrics, "xtgt_rod_token_events_total", 'event="refused"')
    tokens = []
    for i in range(max_live):
        t = populate(src, 0x1701 + i, [(i * 64, 64)], "limits: token %d of %d" % (i + 1, max_live), timeout=3)
        if t is None:
            return
        tokens.append(t)
    r = populate_token(src, 0x1701 + max_live, [(4096, 64)], timeout=3)
    refused1 = metric_sum(metrics, "xtgt_rod_token_events_total", 'event="refused"')
    report(r.answer() == "05/55/0d" and refused0 is not None and refused1 == refused0 + 1,
           "limits: POPULATE TOKEN beyond odx.max_live_tokens = %d -> 0x55/0x0D, counted as refused" % max_live,
           "got %s, refused events %s -> %s" % (r.answer(), refused0, refused1))
    answers = [wut_answer(dst, 0x2701 + i, t, [(i * 64, 64)]) for i, t in enumerate(tokens)]
    report(answers == ["good"] * max_live, "limits: the live tokens keep working after the refusal",
           " ".join(answers))
    time.sleep(4.5)
    src.close()
    dst.close()


def sc_cancel(portal, src_who, dst_who):
    """A LOGICAL UNIT RESET of the source LU cancels its tokens: a later
    WRITE USING TOKEN (from another session) gets 0x23/0x08 TOKEN
    CANCELLED and writes nothing."""
    src = open_lu(portal, src_who)
    dst = open_lu(portal, dst_who)
    # Random source data, so that a copy that happened anyway would show.
    if write16(src, 0, os.urandom(64 * BS)).answer() != "good":
        report(False, "cancel: writing the source")
        return
    token = populate(src, 0x1801, [(0, 64)], "cancel")
    if token is None:
        return
    before = read_blocks(dst, 30000, 64)
    code = src.lun_reset()
    a = wut_answer(dst, 0x2801, token, [(30000, 64)])
    after = read_blocks(dst, 30000, 64)
    report(code == 0 and a == "05/23/08" and before is not None and before == after,
           "cancel: after a LOGICAL UNIT RESET of the source, WRITE USING TOKEN -> 0x23/0x08 TOKEN CANCELLED, "
           "nothing written", "TMF response %d, WUT %s, destination unchanged %s" % (code, a, before == after))
    src.close()
    dst.close()


def copy_operation_abort(sess, list_id):
    cdb = bytearray(16)
    cdb[0], cdb[1] = 0x83, 0x1C
    cdb[2:6] = list_id.to_bytes(4, "big")
    return sess.command(cdb)


def sc_abort(portal, src_who, dst_who, src_file, blocks, metrics):
    """IMMED and COPY OPERATION ABORT as ddptctl uses them: POPULATE TOKEN
    with IMMED=1 -> GOOD, RRTI then 0x01 with the 514-byte descriptor; a
    WRITE USING TOKEN with IMMED=1 of everything into a zeroed LU -> GOOD;
    while it runs a POPULATE TOKEN with its list id -> 0x00/0x16 OPERATION
    IN PROGRESS; COPY OPERATION ABORT -> GOOD once the copy stopped; RRTI
    0x60 with the blocks written; the destination holds exactly those
    blocks of the source and zeroes after them; xtgt_copies_in_flight 0."""
    src = open_lu(portal, src_who)
    r = populate_token(src, 0x1601, [(0, blocks)], immed=True)
    if not report(r.answer() == "good", "abort: POPULATE TOKEN with IMMED=1 -> GOOD", r.answer()):
        return
    info = None
    for _ in range(500):
        _, info = rrti(src, 0x1601)
        if info.ok and info.copy_status not in (0x11, 0x12):
            break
        time.sleep(0.01)
    if not report(info.ok and info.copy_status == 0x01 and info.desc_len == 514 and info.transfer_count == blocks,
                  "abort: RRTI after POPULATE TOKEN IMMED=1 -> 0x01, %d blocks, descriptors length 514" % blocks,
                  str(info)):
        return
    token = info.token
    dst = open_lu(portal, dst_who)
    r = write_using_token(dst, 0x1602, token, [(0, blocks)], immed=True)
    if not report(r.answer() == "good", "abort: WRITE USING TOKEN with IMMED=1 -> GOOD", r.answer()):
        return
    try:
        busy = populate_token(dst, 0x1602, [(0, 8)])
        # Abort once the copy has written something (a COPY OPERATION ABORT
        # that overtakes the first chunk leaves nothing written, which is
        # right but not the case this checks).
        for _ in range(500):
            _, progress = rrti(dst, 0x1602)
            if not progress.ok or progress.copy_status not in (0x11, 0x12) or progress.transfer_count > 0:
                break
            time.sleep(0.01)
        r = copy_operation_abort(dst, 0x1602)
        report(busy.answer() == "05/00/16",
               "abort: POPULATE TOKEN with the list id of the running WRITE USING TOKEN -> 0x00/0x16 OPERATION IN PROGRESS",
               "got " + busy.answer())
        report(r.answer() == "good", "abort: COPY OPERATION ABORT -> GOOD", r.answer())
        _, info = rrti(dst, 0x1602)
        n = info.transfer_count if info.ok else -1
        if not report(info.ok and info.copy_status == 0x60 and info.completion_status == 0x40 and 0 < n < blocks,
                      "abort: RRTI after COPY OPERATION ABORT -> 0x60 (TASK ABORTED), part of the blocks written",
                      str(info)):
            return
        check_abort_result(src_file, dst, n, blocks, metrics)
    finally:
        # The token goes, also after a failed check (the store limit of
        # the next scenario counts it).
        write_using_token(dst, 0x1603, token, [(0, 8)], del_tkn=True)
        src.close()
        dst.close()


def check_abort_result(src_file, dst, n, blocks, metrics):
    """After an abort at n of blocks: exactly those blocks copied, zeroes
    after them, no copy left in flight."""
    after = min(blocks - n, 2048)
    got = read_blocks(dst, 0, n + after)
    want = file_blocks(src_file, 0, n) + bytes(after * BS)
    report(got == want,
           "abort: destination holds exactly the %d blocks reported written, zeroes after them" % n,
           first_difference(want, got or b""))
    in_flight = metric_sum(metrics, "xtgt_copies_in_flight")
    report(in_flight == 0, "abort: xtgt_copies_in_flight back to 0", "got %s" % in_flight)


SCENARIOS = {
    "vpd": (sc_vpd, "WHO EXPECT_TYPES MAX_TIMEOUT DEFAULT_TIMEOUT"),
    "copy": (sc_copy, "SRC_WHO DST_WHO SRC_FILE DST_FILE"),
    "revoke": (sc_revoke, "LABEL SRC_WHO DST_WHO"),
    "unauthorized": (sc_unauthorized, "SRC_WHO DST_WHO"),
    "zero": (sc_zero, "WHO"),
    "slicing": (sc_slicing, "SRC_WHO DST_WHO SRC_FILE BLOCKS CHUNK MAX_ROUNDS"),
    "pit": (sc_pit, "SRC_WHO DST_WHO SRC_FILE DST_FILE"),
    "expiry": (sc_expiry, "SRC_WHO DST_WHO METRICS"),
    "cancel": (sc_cancel, "SRC_WHO DST_WHO"),
    "abort": (sc_abort, "SRC_WHO DST_WHO SRC_FILE BLOCKS METRICS"),
    "limits": (sc_limits, "SRC_WHO DST_WHO MAX_LIVE METRICS"),
}


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in SCENARIOS:
        sys.exit(__doc__ + "\nSCENARIOS (WHO = INITIATOR@IQN/LUN):\n" +
                 "\n".join("  %s PORTAL %s" % (k, v[1]) for k, v in SCENARIOS.items()))
    fn, usage = SCENARIOS[sys.argv[1]]
    args = sys.argv[3:]
    if len(args) != len(usage.split()):
        sys.exit("usage: odx_probe.py %s PORTAL %s" % (sys.argv[1], usage))
    args = [int(a) if a.isdigit() else a for a in args]
    try:
        fn(sys.argv[2], *args)
    except (OSError, ConnectionError) as e:
        report(False, "%s: iSCSI session" % sys.argv[1], repr(e))
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
