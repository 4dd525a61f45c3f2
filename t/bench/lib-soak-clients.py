#!/usr/bin/python3
"""lib-soak-clients.py - the clients and the count of soak.sh.

  lib-soak-clients.py send HOST PORT CLIENTS SECONDS ACKLOG USERS DOMAIN
      CLIENTS threads send messages to HOST:PORT for SECONDS seconds, each
      over one connection kept for message after message, reconnecting
      after any failure (the server is killed now and then).  Each message
      carries a unique token (in Subject: and Message-ID:) and goes to one
      of USERS local parts at DOMAIN, in turn.  The token of every message
      the server answered 250 after the dot is appended to ACKLOG, one a
      line, only after that reply.  Prints one summary line:
      "attempts=N acked=N failed=N connects=N connect_failures=N".

  lib-soak-clients.py count MAILROOT ACKLOG
      Reads every message in MAILROOT/*/new and MAILROOT/*/cur, takes the
      token from its Subject:, and compares with ACKLOG.  Prints
      "acked=N delivered=N unique=N duplicates=N lost=N unacked_delivered=N
      foreign=N", then the first lost tokens, one a line, "lost TOKEN".
"""
import os
import smtplib
import sys
import threading
import time

SUBJECT_PREFIX = "soak "
BODY = "".join("line %03d of a soak message, padding to about one kilobyte\r\n" % i
               for i in range(16))


def message(token, rcpt):
    return ("From: soak@client.example\r\n"
            "To: %s\r\n"
            "Subject: %s%s\r\n"
            "Message-ID: <%s@client.example>\r\n"
            "\r\n%s" % (rcpt, SUBJECT_PREFIX, token, token, BODY))


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.attempts = self.acked = self.failed = 0
        self.connects = self.connect_failures = 0

    def add(self, **kw):
        with self.lock:
            for k, v in kw.items():
                setattr(self, k, getattr(self, k) + v)


def client(idx, host, port, deadline, acklog, acklock, users, domain, counts):
    seq = 0
    conn = None
    while time.time() < deadline:
        if conn is None:
            try:
                conn = smtplib.SMTP(host, port, timeout=30)
                conn.ehlo("soak%d.client.example" % idx)
                counts.add(connects=1)
            except (OSError, smtplib.SMTPException):
                counts.add(connect_failures=1)
                conn = None
                time.sleep(0.1)
                continue
        seq += 1
        token = "s%dc%dn%d" % (os.getpid(), idx, seq)
        rcpt = "%s@%s" % (users[seq % len(users)], domain)
        counts.add(attempts=1)
        try:
            conn.sendmail("soak@client.example", [rcpt], message(token, rcpt))
        except (OSError, smtplib.SMTPException):
            # no 250 after the dot (or none that we saw): not acknowledged
            counts.add(failed=1)
            try:
                conn.close()
            except OSError:
                pass
            conn = None
            continue
        # sendmail() returns only after a 250 to the dot
        with acklock:
            acklog.write(token + "\n")
            acklog.flush()
        counts.add(acked=1)
    if conn is not None:
        try:
            conn.quit()
        except (OSError, smtplib.SMTPException):
            pass


def send(host, port, nclients, seconds, ackpath, users, domain):
    deadline = time.time() + float(seconds)
    counts = Counts()
    acklock = threading.Lock()
    with open(ackpath, "a") as acklog:
        threads = [threading.Thread(target=client, daemon=True,
                                    args=(i, host, int(port), deadline, acklog,
                                          acklock, users.split(","), domain,
                                          counts))
                   for i in range(int(nclients))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(float(seconds) + 120)
    print("attempts=%d acked=%d failed=%d connects=%d connect_failures=%d"
          % (counts.attempts, counts.acked, counts.failed, counts.connects,
             counts.connect_failures))


def token_of(path):
    with open(path, "rb") as f:
        for raw in f:
            line = raw.rstrip(b"\r\n")
            if not line:
                return None
            if line.lower().startswith(b"subject: " + SUBJECT_PREFIX.encode()):
                return line[len("subject: ") + len(SUBJECT_PREFIX):].decode()
    return None


def count(mailroot, ackpath):
    with open(ackpath) as f:
        acked = set(l.strip() for l in f if l.strip())
    seen = {}
    files = foreign = 0
    for user in sorted(os.listdir(mailroot)):
        for sub in ("new", "cur"):
            d = os.path.join(mailroot, user, sub)
            if not os.path.isdir(d):
                continue
            for name in os.listdir(d):
                files += 1
                tok = token_of(os.path.join(d, name))
                if tok is None:
                    foreign += 1
                    continue
                seen[tok] = seen.get(tok, 0) + 1
    lost = sorted(acked - set(seen))
    dups = sum(n - 1 for n in seen.values())
    print("acked=%d delivered=%d unique=%d duplicates=%d lost=%d "
          "unacked_delivered=%d foreign=%d"
          % (len(acked), files, len(seen), dups, len(lost),
             len(set(seen) - acked), foreign))
    for tok in lost[:20]:
        print("lost", tok)


if __name__ == "__main__":
    if len(sys.argv) == 9 and sys.argv[1] == "send":
        send(*sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "count":
        count(*sys.argv[2:])
    else:
        sys.exit(__doc__)
