#!/usr/bin/env python3
"""A loopback DNS stub for bench/compare.sh.

mailhost checks SPF, DKIM and DMARC on mail that arrives on its MX port,
and with no `[delivery] dns_server` it would ask the system's resolvers,
which are not on loopback. The benchmark points it here instead. Every
name the benchmark uses is under .test or .local, which do not exist in
the public DNS, so the truthful answer to every query is what the root
servers say: NXDOMAIN, with the root zone's SOA in the authority section
(its minimum, 86400 s, is the negative-caching TTL, RFC 2308), which is
what a warm caching resolver next to a real mail server would hand back.

Usage: dns-stub.py 127.0.0.1:PORT   (loopback only; UDP only: the answers
are never truncated, so resolvers never retry over TCP). Runs until
SIGTERM/SIGINT, then prints how many queries it answered.
"""

import ipaddress
import signal
import socket
import struct
import sys


def name(labels):
    return b"".join(bytes([len(l)]) + l for l in labels) + b"\x00"


# . SOA a.root-servers.net. nstld.verisign-grs.com. 2026112200 1800 900 604800 86400
SOA_RDATA = (
    name([b"a", b"root-servers", b"net"])
    + name([b"nstld", b"verisign-grs", b"com"])
    + struct.pack("!IIIII", 2026112200, 1800, 900, 604800, 86400)
)
AUTHORITY = b"\x00" + struct.pack("!HHIH", 6, 1, 86400, len(SOA_RDATA)) + SOA_RDATA


def answer(q):
    """The reply to query q, or None to drop it (not a query, malformed)."""
    if len(q) < 12:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", q[:6])
    if flags & 0x8000:  # a response, not a query
        return None
    opcode = (flags >> 11) & 0xF
    rd = flags & 0x0100
    # Walk the one question: labels up to the root, then QTYPE and QCLASS.
    i = 12
    while qdcount == 1 and opcode == 0 and i < len(q) and q[i] != 0:
        if q[i] & 0xC0:  # no compression in a question we are asked
            i = len(q)
            break
        i += 1 + q[i]
    if qdcount != 1 or opcode != 0 or i + 5 > len(q):
        # FORMERR (or NOTIMP for other opcodes), no question echoed.
        rcode = 4 if opcode != 0 else 1
        return struct.pack("!HHHHHH", qid, 0x8000 | (opcode << 11) | rd | 0x0080 | rcode, 0, 0, 0, 0)
    question = q[12 : i + 5]
    # QR, RD copied, RA, NXDOMAIN; one question, no answer, one SOA.
    hdr = struct.pack("!HHHHHH", qid, 0x8000 | rd | 0x0080 | 3, 1, 0, 1, 0)
    return hdr + question + AUTHORITY


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: dns-stub.py 127.0.0.1:PORT")
    host, port = sys.argv[1].rsplit(":", 1)
    if not ipaddress.ip_address(host).is_loopback:
        sys.exit(f"dns-stub.py: {host} is not a loopback address")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, int(port)))
    served = 0

    def stop(*_):
        print(f"dns-stub: answered {served} queries", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"dns-stub: listening on {host}:{port}", flush=True)
    while True:
        q, peer = s.recvfrom(4096)
        r = answer(q)
        if r is not None:
            s.sendto(r, peer)
            served += 1


if __name__ == "__main__":
    main()
