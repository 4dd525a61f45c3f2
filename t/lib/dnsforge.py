#!/usr/bin/python3
"""t/lib/dnsforge.py - a DNS forwarder over UDP that lies to resolvers
which do not ask for DNSSEC, as an attacker on the path could.

    dnsforge.py LISTEN_PORT UPSTREAM_PORT [NAME=MXHOST | NAME=NXDOMAIN]...

Listens on 127.0.0.1:LISTEN_PORT.  A question for the MX records of a NAME
given, without the DO bit (RFC 3225: a resolver that does not validate),
gets a forged answer: "MX 10 MXHOST", or NXDOMAIN.  Every other question
(the validating resolver's) goes to 127.0.0.1:UPSTREAM_PORT unchanged,
and its answer back.  Prints "ready" once it listens."""
import socket
import struct
import sys

QTYPE_MX, QTYPE_OPT = 15, 41


def question(q):
    """(name, type, end of the question, DO bit set) of a query"""
    at, labels = 12, []
    while q[at] != 0:
        labels.append(q[at + 1:at + 1 + q[at]].decode('ascii', 'replace'))
        at += 1 + q[at]
    qtype = struct.unpack('!H', q[at + 1:at + 3])[0]
    end = at + 5
    do = False
    if struct.unpack('!H', q[10:12])[0] >= 1 and len(q) >= end + 11 \
            and q[end] == 0 and struct.unpack('!H', q[end + 1:end + 3])[0] == QTYPE_OPT:
        do = bool(struct.unpack('!H', q[end + 7:end + 9])[0] & 0x8000)
    return '.'.join(labels).lower(), qtype, end, do


def wire(name):
    out = b''
    for label in name.rstrip('.').split('.'):
        out += bytes([len(label)]) + label.encode('ascii')
    return out + b'\0'


def forged(q, end, target):
    if target == 'NXDOMAIN':
        return q[:2] + struct.pack('!HHHHH', 0x8183, 1, 0, 0, 0) + q[12:end]
    rdata = struct.pack('!H', 10) + wire(target)
    answer = b'\xc0\x0c' + struct.pack('!HHIH', QTYPE_MX, 1, 300, len(rdata)) + rdata
    return q[:2] + struct.pack('!HHHHH', 0x8180, 1, 1, 0, 0) + q[12:end] + answer


def main():
    listen, upstream = int(sys.argv[1]), int(sys.argv[2])
    lies = dict(a.lower().split('=', 1) for a in sys.argv[3:])
    lies = {k: (v.upper() if v.lower() == 'nxdomain' else v) for k, v in lies.items()}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('127.0.0.1', listen))
    print('ready', flush=True)
    while True:
        q, peer = s.recvfrom(4096)
        try:
            name, qtype, end, do = question(q)
        except (IndexError, struct.error):
            continue
        if qtype == QTYPE_MX and not do and name in lies:
            s.sendto(forged(q, end, lies[name]), peer)
            continue
        up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        up.settimeout(5)
        try:
            up.sendto(q, ('127.0.0.1', upstream))
            s.sendto(up.recv(65535), peer)
        except OSError:
            pass
        finally:
            up.close()


main()
