#!/usr/bin/python3
"""badsmtp - broken and hostile SMTP servers, for t/4*.t and t/8*.t.

    badsmtp.py --dir DIR MODE=HOST:PORT...

Each MODE listens on its own HOST:PORT (loopback only) and plays an
otherwise plain SMTP server (no PIPELINING) that misbehaves as follows;
"stall" means: say nothing more, keep the connection open until the
client closes it (at most 120 s).

    tarpit    accept, never say anything
    drip      "220 " then one byte every 0.3 s, never a line end
    endless   "220 " then 2 MiB without a line end, then stall
    flood     a 401-line greeting (more lines than a client should take)
    garbage   4 KiB of random bytes (CR and LF among them), then close
    badcode   greeting "999 what"
    nulcode   greeting "2\\0" "20 ..." (NUL inside the code)
    mixed     EHLO reply "250-", "220-", "250 " (codes change mid-reply)
    nocont    RCPT reply "250-..." and then stall (continuation missing)
    closeearly   close right after accepting
    closedot  read the message, close without a reply
    stalldot  read the message, never answer the final dot
    data250   answer DATA with 250 instead of 354
    rcpt421   answer RCPT with 421 and close
    greet554  greeting "554 5.7.1 no service"
    nul       NUL bytes in reply text: the greeting, and "550 5.1.1 no\\0such"
              at RCPT
    multi550  final dot answered with a 3-line 550 reply
    mismatch  RCPT answered "550 4.1.1 ..." (enhanced code of another class)
    bytewise  a correct server that sends every reply one byte at a time
    longlines a correct server whose every reply line carries 5000 bytes
    lf        a correct server whose replies end in a bare LF
    seven     a correct server that does not offer 8BITMIME (only SIZE)
    tlsjunk   offers STARTTLS, answers it "220" and then sends garbage
              where the TLS handshake should be, and closes
    tls454    offers STARTTLS and refuses it: "454 4.7.0 ..."

What each client sent goes to DIR/MODE.N.in (N counts its connections);
a message a server read goes to DIR/MODE.N.msg.  Prints "ready" once all
listen; stops on SIGTERM.
"""
import os
import random
import signal
import socket
import sys
import threading
import time

STALL, CLOSE = "stall", "close"


class Conn:
    def __init__(self, sock, mode, base):
        self.s = sock
        self.mode = mode
        self.base = base
        self.rec = open(base + ".in", "wb")
        self.buf = b""

    def send(self, data):
        if self.mode == "bytewise":
            for i in range(len(data)):
                self.s.sendall(data[i:i + 1])
                time.sleep(0.002)
        else:
            self.s.sendall(data)

    def line(self, limit=60):
        """one line from the client (with its LF), b"" at EOF/timeout"""
        end = time.time() + limit
        while b"\n" not in self.buf:
            left = end - time.time()
            if left <= 0:
                return b""
            self.s.settimeout(left)
            try:
                b = self.s.recv(65536)
            except OSError:
                return b""
            if not b:
                return b""
            self.rec.write(b)
            self.rec.flush()
            self.buf += b
        i = self.buf.index(b"\n") + 1
        ln, self.buf = self.buf[:i], self.buf[i:]
        return ln

    def stall(self):
        end = time.time() + 120
        while time.time() < end:
            self.s.settimeout(end - time.time())
            try:
                b = self.s.recv(65536)
            except OSError:
                return
            if not b:
                return
            self.rec.write(b)
            self.rec.flush()

    def reply(self, what, default):
        """send what (bytes), or default when what is None; False: stop"""
        if what is None:
            what = default
        if what == STALL:
            self.stall()
            return False
        if what == CLOSE:
            return False
        if callable(what):
            return what(self)
        self.send(what)
        return True


def drip(c):
    c.send(b"220 ")
    end = time.time() + 60
    while time.time() < end:
        time.sleep(0.3)
        c.send(b"x")
    return False


def endless(c):
    chunk = b"220 " + b"x" * 65532
    for _ in range(32):
        c.send(chunk)
    c.stall()
    return False


def garbage(c):
    c.send(bytes(random.Random(42).getrandbits(8) for _ in range(4096)))
    return False


def tlsjunk(c):
    c.send(b"220 2.0.0 go ahead\r\n")
    time.sleep(0.1)
    c.send(b"this is no TLS server hello\r\n" * 4)
    return False


def nocont(c):
    c.send(b"250-2.1.5 ok, and there is more\r\n")
    c.stall()
    return False


def rcpt421(c):
    c.send(b"421 4.3.2 shutting down now\r\n")
    return False


L = b"x" * 5000
OVERRIDES = {
    "tarpit": {"GREET": STALL},
    "drip": {"GREET": drip},
    "endless": {"GREET": endless},
    "flood": {"GREET": b"220-flood\r\n" * 400 + b"220 flood\r\n"},
    "garbage": {"GREET": garbage},
    "badcode": {"GREET": b"999 what\r\n"},
    "nulcode": {"GREET": b"2\x0020 bad.test\r\n"},
    "mixed": {"EHLO": b"250-bad.test\r\n220-mixed up\r\n250 8BITMIME\r\n"},
    "nocont": {"RCPT": nocont},
    "closeearly": {"GREET": CLOSE},
    "closedot": {"DOT": CLOSE},
    "stalldot": {"DOT": STALL},
    "data250": {"DATA": b"250 2.0.0 no data wanted\r\n"},
    "rcpt421": {"RCPT": rcpt421},
    "greet554": {"GREET": b"554 5.7.1 no service for you\r\n"},
    "nul": {"GREET": b"220 bad\x00.test ready\r\n",
            "RCPT": b"550 5.1.1 no\x00such user\r\n"},
    "multi550": {"DOT": b"550-5.7.1 first line of three\r\n"
                        b"550-5.7.1 second line\r\n550 5.7.1 third line\r\n"},
    "mismatch": {"RCPT": b"550 4.1.1 an enhanced code of the wrong class\r\n"},
    "bytewise": {},
    "tlsjunk": {"EHLO": b"250-bad.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
                "STARTTLS": tlsjunk},
    "tls454": {"EHLO": b"250-bad.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
               "STARTTLS": b"454 4.7.0 TLS not available now\r\n"},
    "seven": {"EHLO": b"250-bad.test\r\n250 SIZE 100000000\r\n"},
    "longlines": {"GREET": b"220 " + L + b"\r\n",
                  "EHLO": b"250-" + L + b"\r\n250 " + L + b"\r\n",
                  "MAIL": b"250 " + L + b"\r\n", "RCPT": b"250 " + L + b"\r\n",
                  "DATA": b"354 " + L + b"\r\n", "DOT": b"250 " + L + b"\r\n",
                  "QUIT": b"221 " + L + b"\r\n"},
    "lf": {"GREET": b"220 bad.test\n", "EHLO": b"250-bad.test\n250 8BITMIME\n",
           "MAIL": b"250 2.1.0 ok\n", "RCPT": b"250 2.1.5 ok\n",
           "DATA": b"354 go\n", "DOT": b"250 2.0.0 ok\n", "QUIT": b"221 bye\n"},
}


def serve(c):
    o = OVERRIDES[c.mode]
    if not c.reply(o.get("GREET"), b"220 bad.test ESMTP\r\n"):
        return
    while True:
        ln = c.line()
        if not ln:
            return
        cmd = ln.split(b" ", 1)[0].split(b":", 1)[0].strip().upper().decode("latin-1")
        if cmd == "EHLO":
            go = c.reply(o.get("EHLO"), b"250-bad.test\r\n250 8BITMIME\r\n")
        elif cmd in ("MAIL", "RCPT"):
            go = c.reply(o.get(cmd), b"250 2.1.0 ok\r\n")
        elif cmd == "DATA":
            what = o.get("DATA")
            go = c.reply(what, b"354 go ahead\r\n")
            if go and (what is None or what.startswith(b"354")):
                msg = b""
                while True:
                    ln = c.line()
                    if not ln:
                        return
                    if ln == b".\r\n":
                        break
                    msg += ln
                with open(c.base + ".msg", "wb") as f:
                    f.write(msg)
                go = c.reply(o.get("DOT"), b"250 2.0.0 ok\r\n")
        elif cmd == "QUIT":
            c.reply(o.get("QUIT"), b"221 2.0.0 bye\r\n")
            return
        else:
            go = c.reply(o.get(cmd), b"250 2.0.0 ok\r\n")
        if not go:
            return


def handle(sock, mode, base):
    c = Conn(sock, mode, base)
    try:
        serve(c)
    except OSError:
        pass
    finally:
        c.rec.close()
        try:
            sock.close()
        except OSError:
            pass


def listen(mode, host, port, directory):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(32)

    def loop():
        n = 0
        while True:
            try:
                s, _ = ls.accept()
            except OSError:
                return
            n += 1
            base = os.path.join(directory, "%s.%d" % (mode, n))
            threading.Thread(target=handle, args=(s, mode, base),
                             daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
    return ls


def main():
    args = sys.argv[1:]
    if len(args) < 3 or args[0] != "--dir":
        sys.exit(__doc__)
    directory = args[1]
    os.makedirs(directory, exist_ok=True)
    socks = []
    for spec in args[2:]:
        mode, addr = spec.split("=", 1)
        if mode not in OVERRIDES:
            sys.exit("unknown mode " + mode)
        host, port = addr.rsplit(":", 1)
        socks.append(listen(mode, host, int(port), directory))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print("ready", flush=True)
    while not done.wait(1):
        pass
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
