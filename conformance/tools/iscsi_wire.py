"""Minimal iSCSI initiator side for the conformance tools (imported, not run).

PDU building and reading (RFC 7143 11), CRC32C digests (RFC 7143 13.1,
Appendix B), a login to the full feature phase with chosen keys, and SCSI
commands with immediate data or Data-In. Only what the probes need; every
read is bounded by a socket timeout so a silent target fails the caller
instead of hanging it.
"""
import socket
import struct

BHS_LEN = 48
OP_NOP_OUT, OP_SCSI_CMD, OP_TMF, OP_LOGIN, OP_TEXT, OP_DATA_OUT, OP_LOGOUT, OP_SNACK = (
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x10)
OP_NOP_IN, OP_SCSI_RSP, OP_TMF_RSP, OP_LOGIN_RSP, OP_TEXT_RSP, OP_DATA_IN = (
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25)
OP_LOGOUT_RSP, OP_R2T, OP_ASYNC, OP_REJECT = 0x26, 0x31, 0x32, 0x3F

# RFC 7143 11.17.1 Reject reasons.
REASONS = {
    0x02: "Data digest error", 0x03: "SNACK Reject", 0x04: "Protocol Error",
    0x05: "Command not supported", 0x06: "Immediate command reject",
    0x07: "Task in progress", 0x08: "Invalid data ack", 0x09: "Invalid PDU field",
    0x0A: "Long op reject", 0x0C: "Waiting for Logout",
}


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data):
    """CRC32C as carried on the wire: 4 bytes, little endian."""
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return struct.pack("<I", c ^ 0xFFFFFFFF)


def pad(data):
    return data + b"\0" * (-len(data) % 4)


def bhs(op, flags, dlen, rest, ahs_len=0):
    """48-byte BHS: byte 0 opcode (with I bit), byte 1 flags, bytes 2-3
    zero, TotalAHSLength (in 4-byte words), DataSegmentLength; rest fills
    bytes 8..47."""
    rest = (rest + b"\0" * 40)[:40]
    return bytes([op, flags, 0, 0, ahs_len]) + dlen.to_bytes(3, "big") + rest


def connect(addr, timeout=5):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise ConnectionError("closed after %d of %d bytes" % (len(buf), n))
        buf += d
    return buf


class Conn:
    """A connection with the digests in force (both off until login says)."""

    def __init__(self, sock):
        self.s = sock
        self.header_digest = False
        self.data_digest = False
        self.cmdsn = 1
        self.expstatsn = 0
        self.itt = 0x100
        self.target_mrdsl = 8192  # RFC 7143 13.12 default
        self.target_keys = {}

    def frame(self, header, data=b"", bad_header_digest=False, bad_data_digest=False):
        """Header (BHS + AHS) and data as they go on the wire."""
        out = header
        if self.header_digest:
            d = crc32c(header)
            out += bytes([d[0] ^ 0xFF]) + d[1:] if bad_header_digest else d
        if data:
            out += pad(data)
            if self.data_digest:
                d = crc32c(pad(data))
                out += bytes([d[0] ^ 0xFF]) + d[1:] if bad_data_digest else d
        return out

    def send(self, header, data=b"", **bad):
        self.s.sendall(self.frame(header, data, **bad))

    def read_pdu(self):
        """(bhs, data) of the next PDU; ConnectionError when closed."""
        h = recv_exact(self.s, BHS_LEN)
        ahs = recv_exact(self.s, h[4] * 4)
        if self.header_digest:
            recv_exact(self.s, 4)
        dlen = int.from_bytes(h[5:8], "big")
        data = recv_exact(self.s, dlen + (-dlen % 4))[:dlen] if dlen else b""
        if dlen and self.data_digest:
            recv_exact(self.s, 4)
        del ahs
        return h, data

    def next_itt(self):
        self.itt += 1
        return self.itt

    def nop_ping(self, payload=b"ping"):
        """An immediate NOP-Out ping; returns the NOP-In's data (or raises)."""
        itt = self.next_itt()
        rest = bytes(8) + struct.pack(">IIII", itt, 0xFFFFFFFF, self.cmdsn, self.expstatsn)
        self.send(bhs(0x40 | OP_NOP_OUT, 0x80, len(payload), rest), payload)
        while True:
            h, data = self.read_pdu()
            if h[0] & 0x3F == OP_NOP_IN and struct.unpack(">I", h[16:20])[0] == itt:
                self.expstatsn = struct.unpack(">I", h[24:28])[0] + 1
                return data
            if h[0] & 0x3F == OP_REJECT:
                raise ConnectionError("NOP-Out ping rejected, reason 0x%02x" % h[2])


def parse_keys(data):
    keys = {}
    for kv in data.split(b"\0"):
        if b"=" in kv:
            k, v = kv.split(b"=", 1)
            keys[k.decode(errors="replace")] = v.decode(errors="replace")
    return keys


def login(addr, target, initiator="iqn.2026-11.org.xtgt.conformance:probe",
          isid=b"\x80\x00\x00\x00\x01\x01", header_digest=False, data_digest=False,
          mrdsl=65536, timeout=5):
    """Log in (AuthMethod=None) to the full feature phase; returns a Conn
    with the negotiated digests in force."""
    c = Conn(connect(addr, timeout))
    want_hd = "CRC32C" if header_digest else "None"
    want_dd = "CRC32C" if data_digest else "None"
    stages = [
        (0, 1, ["InitiatorName=" + initiator, "TargetName=" + target,
                "SessionType=Normal", "AuthMethod=None"]),
        (1, 3, ["HeaderDigest=" + want_hd, "DataDigest=" + want_dd,
                "MaxRecvDataSegmentLength=%d" % mrdsl, "ImmediateData=Yes",
                "InitialR2T=Yes", "FirstBurstLength=65536", "MaxBurstLength=262144",
                "ErrorRecoveryLevel=0", "MaxConnections=1", "DefaultTime2Wait=0",
                "DefaultTime2Retain=0"]),
    ]
    for csg, nsg, keys in stages:
        text = ("\0".join(keys) + "\0").encode()
        rest = isid + b"\0\0" + struct.pack(">IHHII", 1, 0, 0, c.cmdsn, c.expstatsn)
        c.send(bhs(0x40 | OP_LOGIN, 0x80 | (csg << 2) | nsg, len(text), rest), text)
        h, data = c.read_pdu()
        if h[0] & 0x3F != OP_LOGIN_RSP or h[36] != 0:
            c.s.close()
            raise ConnectionError("login refused: class %d detail %d" % (h[36], h[37]))
        c.target_keys.update(parse_keys(data))
        c.expstatsn = struct.unpack(">I", h[24:28])[0] + 1
        c.cmdsn = struct.unpack(">I", h[28:32])[0]
        if h[1] & 0x80 and h[1] & 0x03 == 3:
            c.header_digest = c.target_keys.get("HeaderDigest") == "CRC32C"
            c.data_digest = c.target_keys.get("DataDigest") == "CRC32C"
            if c.header_digest != header_digest or c.data_digest != data_digest:
                c.s.close()
                raise ConnectionError("digests not negotiated as asked: %s" % c.target_keys)
            try:
                c.target_mrdsl = int(c.target_keys.get("MaxRecvDataSegmentLength", "8192"))
            except ValueError:
                c.target_mrdsl = 8192
            return c
    c.s.close()
    raise ConnectionError("login did not reach the full feature phase")


def scsi_command(c, cdb, lun=0, data_out=b"", data_in_len=0, retries_on_ua=3):
    """One SCSI command (immediate data only, so len(data_out) must fit the
    target's MaxRecvDataSegmentLength and FirstBurstLength). Returns
    (status, sense_bytes, data_in); a UNIT ATTENTION is retried."""
    for _ in range(retries_on_ua + 1):
        itt = c.next_itt()
        flags = 0x80 | 0x01  # F, ATTR=SIMPLE
        if data_out:
            flags |= 0x20
        if data_in_len:
            flags |= 0x40
        edtl = len(data_out) or data_in_len
        lun_bytes = bytes([0, lun]) + bytes(6)
        rest = lun_bytes + struct.pack(">IIII", itt, edtl, c.cmdsn, c.expstatsn) + (bytes(cdb) + bytes(16))[:16]
        c.send(bhs(OP_SCSI_CMD, flags, len(data_out), rest), data_out)
        c.cmdsn = (c.cmdsn + 1) & 0xFFFFFFFF
        data_in = b""
        while True:
            h, data = c.read_pdu()
            op = h[0] & 0x3F
            if op == OP_DATA_IN and struct.unpack(">I", h[16:20])[0] == itt:
                data_in += data
                if h[1] & 0x01:  # S: status in the Data-In
                    c.expstatsn = struct.unpack(">I", h[24:28])[0] + 1
                    return h[3], b"", data_in
                continue
            if op == OP_SCSI_RSP and struct.unpack(">I", h[16:20])[0] == itt:
                c.expstatsn = struct.unpack(">I", h[24:28])[0] + 1
                status = h[3]
                sense = b""
                if status == 0x02 and len(data) >= 2:
                    sense = data[2:2 + int.from_bytes(data[:2], "big")]
                break
            if op == OP_REJECT:
                raise ConnectionError("command rejected, reason 0x%02x" % h[2])
        if status == 0x02 and sense_key(sense) == 0x06:
            continue
        return status, sense, data_in
    return status, sense, data_in


def sense_key(sense):
    """Sense key of fixed (0x70/0x71) or descriptor (0x72/0x73) sense."""
    if len(sense) < 3:
        return None
    if sense[0] & 0x7F in (0x72, 0x73):
        return sense[1] & 0x0F
    return sense[2] & 0x0F


def sense_code(sense):
    """(key, ASC, ASCQ) of fixed or descriptor sense, None if too short."""
    if len(sense) >= 4 and sense[0] & 0x7F in (0x72, 0x73):
        return sense[1] & 0x0F, sense[2], sense[3]
    if len(sense) >= 14:
        return sense[2] & 0x0F, sense[12], sense[13]
    return None
