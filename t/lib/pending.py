"""pending - SMTP clients held just before their final dot, for the race
tests (t/66-queue-races.t): each is ready to be finished at the instant
the test chooses, from a thread of its own.

    c = ready(port, token)   EHLO, MAIL, RCPT to user@test.example, DATA
                             and a small message (Subject: TOKEN) sent;
                             the final dot is not
    f = Finisher()
    f.start(token, c)        the final dot sent by a new thread; its reply
                             in f.replies[token]
    f.finish(token, c)       the same, in this thread
    until(what, cond)        True once cond() is; False (and a "#" line
                             naming what) after limit seconds
"""
import threading
import time

from smtpraw import Client


def until(what, cond, limit=20):
    end = time.time() + limit
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.02)
    print("# timed out waiting for " + what)
    return False


def ready(port, token):
    c = Client(port, timeout=30)
    c.reply()
    c.cmd("EHLO fsync.example")
    c.cmd("MAIL FROM:<sender@example.org>")
    c.cmd("RCPT TO:<user@test.example>")
    c.cmd("DATA")
    c.send(("Subject: %s\r\n\r\nbody %s\r\n" % (token, token)).encode())
    return c


class Finisher:
    def __init__(self):
        self.replies = {}
        self.threads = []

    def finish(self, token, c):
        self.replies[token] = c.cmd(".", timeout=60)

    def start(self, token, c):
        t = threading.Thread(target=self.finish, args=(token, c))
        t.start()
        self.threads.append(t)
        return t

    def join(self, limit=90):
        for t in self.threads:
            t.join(limit)
