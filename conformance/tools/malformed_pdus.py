#!/usr/bin/env python3
"""Throw garbage and malformed iSCSI PDUs at a target (robustness check).

Usage:
  malformed_pdus.py garbage HOST:PORT BYTES
      BYTES of random data over as many connections as it takes.
  malformed_pdus.py pdus HOST:PORT TARGET_IQN COUNT [SEED]
      COUNT malformed PDUs: before login, inside login, and after a real
      login (full feature phase): random opcodes, bad lengths, bogus AHS,
      random CDBs, unknown TTTs, out-of-window CmdSN, TMF/Text/NOP/Logout/
      SNACK with random fields, oversized data segment lengths, abrupt
      resets.

The target's answers are read and discarded. Exit status 0 when done (the
caller checks the target still serves); 1 if not even one connection
could be made.
"""
import os
import random
import socket
import struct
import sys
import time

OPCODES = [0x00, 0x12, 0x25, 0x28, 0x2A, 0x88, 0x8A, 0x9E, 0xA0, 0x35, 0x42, 0x93,
           0x89, 0x83, 0x84, 0x5E, 0x5F, 0xA3, 0x1A, 0x5A, 0x15, 0x55, 0x1B, 0x1E,
           0x2F, 0x8F, 0x41, 0x34, 0x90, 0x08, 0x0A, 0xAA, 0xA8, 0x2E, 0x8E, 0x48]


def connect(addr):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def drain(s):
    """Read whatever the target sent, without waiting."""
    s.setblocking(False)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        try:
            s.settimeout(1)
        except OSError:
            pass


def reset_close(s, rng):
    if rng.random() < 0.5:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def pad(data):
    return data + b"\0" * ((4 - len(data) % 4) % 4)


def bhs(op, flags, dlen, rest, ahs_len=0):
    """48-byte BHS: rest fills bytes 8..47."""
    rest = (rest + b"\0" * 40)[:40]
    return bytes([op, flags, 0, 0, ahs_len]) + dlen.to_bytes(3, "big") + rest


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise ConnectionError("closed")
        buf += d
    return buf


def read_pdu(s):
    h = recv_exact(s, 48)
    ahs = h[4] * 4
    dlen = int.from_bytes(h[5:8], "big")
    body = recv_exact(s, ahs + dlen + ((4 - dlen % 4) % 4))
    return h, body[ahs:ahs + dlen]


def login(addr, iqn, rng, isid=None):
    """Log in (AuthMethod=None) and return (socket, CmdSN, ExpStatSN)."""
    s = connect(addr)
    isid = isid or bytes([0x80, 0, rng.randrange(256), rng.randrange(256), rng.randrange(256), 1])
    keys = {
        0: ["InitiatorName=iqn.2026-11.org.xtgt.conformance:fuzzer", "TargetName=" + iqn,
            "SessionType=Normal", "AuthMethod=None"],
        1: ["HeaderDigest=None", "DataDigest=None", "MaxRecvDataSegmentLength=65536",
            "ImmediateData=Yes", "InitialR2T=Yes", "ErrorRecoveryLevel=0",
            "MaxBurstLength=262144", "FirstBurstLength=65536", "MaxConnections=1",
            "DefaultTime2Wait=0", "DefaultTime2Retain=0", "MaxOutstandingR2T=1",
            "DataPDUInOrder=Yes", "DataSequenceInOrder=Yes"],
    }
    csg, cmdsn, expstatsn = 0, 1, 0
    for _ in range(6):
        nsg = 1 if csg == 0 else 3
        data = pad(("\0".join(keys.get(csg, [])) + "\0").encode()) if keys.get(csg) else b""
        dlen = len(("\0".join(keys.get(csg, [])) + "\0").encode()) if keys.get(csg) else 0
        rest = isid + b"\0\0" + struct.pack(">IHHII", 1, 0, 0, cmdsn, expstatsn)
        s.sendall(bhs(0x43, 0x80 | (csg << 2) | nsg, dlen, rest) + data)
        h, _ = read_pdu(s)
        if h[0] & 0x3F != 0x23 or h[36] != 0:
            s.close()
            raise ConnectionError("login rejected: class %d detail %d" % (h[36], h[37]))
        expstatsn = struct.unpack(">I", h[24:28])[0] + 1
        cmdsn = struct.unpack(">I", h[28:32])[0]
        if h[1] & 0x80:
            csg = h[1] & 0x03
            if csg == 3:
                return s, cmdsn, expstatsn
    s.close()
    raise ConnectionError("login did not reach full feature phase")


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
        return bhs(0x01 | rng.choice([0, 0x40]), flags, dlen, rest) + pad(rng.randbytes(dlen))
    if kind == 4:  # Data-Out for an unknown or stale transfer
        dlen = rng.choice([0, 512, 8192, rng.randrange(70000)])
        rest = lun + struct.pack(">IIIIIII", itt, rng.randrange(1 << 32), 0, expstatsn, 0,
                                 rng.randrange(8), rng.randrange(1 << 32))
        return bhs(0x05, rng.choice([0x80, 0x00]), dlen, rest) + pad(rng.randbytes(dlen))
    if kind == 5:  # NOP-Out, sometimes with ping data, sometimes answering nothing
        dlen = rng.choice([0, 16, rng.randrange(70000)])
        ttt = rng.choice([0xFFFFFFFF, rng.randrange(1 << 32)])
        itt = rng.choice([0xFFFFFFFF, itt])
        rest = lun + struct.pack(">IIII", itt, ttt, sn, expstatsn)
        return bhs(0x00 | rng.choice([0, 0x40]), 0x80, dlen, rest) + pad(rng.randbytes(dlen))
    if kind == 6:  # Text request with junk keys
        text = rng.choice([b"SendTargets=All\0", b"X=" + b"A" * rng.randrange(9000) + b"\0",
                           rng.randbytes(rng.randrange(300)), b"=\0=\0\0\0", b"SendTargets\0"])
        rest = lun + struct.pack(">IIII", itt, 0xFFFFFFFF, sn, expstatsn)
        return bhs(0x04, rng.choice([0x80, 0x40, 0xC0, 0x00]), len(text), rest) + pad(text)
    if kind == 7:  # Task management, any function
        rest = lun + struct.pack(">IIIIII", itt, rng.randrange(1 << 32), sn, expstatsn,
                                 rng.randrange(1 << 32), rng.randrange(1 << 32))
        return bhs(0x02 | 0x40, 0x80 | rng.randrange(128), 0, rest)
    if kind == 8:  # SNACK (not allowed at ErrorRecoveryLevel 0)
        rest = lun + struct.pack(">IIIIII", itt, rng.randrange(1 << 32), 0, expstatsn, 0, 0)
        return bhs(0x10, 0x80 | rng.randrange(4), 0, rest)
    if kind == 9:  # Unknown or target-only opcode
        op = rng.choice([0x07, 0x08, 0x0F, 0x1C, 0x1E, 0x21, 0x25, 0x3C, 0x3F, rng.randrange(64)])
        dlen = rng.randrange(600)
        return bhs(op, rng.randrange(256), dlen, rng.randbytes(40)) + pad(rng.randbytes(dlen))
    if kind == 10:  # Bogus AHS
        ahs_words = rng.randrange(1, 20)
        cdb = bytes([0x28]) + rng.randbytes(15)
        rest = lun + struct.pack(">IIII", itt, 4096, sn, expstatsn) + cdb
        return bhs(0x01, 0xC0, 0, rest, ahs_len=ahs_words) + rng.randbytes(ahs_words * 4)
    # Oversized data segment length: the target must not buffer 16 MiB.
    rest = lun + struct.pack(">IIII", itt, 0, sn, expstatsn) + bytes([0x2A]) + bytes(15)
    return bhs(0x01, 0xA0, rng.choice([0xFFFFFF, 0x100000, 70000]), rest) + rng.randbytes(rng.randrange(4096))


def random_prelogin_pdu(rng, iqn):
    kind = rng.randrange(5)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 200))
    if kind == 1:  # random opcode before login
        dlen = rng.randrange(300)
        return bhs(rng.randrange(64), rng.randrange(256), dlen, rng.randbytes(40)) + pad(rng.randbytes(dlen))
    # Login request with broken parts
    text = rng.choice([
        b"InitiatorName=iqn.2026-11.org.xtgt.conformance:fuzzer\0TargetName=" + iqn.encode() + b"\0",
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
    return bhs(0x43, flags, dlen, rest, ahs_len=rng.choice([0, 0, 0, 1])) + pad(text)


DEADLINE_SECS = 240
# Connection attempts in a row that may fail before the target counts as gone.
MAX_CONNECT_FAILURES = 100


def garbage(addr, total):
    sent = conns = failures = 0
    deadline = time.monotonic() + DEADLINE_SECS
    while sent < total and time.monotonic() < deadline:
        try:
            s = connect(addr)
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
        try:
            while sent < total:
                chunk = os.urandom(min(65536, total - sent))
                s.sendall(chunk)
                sent += len(chunk)
                if not drain(s):
                    break
        except OSError:
            pass
        s.close()
    print("sent %d random bytes over %d connections" % (sent, conns))
    return 0 if conns else 1


def pdus(addr, iqn, count, seed):
    rng = random.Random(seed)
    sent = conns = logins = login_failures = failures = 0
    shared_isid = bytes([0x80, 0, 0x12, 0x34, 0x56, 1])
    deadline = time.monotonic() + DEADLINE_SECS
    while sent < count and time.monotonic() < deadline:
        if failures > MAX_CONNECT_FAILURES:
            print("target gone: %d connection attempts in a row failed" % failures)
            return 1
        try:
            if rng.random() < 0.25:
                try:
                    s = connect(addr)
                    s.settimeout(1)
                    failures = 0
                except OSError:
                    failures += 1
                    time.sleep(0.02)
                    continue
                conns += 1
                for _ in range(rng.randrange(1, 6)):
                    s.sendall(random_prelogin_pdu(rng, iqn))
                    sent += 1
                    if not drain(s):
                        break
                reset_close(s, rng)
                continue
            try:
                isid = shared_isid if rng.random() < 0.2 else None
                s, cmdsn, expstatsn = login(addr, iqn, rng, isid)
                s.settimeout(1)
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
            for _ in range(rng.randrange(1, 60)):
                s.sendall(random_ffp_pdu(rng, cmdsn, expstatsn))
                sent += 1
                if rng.random() < 0.8:
                    cmdsn = (cmdsn + 1) & 0xFFFFFFFF
                if not drain(s):
                    break
            reset_close(s, rng)
        except OSError:
            try:
                s.close()
            except (OSError, NameError):
                pass
            continue
    print("sent %d malformed PDUs over %d connections (%d logins, %d failed logins)"
          % (sent, conns, logins, login_failures))
    return 0 if conns else 1


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "garbage":
        return garbage(sys.argv[2], int(sys.argv[3]))
    if len(sys.argv) >= 5 and sys.argv[1] == "pdus":
        seed = int(sys.argv[5]) if len(sys.argv) > 5 else 1
        return pdus(sys.argv[2], sys.argv[3], int(sys.argv[4]), seed)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
