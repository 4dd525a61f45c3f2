#!/usr/bin/python3
"""lib-idle-clients.py - hold many idle SMTP connections open.

usage: lib-idle-clients.py HOST PORT COUNT READYFILE DONEFILE [MAXWAIT]

Opens COUNT TCP connections to HOST:PORT (a loopback address), one after
the other, and reads the greeting on each.  Then it writes one line
"ok=N refused=N failed=N greetings=CODE:N,..." to READYFILE (atomically,
via a temporary name) and keeps every connection open and silent until
DONEFILE exists (or MAXWAIT seconds, default 600, have passed).  Before
exiting it checks each connection once more without blocking and prints
"alive=N closed=N spoke=N" to stdout: closed = the server hung up while we
were idle, spoke = it sent something unasked (e.g. a 421).  Every
socket operation has a timeout, so nothing here waits forever.
Used by idle-rss.sh.
"""
import errno
import ipaddress
import os
import socket
import sys
import time


def read_greeting(sock):
    """The first reply line (up to CRLF), or b'' if the server hung up."""
    data = b""
    while b"\n" not in data and len(data) < 4096:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def main():
    if len(sys.argv) not in (6, 7):
        sys.exit(__doc__)
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    readyfile, donefile = sys.argv[4], sys.argv[5]
    maxwait = float(sys.argv[6]) if len(sys.argv) == 7 else 600.0
    if not ipaddress.ip_address(host).is_loopback:
        sys.exit("refusing to connect to non-loopback address %s" % host)

    socks = []
    refused = failed = 0
    codes = {}
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect((host, port))
            line = read_greeting(s)
        except ConnectionRefusedError:
            refused += 1
            s.close()
            continue
        except OSError:
            failed += 1
            s.close()
            continue
        code = line[:3].decode("ascii", "replace") or "EOF"
        codes[code] = codes.get(code, 0) + 1
        if code == "220":
            socks.append(s)
        else:
            failed += 1
            s.close()

    tmp = readyfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("ok=%d refused=%d failed=%d greetings=%s\n" % (
            len(socks), refused, failed,
            ",".join("%s:%d" % kv for kv in sorted(codes.items()))))
    os.rename(tmp, readyfile)

    deadline = time.monotonic() + maxwait
    while not os.path.exists(donefile) and time.monotonic() < deadline:
        time.sleep(0.1)

    alive = closed = spoke = 0
    for s in socks:
        s.setblocking(False)
        try:
            data = s.recv(4096)
            if data:
                spoke += 1
            else:
                closed += 1
        except BlockingIOError:
            alive += 1
        except OSError as e:
            if e.errno in (errno.ECONNRESET, errno.EPIPE):
                closed += 1
            else:
                raise
        s.close()
    print("alive=%d closed=%d spoke=%d" % (alive, closed, spoke), flush=True)


if __name__ == "__main__":
    main()
