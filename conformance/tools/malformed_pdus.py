#!/usr/bin/env python3
"""Malformed iSCSI PDUs and garbage against a target, with the answers checked.

Usage:
  malformed_pdus.py classes HOST:PORT TARGET_IQN
      One connection per class of malformed PDU (after a real login where
      the class needs the full feature phase). Reads what comes back and
      checks it against RFC 7143: a Reject (opcode 0x3f) with the reason the
      RFC gives, the rejected header echoed and the connection still
      serving; or, for framing errors the target cannot resynchronise from,
      the connection closed. Prints "PASS <class>: ..." or "FAIL <class>:
      ..." per class and a closing count line; exit 1 if any class failed.
  malformed_pdus.py garbage HOST:PORT BYTES
      BYTES of random data over as many connections as it takes. Every
      byte the target sends back must parse as Login Response or Reject
      PDUs, and every connection must end (at the latest when the stream
      does). Exit 1 otherwise.
  malformed_pdus.py storm HOST:PORT TARGET_IQN COUNT [SEED]
      COUNT random malformed PDUs (load for the memory bound): before
      login, inside login and after a real login. Every answer is read and
      parsed; prints what was sent and what came back (by opcode and Reject
      reason). Exit 1 if fewer than COUNT were sent before the deadline, no
      login succeeded, or an answer is not a target PDU.
"""
import os
import random
import socket
import struct
import sys
import time

import iscsi_wire as w

IQN_PROBE = "iqn.2026-11.org.xtgt.conformance:malformed"
TIMEOUT = 5


# ---------------------------------------------------------------- classes
class Outcome(Exception):
    pass


def expect_reject(c, sent_bhs, reason, then):
    """The next PDU must be a Reject with `reason` echoing `sent_bhs`;
    then the connection must serve a NOP-Out ping ("open") or be closed
    without another PDU ("closed"). Returns a description of the answer."""
    try:
        h, data = c.read_pdu()
    except (ConnectionError, OSError) as e:
        raise Outcome("no Reject: connection ended (%s)" % e)
    op = h[0] & 0x3F
    if op != w.OP_REJECT:
        raise Outcome("answered with opcode 0x%02x, not a Reject (0x3f)" % op)
    if h[2] != reason:
        raise Outcome("Reject reason 0x%02x (%s), want 0x%02x (%s)" % (
            h[2], w.REASONS.get(h[2], "?"), reason, w.REASONS.get(reason, "?")))
    if h[1] != 0x80 or h[16:20] != b"\xff" * 4:
        raise Outcome("Reject byte 1 0x%02x / ITT %s, want 0x80 / ffffffff" % (h[1], h[16:20].hex()))
    if data[:48] != sent_bhs[:48]:
        raise Outcome("Reject does not echo the rejected header")
    got = "Reject 0x%02x (%s) echoing the header" % (reason, w.REASONS[reason])
    return got + ", then " + after(c, then)


def expect_closed(c):
    """The target must end the connection without sending a PDU."""
    try:
        h, _ = c.read_pdu()
    except (ConnectionError, OSError) as e:
        if isinstance(e, socket.timeout):
            raise Outcome("connection still open after %d s" % TIMEOUT)
        return "connection closed, nothing sent back"
    raise Outcome("answered with opcode 0x%02x instead of closing" % (h[0] & 0x3F))


def after(c, then):
    if then == "closed":
        try:
            h, _ = c.read_pdu()
        except socket.timeout:
            raise Outcome("connection still open %d s after the Reject" % TIMEOUT)
        except (ConnectionError, OSError):
            return "connection closed"
        raise Outcome("opcode 0x%02x after the Reject, want the connection closed" % (h[0] & 0x3F))
    try:
        if c.nop_ping(b"still-there") != b"still-there":
            raise Outcome("NOP-In after the Reject did not return the ping data")
    except (ConnectionError, OSError) as e:
        raise Outcome("connection no longer serves after the Reject (%s)" % e)
    return "the connection still serves a NOP-Out ping"


def nop_out_header(c, dlen, ahs_words=0, itt=None):
    itt = c.next_itt() if itt is None else itt
    rest = bytes(8) + struct.pack(">IIII", itt, 0xFFFFFFFF, c.cmdsn, c.expstatsn)
    return w.bhs(0x40 | w.OP_NOP_OUT, 0x80, dlen, rest, ahs_len=ahs_words)


def cls_unknown_opcode(addr, iqn, opcode):
    c = w.login(addr, iqn, IQN_PROBE)
    rest = bytes(8) + struct.pack(">IIII", c.next_itt(), 0xFFFFFFFF, c.cmdsn, c.expstatsn)
    h = w.bhs(0x40 | opcode, 0x80, 0, rest)
    c.send(h)
    return 1, expect_reject(c, h, 0x05, "open")


def cls_oversized(addr, iqn):
    c = w.login(addr, iqn, IQN_PROBE)
    n = c.target_mrdsl + 4
    h = nop_out_header(c, n)
    # The header alone: the target decides from its length field (and
    # unread bytes at its close would turn the FIN into a reset).
    c.send(h)
    return 1, expect_reject(c, h, 0x04, "closed")


def cls_truncated(addr, iqn):
    c = w.login(addr, iqn, IQN_PROBE)
    h = nop_out_header(c, 0)
    c.s.sendall(h[:30])
    c.s.shutdown(socket.SHUT_WR)
    return 1, expect_closed(c)


def cls_header_digest(addr, iqn):
    c = w.login(addr, iqn, IQN_PROBE, header_digest=True)
    c.send(nop_out_header(c, 4), b"ping", bad_header_digest=True)
    return 1, expect_closed(c)


def cls_data_digest(addr, iqn):
    c = w.login(addr, iqn, IQN_PROBE, data_digest=True)
    h = nop_out_header(c, 4)
    c.send(h, b"ping", bad_data_digest=True)
    return 1, expect_reject(c, h, 0x02, "open")


def cls_ahs_on_nop(addr, iqn):
    c = w.login(addr, iqn, IQN_PROBE)
    h = nop_out_header(c, 0, ahs_words=1)
    c.send(h + b"\x00\x01\x01\x00")  # AHSLength 1, type 1 (extended CDB), 1 byte
    return 1, expect_reject(c, h, 0x09, "open")


def cls_data_on_logout(addr, iqn):
    c = w.login(addr, iqn, IQN_PROBE)
    rest = bytes(8) + struct.pack(">IHHII", c.next_itt(), 0, 0, c.cmdsn, c.expstatsn)
    h = w.bhs(0x40 | w.OP_LOGOUT, 0x80 | 0x00, 8, rest)  # reason 0: close the session
    c.send(h, b"LOGOUT!\0")
    return 1, expect_reject(c, h, 0x09, "open")


def cls_data_on_tmf(addr, iqn):
    c = w.login(addr, iqn, IQN_PROBE)
    # ABORT TASK of an unknown task, with a data segment TMF requests never carry.
    rest = bytes(8) + struct.pack(">IIIIII", c.next_itt(), 0x12345678, c.cmdsn, c.expstatsn,
                                  c.cmdsn, 0)
    h = w.bhs(0x40 | w.OP_TMF, 0x80 | 0x01, 8, rest)
    c.send(h, b"TMFDATA\0")
    return 1, expect_reject(c, h, 0x09, "open")


def cls_text_final_and_continue(addr, iqn):
    c = w.login(addr, iqn, IQN_PROBE)
    text = b"SendTargets=All\0"
    rest = bytes(8) + struct.pack(">IIII", c.next_itt(), 0xFFFFFFFF, c.cmdsn, c.expstatsn)
    h = w.bhs(0x40 | w.OP_TEXT, 0x80 | 0x40, len(text), rest)  # F=1 and C=1
    c.send(h, text)
    return 1, expect_reject(c, h, 0x04, "open")


def cls_non_login_first(addr, iqn):
    c = w.Conn(w.connect(addr, TIMEOUT))
    rest = bytes(8) + struct.pack(">IIII", 1, 0xFFFFFFFF, 1, 0)
    c.send(w.bhs(0x40 | w.OP_NOP_OUT, 0x80, 0, rest))
    return 1, expect_closed(c)


# (name, RFC 7143 reference for the answer, function, args)
CLASSES = [
    ("non-Login PDU before login -> connection closed",
     "6.1: a PDU other than a Login Request before login ends the connection",
     cls_non_login_first, ()),
    ("undefined opcode 0x0f -> Reject 0x05",
     "11.17.1: Command not supported", cls_unknown_opcode, (0x0F,)),
    ("target opcode 0x21 sent by the initiator -> Reject 0x05",
     "11.17.1: Command not supported", cls_unknown_opcode, (0x21,)),
    ("data segment beyond MaxRecvDataSegmentLength -> Reject 0x04, closed",
     "11.17.1 / 13.12: protocol error; the stream cannot be resynchronised",
     cls_oversized, ()),
    ("truncated header -> connection closed",
     "framing: a partial BHS followed by end of stream", cls_truncated, ()),
    ("bad header digest -> connection closed",
     "7.8: without sync and steering the PDU boundary is lost", cls_header_digest, ()),
    ("bad data digest -> Reject 0x02, connection kept",
     "7.8: answer with Reject Data digest error and discard the PDU", cls_data_digest, ()),
    # A length field holding a value the PDU does not allow is an invalid
    # PDU field (11.17.1, reason 0x09); reserved bits are not checked at
    # all (11.2: a receiver ignores them).
    ("AHS on a NOP-Out -> Reject 0x09",
     "11.2 / 11.17.1: only the SCSI Command defines an AHS; Invalid PDU field",
     cls_ahs_on_nop, ()),
    ("data segment on a Logout Request -> Reject 0x09",
     "11.14 / 11.17.1: DataSegmentLength must be 0; Invalid PDU field",
     cls_data_on_logout, ()),
    ("data segment on a Task Management request -> Reject 0x09",
     "11.5 / 11.17.1: DataSegmentLength must be 0; Invalid PDU field", cls_data_on_tmf, ()),
    ("Text Request with F=1 and C=1 -> Reject 0x04",
     "11.10.2: C=1 requires F=0; protocol error", cls_text_final_and_continue, ()),
]


def classes(addr, iqn):
    failed = sent = 0
    for name, ref, fn, args in CLASSES:
        try:
            n, got = fn(addr, iqn, *args)
            sent += n
            print("PASS %s: %s" % (name, got))
        except Outcome as e:
            sent += 1
            failed += 1
            print("FAIL %s: %s (RFC 7143 %s)" % (name, e, ref))
        except (ConnectionError, OSError) as e:
            failed += 1
            print("FAIL %s: could not set up the connection: %s" % (name, e))
    print("%d classes, %d answered as RFC 7143 prescribes; %d malformed PDUs sent" % (
        len(CLASSES), len(CLASSES) - failed, sent))
    return 1 if failed else 0


# ---------------------------------------------------------------- answers
def split_pdus(buf):
    """PDUs (no digests) in `buf`: ([(opcode, byte2)], leftover byte count)."""
    pdus = []
    pos = 0
    while len(buf) - pos >= w.BHS_LEN:
        h = buf[pos:pos + w.BHS_LEN]
        dlen = int.from_bytes(h[5:8], "big")
        total = w.BHS_LEN + h[4] * 4 + dlen + (-dlen % 4)
        if len(buf) - pos < total:
            break
        pdus.append((h[0] & 0x3F, h[2]))
        pos += total
    return pdus, len(buf) - pos


def read_all(s, first=b""):
    """Everything until the target closes (or 5 s of silence)."""
    buf = first
    s.settimeout(TIMEOUT)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return buf, True
            buf += d
    except socket.timeout:
        return buf, False
    except OSError:
        return buf, True


def drain(s, buf):
    """Append what the target sent so far, without waiting; False if closed."""
    s.setblocking(False)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return False
            buf += d
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        try:
            s.settimeout(1)
        except OSError:
            pass


DEADLINE_SECS = 240
MAX_CONNECT_FAILURES = 100


def garbage(addr, total):
    sent = conns = failures = 0
    answers = {}
    problems = []
    deadline = time.monotonic() + DEADLINE_SECS
    while sent < total and time.monotonic() < deadline:
        try:
            s = w.connect(addr)
            s.settimeout(1)
            failures = 0
        except OSError:
            failures += 1
            if failures > MAX_CONNECT_FAILURES:
                print("target gone: %d connection attempts in a row failed" % failures)
                return 1
            time.sleep(0.05)
            continue
        conns += 1
        buf = bytearray()
        closed = False
        try:
            while sent < total:
                chunk = os.urandom(min(65536, total - sent))
                s.sendall(chunk)
                sent += len(chunk)
                if not drain(s, buf):
                    closed = True
                    break
        except OSError:
            closed = True
        if not closed:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        rest, closed_now = read_all(s, bytes(buf))
        s.close()
        if not (closed or closed_now):
            problems.append("connection %d still open %d s after the garbage ended" % (conns, TIMEOUT))
        pdus, leftover = split_pdus(rest)
        for op, _ in pdus:
            answers[op] = answers.get(op, 0) + 1
        bad = [op for op, _ in pdus if op not in (w.OP_LOGIN_RSP, w.OP_REJECT)]
        if bad or leftover:
            problems.append("connection %d: answers %s, %d bytes not a whole PDU" % (
                conns, ["0x%02x" % op for op in bad], leftover))
    what = ", ".join("%d x opcode 0x%02x" % (n, op) for op, n in sorted(answers.items())) or "nothing"
    print("sent %d random bytes over %d connections, every one closed; answers: %s" % (
        sent, conns, what))
    for p in problems[:5]:
        print("problem: " + p)
    if sent < total:
        print("only %d of %d bytes sent before the %d s deadline" % (sent, total, DEADLINE_SECS))
        return 1
    return 1 if problems or not conns else 0


# ---------------------------------------------------------------- storm
OPCODES = [0x00, 0x12, 0x25, 0x28, 0x2A, 0x88, 0x8A, 0x9E, 0xA0, 0x35, 0x42, 0x93,
           0x89, 0x83, 0x84, 0x5E, 0x5F, 0xA3, 0x1A, 0x5A, 0x15, 0x55, 0x1B, 0x1E,
           0x2F, 0x8F, 0x41, 0x34, 0x90, 0x08, 0x0A, 0xAA, 0xA8, 0x2E, 0x8E, 0x48]


def random_ffp_pdu(rng, cmdsn, expstatsn):
    """One malformed or odd full-feature-phase PDU."""
    kind = rng.randrange(12)
    itt = rng.randrange(1 << 32)
    lun = rng.choice([bytes(8), bytes([0, 1]) + bytes(6), bytes([0, 5]) + bytes(6), rng.randbytes(8)])
    sn = cmdsn if rng.random() < 0.7 else rng.randrange(1 << 32)
    if kind <= 3:  # SCSI command with a random CDB
        cdb = bytes([rng.choice(OPCODES)]) + rng.randbytes(15)
        flags = rng.choice([0x80, 0xC0, 0xA0, 0xE0, 0x00, rng.randrange(256)])
        edtl = rng.choice([0, 512, 4096, 65536, 1 << 20, rng.randrange(1 << 32)])
        dlen = rng.choice([0, 0, 512, rng.randrange(9000)])
        rest = lun + struct.pack(">IIII", itt, edtl, sn, expstatsn) + cdb
        return w.bhs(0x01 | rng.choice([0, 0x40]), flags, dlen, rest) + w.pad(rng.randbytes(dlen))
    if kind == 4:  # Data-Out for an unknown or stale transfer
        dlen = rng.choice([0, 512, 8192, rng.randrange(70000)])
        rest = lun + struct.pack(">IIIIIII", itt, rng.randrange(1 << 32), 0, expstatsn, 0,
                                 rng.randrange(8), rng.randrange(1 << 32))
        return w.bhs(0x05, rng.choice([0x80, 0x00]), dlen, rest) + w.pad(rng.randbytes(dlen))
    if kind == 5:  # NOP-Out, sometimes with ping data, sometimes answering nothing
        dlen = rng.choice([0, 16, rng.randrange(70000)])
        ttt = rng.choice([0xFFFFFFFF, rng.randrange(1 << 32)])
        itt = rng.choice([0xFFFFFFFF, itt])
        rest = lun + struct.pack(">IIII", itt, ttt, sn, expstatsn)
        return w.bhs(0x00 | rng.choice([0, 0x40]), 0x80, dlen, rest) + w.pad(rng.randbytes(dlen))
    if kind == 6:  # Text request with junk keys
        text = rng.choice([b"SendTargets=All\0", b"X=" + b"A" * rng.randrange(9000) + b"\0",
                           rng.randbytes(rng.randrange(300)), b"=\0=\0\0\0", b"SendTargets\0"])
        rest = lun + struct.pack(">IIII", itt, 0xFFFFFFFF, sn, expstatsn)
        return w.bhs(0x04, rng.choice([0x80, 0x40, 0xC0, 0x00]), len(text), rest) + w.pad(text)
    if kind == 7:  # Task management, any function
        rest = lun + struct.pack(">IIIIII", itt, rng.randrange(1 << 32), sn, expstatsn,
                                 rng.randrange(1 << 32), rng.randrange(1 << 32))
        return w.bhs(0x02 | 0x40, 0x80 | rng.randrange(128), 0, rest)
    if kind == 8:  # SNACK (not allowed at ErrorRecoveryLevel 0)
        rest = lun + struct.pack(">IIIIII", itt, rng.randrange(1 << 32), 0, expstatsn, 0, 0)
        return w.bhs(0x10, 0x80 | rng.randrange(4), 0, rest)
    if kind == 9:  # Unknown or target-only opcode
        op = rng.choice([0x07, 0x08, 0x0F, 0x1C, 0x1E, 0x21, 0x25, 0x3C, 0x3F, rng.randrange(64)])
        dlen = rng.randrange(600)
        return w.bhs(op, rng.randrange(256), dlen, rng.randbytes(40)) + w.pad(rng.randbytes(dlen))
    if kind == 10:  # Bogus AHS
        ahs_words = rng.randrange(1, 20)
        cdb = bytes([0x28]) + rng.randbytes(15)
        rest = lun + struct.pack(">IIII", itt, 4096, sn, expstatsn) + cdb
        return w.bhs(0x01, 0xC0, 0, rest, ahs_len=ahs_words) + rng.randbytes(ahs_words * 4)
    # Oversized data segment length: the target must not buffer 16 MiB.
    rest = lun + struct.pack(">IIII", itt, 0, sn, expstatsn) + bytes([0x2A]) + bytes(15)
    return w.bhs(0x01, 0xA0, rng.choice([0xFFFFFF, 0x100000, 70000]), rest) + rng.randbytes(rng.randrange(4096))


def random_prelogin_pdu(rng, iqn):
    kind = rng.randrange(5)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 200))
    if kind == 1:  # random opcode before login
        dlen = rng.randrange(300)
        return w.bhs(rng.randrange(64), rng.randrange(256), dlen, rng.randbytes(40)) + w.pad(rng.randbytes(dlen))
    # Login request with broken parts
    text = rng.choice([
        b"InitiatorName=" + IQN_PROBE.encode() + b"\0TargetName=" + iqn.encode() + b"\0",
        rng.randbytes(rng.randrange(600)),
        b"InitiatorName=\0TargetName=\0",
        b"AuthMethod=CHAP\0CHAP_A=5\0CHAP_N=x\0CHAP_R=0xzz\0",
        b"A" * 5000,
        b"InitiatorName=a\0InitiatorName=b\0SessionType=Bogus\0MaxRecvDataSegmentLength=0\0",
        b"SessionType=Discovery\0InitiatorName=iqn.2026-11.org.x:y\0HeaderDigest=CRC32C,None\0MaxRecvDataSegmentLength=99999999999\0",
    ])
    flags = rng.choice([0x81, 0x87, 0x8F, 0x83, 0x04, rng.randrange(256)])
    rest = rng.randbytes(6) + b"\0\0" + struct.pack(">IHHII", rng.randrange(1 << 32), 0, 0,
                                                    rng.randrange(1 << 32), 0)
    dlen = len(text) if rng.random() < 0.8 else rng.randrange(1 << 24)
    return w.bhs(0x43, flags, dlen, rest, ahs_len=rng.choice([0, 0, 0, 1])) + w.pad(text)


def reset_close(s, rng):
    if rng.random() < 0.5:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def storm(addr, iqn, count, seed):
    rng = random.Random(seed)
    sent = conns = logins = login_failures = failures = 0
    answers = {}
    foreign = 0
    target_ops = (w.OP_NOP_IN, w.OP_SCSI_RSP, w.OP_TMF_RSP, w.OP_LOGIN_RSP, w.OP_TEXT_RSP,
                  w.OP_DATA_IN, w.OP_LOGOUT_RSP, w.OP_R2T, w.OP_ASYNC, w.OP_REJECT)
    deadline = time.monotonic() + DEADLINE_SECS

    def account(buf):
        # The answers read before each connection was reset, cut into
        # PDUs (the last one may be cut short by the reset): each must
        # carry a target opcode.
        nonlocal foreign
        pdus, _ = split_pdus(bytes(buf))
        for op, b2 in pdus:
            key = "Reject 0x%02x" % b2 if op == w.OP_REJECT else "opcode 0x%02x" % op
            answers[key] = answers.get(key, 0) + 1
            if op not in target_ops:
                foreign += 1

    while sent < count and time.monotonic() < deadline:
        if failures > MAX_CONNECT_FAILURES:
            print("target gone: %d connection attempts in a row failed" % failures)
            return 1
        buf = bytearray()
        if rng.random() < 0.25:
            try:
                s = w.connect(addr)
                s.settimeout(1)
                failures = 0
            except OSError:
                failures += 1
                time.sleep(0.02)
                continue
            conns += 1
            try:
                for _ in range(rng.randrange(1, 6)):
                    s.sendall(random_prelogin_pdu(rng, iqn))
                    sent += 1
                    if not drain(s, buf):
                        break
            except OSError:
                pass
            account(buf)
            reset_close(s, rng)
            continue
        try:
            isid = bytes([0x80, 0, 0x12, 0x34, 0x56, 1]) if rng.random() < 0.2 else \
                bytes([0x80, 0, rng.randrange(256), rng.randrange(256), rng.randrange(256), 1])
            c = w.login(addr, iqn, IQN_PROBE, isid=isid)
            c.s.settimeout(1)
            logins += 1
            conns += 1
            failures = 0
        except (OSError, ConnectionError):
            login_failures += 1
            failures += 1
            if login_failures > 50 and logins == 0:
                print("cannot log in to %s at all" % iqn)
                return 1
            time.sleep(0.02)
            continue
        cmdsn = c.cmdsn
        try:
            for _ in range(rng.randrange(1, 60)):
                c.s.sendall(random_ffp_pdu(rng, cmdsn, c.expstatsn))
                sent += 1
                if rng.random() < 0.8:
                    cmdsn = (cmdsn + 1) & 0xFFFFFFFF
                if not drain(c.s, buf):
                    break
        except OSError:
            pass
        account(buf)
        reset_close(c.s, rng)
    what = ", ".join("%d x %s" % (n, k) for k, n in sorted(answers.items())) or "nothing"
    print("sent %d of %d malformed PDUs over %d connections (%d logins, %d failed logins); answers: %s"
          % (sent, count, conns, logins, login_failures, what))
    if sent < count:
        print("deadline of %d s reached before all PDUs were sent" % DEADLINE_SECS)
        return 1
    if foreign:
        print("%d answers do not carry a target opcode: the stream is out of step" % foreign)
        return 1
    return 0 if logins else 1


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "classes":
        return classes(sys.argv[2], sys.argv[3])
    if len(sys.argv) == 4 and sys.argv[1] == "garbage":
        return garbage(sys.argv[2], int(sys.argv[3]))
    if len(sys.argv) in (5, 6) and sys.argv[1] == "storm":
        seed = int(sys.argv[5]) if len(sys.argv) > 5 else 1
        return storm(sys.argv[2], sys.argv[3], int(sys.argv[4]), seed)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
