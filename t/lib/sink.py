#!/usr/bin/python3
"""sink - an aiosmtpd peer that records what it is sent: the one SMTP
recorder of the tests (the forwarding tests t/4*.t and t/8*.t through
t/lib/forward.sh, the mta-send tests t/5*.t through t/lib/sink.sh).

    sink.py [--host 127.0.0.2] --port PORT --dir DIR [options]

Every accepted message becomes two files in DIR, each written to a
temporary name and renamed, the .json last (wait for it):
    NNNNNN.eml   the message bytes as received (aiosmtpd's
                 original_content: CRLF line ends kept, dots un-stuffed)
    NNNNNN.json  {"mail_from", "mail_options", "rcpt_tos", "rcpt_options",
                  "helo", "peer"}
DIR/events gets one line per MAIL, RCPT and DATA: "mail ADDR PARAMS"
(or "mail ADDR CODE" when refused), "rcpt ADDR CODE", "data CODE"; so the
attempts can be counted, refused ones too.

Options (regexes are searched case-blind):
    --rule WHERE:REGEX=REPLY refuse with REPLY where REGEX matches: WHERE
                             is mail or rcpt (the address) or data (the
                             message as latin-1 text, not stored then);
                             REPLY may hold "\\n" for a multi-line reply
                             ("550-first\\n550 second"), e.g.
                               --rule 'mail:^bad@=553 5.1.8 bad sender'
                               --rule 'data:X-Refuse: yes=554 5.6.0 no'
    --refuse REGEX=REPLY     the same as --rule rcpt:REGEX=REPLY
                             ("550 5.1.1 no such user", "450 4.2.1 busy")
    --defer-first N          answer "451 4.3.0 ..." to the first N RCPTs of
                             each address (see --defer-match), then accept
    --defer-match REGEX      which addresses --defer-first applies to
                             (default: all)
    --data-reply REPLY       answer the end of DATA with REPLY (not stored)
    --max-rcpt N             accept at most N recipients per transaction:
                             "452 4.5.3 Too many recipients" to the others
    --size BYTES             announce SIZE BYTES in EHLO and refuse larger
                             messages (default 64 MiB)
    --hold SECONDS           wait SECONDS before answering the end of DATA;
                             DIR/inflight-max then holds the largest
                             number of transactions (MAIL to the reply
                             after DATA, or RSET) under way at once
    --wire                   put a recording proxy in front: the given
                             host:port is a plain TCP relay to aiosmtpd on
                             an ephemeral port, and every connection's
                             client-to-server bytes go to DIR/wire.N
                             (written as they come; N counts connections)

    --tls-cert FILE --tls-key FILE
                             offer STARTTLS with that certificate (chain
                             first) and key; each .json then says what
                             the session agreed: "tls" [cipher, version,
                             bits] or null, "sni" the name the client
                             asked for or null

    --auth LOGIN:PASSWORD    offer AUTH PLAIN and LOGIN (aiosmtpd's
                             authenticator) and refuse MAIL before it;
                             only after STARTTLS unless --auth-plaintext;
                             DIR/events gets "auth MECH LOGIN ok|fail",
                             each .json "login" (who authenticated)
    --auth-plaintext         offer AUTH in plaintext too
    --auth-no-plain          offer LOGIN only (not PLAIN)

It prints "ready" once it listens and stops on SIGTERM/SIGINT.
aiosmtpd does not offer PIPELINING.
"""
import argparse
import asyncio
import json
import os
import re
import signal
import socket
import ssl
import threading

from aiosmtpd.controller import Controller


class Authenticator:
    """--auth: one login and password; every attempt logged in events"""
    def __init__(self, handler, login, password):
        self.handler, self.login, self.password = handler, login, password

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult
        login = auth_data.login.decode("utf-8", "replace")
        good = (login == self.login and
                auth_data.password.decode("utf-8", "replace") == self.password)
        self.handler.event("auth %s %s %s" % (mechanism, login,
                                               "ok" if good else "fail"))
        return AuthResult(success=good, handled=False,
                          auth_data=login if good else None)


class Handler:
    def __init__(self, a):
        self.dir = a.dir
        self.rules = []
        for r in a.rule:
            where, rest = r.split(":", 1)
            if where not in ("mail", "rcpt", "data"):
                raise SystemExit("sink: --rule %s: WHERE is mail, rcpt or data" % r)
            rx, reply = rest.rsplit("=", 1)
            self.rules.append((where, re.compile(rx, re.I), reply))
        for r in a.refuse:
            rx, reply = r.rsplit("=", 1)
            self.rules.append(("rcpt", re.compile(rx, re.I), reply))
        self.defer_first = a.defer_first
        self.defer_match = re.compile(a.defer_match, re.I)
        self.data_reply = a.data_reply
        self.max_rcpt = a.max_rcpt
        self.hold = a.hold
        self.inflight = set()
        self.inflight_max = 0
        self.seen = {}
        self.lock = threading.Lock()
        self.n = 0

    def event(self, text):
        with self.lock:
            with open(os.path.join(self.dir, "events"), "a") as f:
                f.write(text + "\n")

    def refusal(self, where, text):
        """the REPLY of the first --rule for where matching text, or None"""
        for w, rx, reply in self.rules:
            if w == where and rx.search(text):
                return reply.replace("\\n", "\r\n")
        return None

    async def handle_MAIL(self, server, session, envelope, address, options):
        r = self.refusal("mail", address)
        if r:
            self.event("mail %s %s" % (address or "<>", r[:3]))
            return r
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        self.event("mail %s %s" % (address or "<>", " ".join(options)))
        self.transaction(session, True)
        return "250 2.1.0 OK"

    def transaction(self, session, begins):
        """count the transactions under way: the session's MAIL begins
        one, the reply after DATA (or a RSET) ends it"""
        with self.lock:
            if begins:
                self.inflight.add(id(session))
            else:
                self.inflight.discard(id(session))
            if len(self.inflight) > self.inflight_max:
                self.inflight_max = len(self.inflight)
                with open(os.path.join(self.dir, "inflight-max.tmp"), "w") as f:
                    f.write("%d\n" % self.inflight_max)
                os.rename(os.path.join(self.dir, "inflight-max.tmp"),
                          os.path.join(self.dir, "inflight-max"))

    async def handle_RSET(self, server, session, envelope):
        self.transaction(session, False)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        reply = self.refusal("rcpt", address)
        if reply is None and self.max_rcpt and len(envelope.rcpt_tos) >= self.max_rcpt:
            reply = "452 4.5.3 Too many recipients"
        if reply is None and self.defer_first and self.defer_match.search(address):
            with self.lock:
                k = address.lower()
                self.seen[k] = self.seen.get(k, 0) + 1
                if self.seen[k] <= self.defer_first:
                    reply = "451 4.3.0 not yet, try %d of %d" % (
                        self.seen[k], self.defer_first)
        if reply is None:
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(options)
            reply = "250 2.1.5 OK"
        self.event("rcpt %s %s" % (address, reply[:3]))
        return reply

    async def handle_DATA(self, server, session, envelope):
        try:
            if self.hold:
                await asyncio.sleep(self.hold)
            return self.stored(session, envelope)
        finally:
            self.transaction(session, False)

    def stored(self, session, envelope):
        if self.data_reply:
            self.event("data %s" % self.data_reply[:3])
            return self.data_reply
        data = envelope.original_content
        if data is None:
            data = envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        r = self.refusal("data", data.decode("latin-1"))
        if r:
            self.event("data %s" % r[:3])
            return r
        with self.lock:
            self.n += 1
            n = self.n
        base = os.path.join(self.dir, "%06d" % n)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(data)
        os.rename(base + ".eml.tmp", base + ".eml")
        rec = {"mail_from": envelope.mail_from,
               "mail_options": envelope.mail_options,
               "rcpt_tos": envelope.rcpt_tos,
               "rcpt_options": envelope.rcpt_options,
               "helo": session.host_name,
               "peer": session.peer[0] if session.peer else "",
               "tls": None, "sni": None, "resumed": None,
               "login": session.auth_data if session.authenticated else None}
        if session.ssl:
            rec["tls"] = [str(x) for x in session.ssl.get("cipher") or ()]
            obj = session.ssl.get("ssl_object")
            rec["sni"] = SNI.get(id(obj)) if obj is not None else None
            # the handshake abbreviated: a session the client offered again
            rec["resumed"] = obj.session_reused if obj is not None else None
        with open(base + ".json.tmp", "w") as f:
            json.dump(rec, f)
        os.rename(base + ".json.tmp", base + ".json")
        self.event("data 250")
        return "250 2.0.0 stored as %d" % n


SNI = {}     # id of a server-side SSL object: the name its client asked for


def tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)

    def sni(obj, name, _ctx):
        SNI[id(obj)] = name
    ctx.sni_callback = sni
    return ctx


def pump(src, dst, record):
    """copy src to dst until EOF; record (a file or None) gets a copy"""
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            if record is not None:
                record.write(b)
                record.flush()
            dst.sendall(b)
    except OSError:
        pass
    for s in (dst, src):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def proxy(listener, backend, directory):
    """accept forever; relay each connection to backend, recording"""
    n = 0
    while True:
        try:
            c, _ = listener.accept()
        except OSError:
            return
        n += 1
        try:
            b = socket.create_connection(backend, 5)
            b.settimeout(None)
        except OSError:
            c.close()
            continue
        rec = open(os.path.join(directory, "wire.%d" % n), "wb")
        threading.Thread(target=pump, args=(c, b, rec), daemon=True).start()
        threading.Thread(target=pump, args=(b, c, None), daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--refuse", action="append", default=[])
    ap.add_argument("--rule", action="append", default=[])
    ap.add_argument("--defer-first", type=int, default=0)
    ap.add_argument("--defer-match", default="")
    ap.add_argument("--data-reply", default="")
    ap.add_argument("--max-rcpt", type=int, default=0)
    ap.add_argument("--wire", action="store_true")
    ap.add_argument("--hold", type=float, default=0)
    ap.add_argument("--size", type=int, default=64 * 1024 * 1024)
    ap.add_argument("--tls-cert", default="")
    ap.add_argument("--tls-key", default="")
    ap.add_argument("--auth", default="")
    ap.add_argument("--auth-plaintext", action="store_true")
    ap.add_argument("--auth-no-plain", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    host, port = a.host, a.port
    listener = None
    if a.wire:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((a.host, a.port))
        listener.listen(64)
        host, port = "127.0.0.1", 0
        s = socket.socket()
        s.bind((host, 0))
        port = s.getsockname()[1]
        s.close()
    tls = tls_context(a.tls_cert, a.tls_key) if a.tls_cert else None
    handler = Handler(a)
    auth = {}
    if a.auth:
        login, password = a.auth.split(":", 1)
        auth = dict(authenticator=Authenticator(handler, login, password),
                    auth_required=True,
                    auth_require_tls=not a.auth_plaintext,
                    auth_exclude_mechanism=["PLAIN"] if a.auth_no_plain else [])
    c = Controller(handler, hostname=host, port=port,
                   data_size_limit=a.size, server_hostname="sink.test",
                   tls_context=tls, **auth)
    c.start()
    if listener is not None:
        threading.Thread(target=proxy, args=(listener, (host, port), a.dir),
                         daemon=True).start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print("ready", flush=True)
    while not done.wait(1):
        pass
    if listener is not None:
        listener.close()
    c.stop()


if __name__ == "__main__":
    main()
