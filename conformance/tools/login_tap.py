#!/usr/bin/env python3
"""A TCP relay that records the text keys of iSCSI Login PDUs.

Usage: login_tap.py TARGET_HOST:PORT PORT_FILE LOG_FILE

Listens on 127.0.0.1 (a free port, written to PORT_FILE), relays every
connection to the target and appends the key=value pairs of Login
requests (opcode 0x03, "> ") and Login responses (0x23, "< ") to LOG_FILE.
After the first non-login PDU a direction is relayed without parsing
(digests may follow). Used to verify what an initiator negotiated.
"""
import socket
import sys
import threading

BHS = 48


def relay(src, dst, log, lock, arrow):
    buf = b""
    parsing = True
    try:
        while True:
            data = src.recv(262144)
            if not data:
                break
            dst.sendall(data)
            if not parsing:
                continue
            buf += data
            while parsing and len(buf) >= BHS:
                opcode = buf[0] & 0x3F
                ahs = buf[4] * 4
                dlen = int.from_bytes(buf[5:8], "big")
                total = BHS + ahs + dlen + ((4 - dlen % 4) % 4)
                if opcode not in (0x03, 0x23):
                    parsing = False
                    buf = b""
                    break
                if len(buf) < total:
                    break
                text = buf[BHS + ahs:BHS + ahs + dlen]
                with lock:
                    for kv in text.split(b"\0"):
                        if kv:
                            log.write("%s %s\n" % (arrow, kv.decode("utf-8", "replace")))
                    log.flush()
                buf = buf[total:]
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    log = open(sys.argv[3], "a")
    lock = threading.Lock()
    with open(sys.argv[2], "w") as f:
        f.write(str(lsock.getsockname()[1]))
    while True:
        client, _ = lsock.accept()
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)))
        except OSError:
            client.close()
            continue
        threading.Thread(target=relay, args=(client, upstream, log, lock, ">"), daemon=True).start()
        threading.Thread(target=relay, args=(upstream, client, log, lock, "<"), daemon=True).start()


if __name__ == "__main__":
    main()
