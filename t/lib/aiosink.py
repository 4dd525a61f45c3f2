#!/usr/bin/python3
"""aiosink - an aiosmtpd server that records what it is sent, for tests.

    aiosink.py --port PORT --dir DIR [RULE...]

Every accepted message becomes DIR/NNNNNN.json (written to a temporary
name, then renamed): {"mail_from", "mail_options", "rcpt_tos",
"rcpt_options", "data"} with data as latin-1 text of the message exactly
as received (after the server undid dot-stuffing).

RULEs make it refuse, each "WHERE:REGEX=REPLY" (REGEX searched case-blind):
    --rule 'rcpt:^refuse-=550 5.1.1 no such user'
    --rule 'rcpt:^later-=450 4.2.0 try later'
    --rule 'mail:^bad@=553 5.1.8 bad sender'
    --rule 'data:X-Refuse: yes=554 5.6.0 content refused'
A REPLY may hold "\\n" for a multi-line reply ("550-first\\n550 second").

It prints "ready" on stdout once it listens, and stops on SIGTERM/SIGINT.
aiosmtpd offers SIZE and 8BITMIME but not PIPELINING, so clients talk to
it one command at a time.
"""
import argparse
import json
import os
import re
import signal
import threading

from aiosmtpd.controller import Controller


class Recorder:
    def __init__(self, directory, rules):
        self.dir = directory
        self.rules = rules
        self.lock = threading.Lock()
        self.n = 0

    def refusal(self, where, text):
        for w, rx, reply in self.rules:
            if w == where and rx.search(text):
                return reply.replace("\\n", "\r\n")
        return None

    async def handle_MAIL(self, server, session, envelope, address, options):
        r = self.refusal("mail", address)
        if r:
            return r
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        r = self.refusal("rcpt", address)
        if r:
            return r
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        text = data.decode("latin-1")
        r = self.refusal("data", text)
        if r:
            return r
        with self.lock:
            self.n += 1
            n = self.n
        rec = {"mail_from": envelope.mail_from,
               "mail_options": envelope.mail_options,
               "rcpt_tos": envelope.rcpt_tos,
               "rcpt_options": envelope.rcpt_options,
               "data": text}
        path = os.path.join(self.dir, "%06d.json" % n)
        with open(path + ".tmp", "w") as f:
            json.dump(rec, f)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 stored as %d" % n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--rule", action="append", default=[])
    a = ap.parse_args()
    rules = []
    for r in a.rule:
        where, rest = r.split(":", 1)
        rx, reply = rest.rsplit("=", 1)
        rules.append((where, re.compile(rx, re.I), reply))
    os.makedirs(a.dir, exist_ok=True)
    c = Controller(Recorder(a.dir, rules), hostname="127.0.0.1", port=a.port,
                   data_size_limit=64 * 1024 * 1024)
    c.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print("ready", flush=True)
    while not done.wait(1):
        pass
    c.stop()


if __name__ == "__main__":
    main()
