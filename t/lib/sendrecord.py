#!/usr/bin/python3
"""sendrecord - send test messages to the mta over several connections at
once and record, per message, how far it got: for t/71-powercut.t, which
must tell a message the client sent completely from one cut short.

    sendrecord.py PORT TAG K ACKED RECORD [--unfinished N] RCPT...

Sends the K messages TAG.0 .. TAG.K-1 (mailcheck.make_message, size
2000 + 500 * i, To: alice@test.example) from sender@example.org to every
RCPT, over four connections.  ACKED gets "TOKEN QUEUE-ID" for each 250.
RECORD gets one line per step of each message, flushed at once:

    TOKEN data            354 heard: the message is going out
    TOKEN dot             the final "." has left the client (send returned)
    TOKEN reply CODE TEXT the server's reply to it
    TOKEN error STAGE ERR the connection failed at STAGE: "data" (before
                          the final dot: the message is cut short), "dot"
                          (while sending it: it may have left), "reply"
                          (the dot sent, no reply heard)

--unfinished N: N more messages TAG.u0 .. are sent without their final
dot by a process of their own, which keeps the connections of u0, u2 ...
open until the server goes away (the power fails) and closes those of
u1, u3 ... at once; this returns once their data is out.  Such a message
must never be delivered.

read_record(RECORD) gives {token: {"dot": bool, "maybe": bool,
"reply": "CODE TEXT" or None, "error": str or None}}; judge() sorts the
delivered tokens by it.
"""
import os
import re
import smtplib
import subprocess
import sys
import threading

from mailcheck import make_message, crlf

SENDER = "sender@example.org"


def plain_message(token):
    """token's message (LF line ends), as delivery stores it"""
    i = int(re.sub(r"^u", "", token.rsplit(".", 1)[1]))
    return make_message(token, 2000 + 500 * i, to="alice@test.example")


def message_of(token):
    """the bytes of token's message, CRLF, as the client sends them"""
    return crlf(plain_message(token))


class Record:
    """RECORD, written from several threads"""
    def __init__(self, path):
        self.f = open(path, "a")
        self.lock = threading.Lock()

    def note(self, token, *what):
        line = " ".join([token] + [str(w) for w in what])
        with self.lock:
            self.f.write(line.replace("\n", " ") + "\n")
            self.f.flush()


def open_data(s, rcpts):
    """MAIL, RCPT..., DATA on smtplib connection s; False on a refusal"""
    if s.mail(SENDER)[0] != 250:
        return False
    for r in rcpts:
        if s.rcpt(r)[0] != 250:
            return False
    return s.docmd("data")[0] == 354


def send_one(s, token, rcpts, rec, finish=True):
    """one message on s, each step recorded; the reply code, or None"""
    if not open_data(s, rcpts):
        s.rset()
        return None
    rec.note(token, "data")
    body = re.sub(rb"(?m)^\.", b"..", message_of(token))   # dot-stuffing
    if not finish:
        s.sock.sendall(body[:len(body) // 2])
        return None
    stage = "data"
    try:
        s.sock.sendall(body)
        stage = "dot"
        s.sock.sendall(b".\r\n")
        rec.note(token, "dot")
        stage = "reply"
        code, text = s.getreply()
    except (OSError, smtplib.SMTPException) as e:
        rec.note(token, "error", stage, type(e).__name__)
        raise
    rec.note(token, "reply", code, text.decode("latin-1"))
    return code, text


def client(port, tag, c, k, rcpts, rec, acked, lock):
    """connection c sends messages c, c+4, ... of k"""
    try:
        s = smtplib.SMTP("127.0.0.1", port, local_hostname="py.example", timeout=10)
        s.ehlo()
        for i in range(c, k, 4):
            tok = "%s.%d" % (tag, i)
            r = send_one(s, tok, rcpts, rec)
            if r and r[0] == 250:
                with lock:
                    acked.write("%s %s\n" % (tok, r[1].decode().split()[-1]))
                    acked.flush()
        s.quit()
    except (OSError, smtplib.SMTPException):
        pass            # the power failed: nothing more is answered


def hold(port, tag, n, rcpts, rec):
    """(a process of its own) n messages sent but their final dot; the
    connections of the first, third ... are kept open until the server
    closes them or 60 s pass, those of the second, fourth ... are closed
    at once (the client goes away in the middle of the data)"""
    conns = []
    for i in range(n):
        tok = "%s.u%d" % (tag, i)
        s = smtplib.SMTP("127.0.0.1", port, local_hostname="py.example", timeout=10)
        s.ehlo()
        send_one(s, tok, rcpts, rec, finish=False)
        if i % 2:
            s.sock.close()
            rec.note(tok, "error", "data", "closed-by-client")
        else:
            conns.append((tok, s))
    print("ready", flush=True)
    sys.stdout.close()
    for tok, s in conns:
        s.sock.settimeout(60)
        try:
            while s.sock.recv(4096):
                pass
            rec.note(tok, "error", "data", "closed")
        except OSError as e:
            rec.note(tok, "error", "data", type(e).__name__)


def read_record(path):
    """{token: {"dot", "maybe", "reply", "error"}} of a RECORD file"""
    out = {}
    for line in open(path):
        parts = line.rstrip("\n").split(" ", 2)
        if len(parts) < 2:
            continue
        st = out.setdefault(parts[0], {"dot": False, "maybe": False,
                                       "reply": None, "error": None})
        rest = parts[2] if len(parts) > 2 else ""
        if parts[1] == "dot":
            st["dot"] = True
        elif parts[1] == "reply":
            st["reply"] = rest
        elif parts[1] == "error":
            st["error"] = rest
            st["maybe"] = rest.startswith("dot ")
    return out


def judge(record, delivered):
    """(unsent, unheard) of the tokens delivered, by the record: unsent,
    those whose final dot never left the client, or refused with 5xx
    (they must never be delivered); unheard, "TOKEN (reason)" of those
    sent completely but never answered 250 (allowed: the cut fell between
    the commit and the reply, mta-queue(5), CRASH SAFETY, 2)"""
    unsent, unheard = [], []
    for tok in sorted(t for t in delivered if t is not None):
        st = record.get(tok)
        reply = (st["reply"] or "") if st else ""
        if st is None or not (st["dot"] or st["maybe"]) or reply.startswith("5"):
            unsent.append(tok)
        elif not reply.startswith("250"):
            unheard.append("%s (%s)" % (tok, "reply " + reply if reply
                           else "dot sent, then error at " + (st["error"] or "?")))
    return unsent, unheard


def main(argv):
    port, tag, k, acked_path, rec_path = int(argv[1]), argv[2], int(argv[3]), argv[4], argv[5]
    rest = argv[6:]
    unfinished = 0
    if rest[:1] == ["--unfinished"]:
        unfinished, rest = int(rest[1]), rest[2:]
    rcpts = rest
    rec = Record(rec_path)
    if unfinished:
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--hold",
                              str(port), tag, str(unfinished), rec_path] + rcpts,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        p.stdout.readline()         # their data is out (or the child failed)
        p.stdout.close()
    acked = open(acked_path, "w")
    lock = threading.Lock()
    ts = [threading.Thread(target=client, args=(port, tag, c, k, rcpts, rec, acked, lock))
          for c in range(4)]
    [t.start() for t in ts]
    [t.join() for t in ts]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--hold"]:
        a = sys.argv[2:]
        try:
            hold(int(a[0]), a[1], int(a[2]), a[4:], Record(a[3]))
        except (OSError, smtplib.SMTPException):
            pass
    else:
        main(sys.argv)
