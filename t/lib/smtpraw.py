"""smtpraw - a raw SMTP client and queue-file reader for the shell tests.

smtplib repairs what it sends (line ends, dot-stuffing); these tests also
need to send exactly what a broken or hostile client sends, in the
fragments they choose, and to read every reply completely.  Every wait is
bounded; nothing here retries.  Used from t/*.t as
    $PY - <<'EOF'
    from smtpraw import Client, read_queue_file
(common.sh puts t/lib on PYTHONPATH).
"""
import os
import re
import socket
import sys
import time

__all__ = ["Client", "read_queue_file", "queue_files", "read_queued",
           "queued_bytes", "queued_ids", "tmp_messages", "rfc5322_date",
           "received_field", "expected_queue_file", "diff_bytes", "check",
           "check_eq", "dialogue"]


class Client:
    """One SMTP connection that sends bytes exactly as given."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.timeout = timeout
        self.buf = b""
        self.eof = False
        self.s = socket.create_connection((host, int(port)), timeout)
        # Every send() becomes its own segment: fragmentation tests rely
        # on the server seeing the pieces they chose.
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, data):
        """send str (latin-1) or bytes as is; False if the server is gone"""
        if isinstance(data, str):
            data = data.encode("latin-1")
        try:
            self.s.sendall(data)
            return True
        except OSError:
            return False

    def _fill(self, deadline):
        """read more into buf; False at EOF, reset or deadline"""
        if self.eof:
            return False
        left = deadline - time.time()
        if left <= 0:
            return False
        self.s.settimeout(left)
        try:
            b = self.s.recv(65536)
        except socket.timeout:
            return False
        except OSError:
            self.eof = True
            return False
        if not b:
            self.eof = True
            return False
        self.buf += b
        return True

    def reply(self, timeout=None):
        """one complete reply (all its lines, CRLF kept) as str, or None
        when the server closed or said nothing within timeout"""
        deadline = time.time() + (self.timeout if timeout is None else timeout)
        start = 0
        while True:
            nl = self.buf.find(b"\n", start)
            if nl < 0:
                if not self._fill(deadline):
                    return None
                continue
            line = self.buf[start:nl + 1]
            # "250-more" continues the reply, "250 last" or "250" ends it
            if len(line) < 4 or line[3:4] != b"-":
                text = self.buf[:nl + 1].decode("latin-1")
                self.buf = self.buf[nl + 1:]
                return text
            start = nl + 1

    def code(self, timeout=None):
        """the code of the next reply, or 0 when there is none"""
        r = self.reply(timeout)
        return int(r[:3]) if r and r[:3].isdigit() else 0

    def cmd(self, line, timeout=None):
        """send line + CRLF, return the reply"""
        self.send(line + "\r\n" if isinstance(line, str) else line + b"\r\n")
        return self.reply(timeout)

    def rest(self, timeout=3.0):
        """everything until the server closes (or timeout) as str"""
        deadline = time.time() + timeout
        while self._fill(deadline):
            pass
        text = self.buf.decode("latin-1")
        self.buf = b""
        return text

    def closed(self, timeout=3.0):
        """True if the server closes the connection within timeout"""
        self.rest(timeout)
        return self.eof

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def read_queue_file(path):
    """(envelope as a list of (key, value), message bytes) of a queue file"""
    with open(path, "rb") as f:
        data = f.read()
    head, sep, msg = data.partition(b"\n\n")
    if not sep:
        raise ValueError("no empty line after the envelope in " + path)
    env = []
    for line in head.decode("latin-1").split("\n"):
        k, _, v = line.partition(" ")
        env.append((k, v))
    return env, msg


def queue_files(queue, sub=None):
    """sorted paths of the files in queue/SUB; without SUB, of the accepted
    messages: queue/new and queue/mess (the scheduler renames each message
    from new/ to mess/; listing new/ first cannot miss one in flight, at
    worst it is seen twice, and kept once)"""
    out = []
    for d in ([sub] if sub else ["new", "mess"]):
        d = os.path.join(queue, d)
        try:
            out += [os.path.join(d, n) for n in os.listdir(d)]
        except FileNotFoundError:
            pass
    if not sub:   # the same message seen in both: keep one
        seen, uniq = set(), []
        for p in out:
            if os.path.basename(p) not in seen:
                seen.add(os.path.basename(p))
                uniq.append(p)
        out = uniq
    return sorted(out, key=os.path.basename)


def tmp_messages(queue):
    """message files in queue/tmp: named by an ID, letters and digits only
    (other modules' temporary files, e.g. the scheduler's job.*, are not)"""
    try:
        return sorted(n for n in os.listdir(os.path.join(queue, "tmp"))
                      if re.match(r"^[A-Za-z0-9]+$", n))
    except FileNotFoundError:
        return []


def queued_ids(queue):
    """the set of IDs of the accepted messages (new/ and mess/)"""
    return set(os.path.basename(p) for p in queue_files(queue))


def read_queued(queue, qid):
    """(envelope, message) of message qid in new/ or mess/, wherever the
    scheduler has it now; ([], b"") when it is in neither"""
    for sub in ("new", "mess"):   # rename goes new -> mess only: no gap
        try:
            return read_queue_file(os.path.join(queue, sub, qid or "-"))
        except FileNotFoundError:
            pass
    return [], b""


def queued_bytes(queue, qid):
    """the whole file of message qid (new/ or mess/), b"" when missing"""
    for sub in ("new", "mess"):
        try:
            with open(os.path.join(queue, sub, qid or "-"), "rb") as f:
                return f.read()
        except FileNotFoundError:
            pass
    return b""


def rfc5322_date(t):
    """the daemon's date form for epoch t, in local time (mta-smtpd(8)):
    "Mon, 02 Jan 2023 10:00:00 +0000" (the same TZ as the daemon's)"""
    tm = time.localtime(t)
    off = tm.tm_gmtoff // 60
    sign = "+" if off >= 0 else "-"
    off = abs(off)
    return "%s, %02d %s %04d %02d:%02d:%02d %s%02d%02d" % (
        ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[tm.tm_wday],
        tm.tm_mday, ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
                     "Sep", "Oct", "Nov", "Dec")[tm.tm_mon - 1],
        tm.tm_year, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off // 60, off % 60)


def received_field(helo, ip, host, esmtp, qid, rcpts, arrival):
    """the Received: field mta-smtpd writes, as documented in header.h:
    "for <rcpt>" only for a single recipient, the date folded onto a line
    of its own when its line would pass 78 characters"""
    lit = "[IPv6:%s]" % ip if ":" in ip else "[%s]" % ip
    text = "Received: from %s (%s)\n" % (helo or "unknown", lit)
    last = "\tby %s (mta) with %s id %s" % (host, "ESMTP" if esmtp else "SMTP", qid)
    if len(rcpts) == 1:
        text += last + "\n"
        last = "\tfor <%s>" % rcpts[0]
    last += ";"
    date = rfc5322_date(arrival)
    sep = " " if len(last) + 1 + len(date) <= 78 else "\n\t"
    return (text + last + sep + date + "\n").encode("latin-1")


def crc32c(data, crc=0):
    """CRC-32C (Castagnoli, reflected, inverted in and out), bit by bit:
    an independent check of the daemon's table and SSE4.2 ones"""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def sealed(rest):
    """a queue file of envelope version 4: its first line, the seal line
    (the file's size, the CRC-32C of every byte after the seal line:
    mta-queue(5)), then rest"""
    head = b"mta-envelope 4\n"
    size = len(head) + len(b"seal 0000000000000000 00000000\n") + len(rest)
    return head + (b"seal %016d %08x\n" % (size, crc32c(rest))) + rest


def seal_checked(data):
    """data, a queue file of version 4, with its seal line replaced by
    "seal OK" when the seal matches the file, "seal BAD" when not: for
    comparisons of files whose IDs and times differ"""
    m = re.match(rb"(mta-envelope 4\n)seal (\d{16}) ([0-9a-f]{8})\n", data)
    if not m:
        return data
    rest = data[m.end():]
    good = int(m.group(2)) == len(data) and int(m.group(3), 16) == crc32c(rest)
    return m.group(1) + (b"seal OK\n" if good else b"seal BAD\n") + rest


def expected_queue_file(qid, arrival, client, helo, sender, rcpts, message,
                        host="mx.test.example", esmtp=True):
    """the whole queue file for a message whose header needs nothing added
    (message: bytes with LF line ends, as the client meant it)"""
    env = "id %s\narrival %d\nclient %s\nhelo %s\nsender %s\n" % (
        qid, arrival, client, helo, sender)
    env += "".join("rcpt %s\n" % r for r in rcpts) + "\n"
    return sealed(env.encode("latin-1") +
                  received_field(helo, client, host, esmtp, qid, rcpts, arrival) +
                  message)


def diff_bytes(got, want):
    """a short description of the first difference, "" when equal"""
    if got == want:
        return ""
    gl, wl = got.split(b"\n"), want.split(b"\n")
    for i in range(max(len(gl), len(wl))):
        g = gl[i] if i < len(gl) else None
        w = wl[i] if i < len(wl) else None
        if g != w:
            return "line %d: got %r want %r" % (i + 1, g, w)
    return "differ (%d vs %d bytes)" % (len(got), len(want))


# Results for common.sh's tap_from: one "ok - NAME" or "not ok - NAME" line
# each, diagnostics as "#" lines; bash numbers them.

def _result(passed, name, got, want):
    print("%s - %s" % ("ok" if passed else "not ok", name))
    if not passed:
        print("#   got:  %r" % (got if not isinstance(got, str) else got[:600]))
        print("#   want: %s" % want)
    sys.stdout.flush()
    return passed


def check(name, got, regex):
    """got (str, None counts as "") matches regex (re.search, DOTALL)"""
    text = got if got is not None else ""
    return _result(re.search(regex, text, re.S) is not None, name, got, "/%s/" % regex)


def check_eq(name, got, want):
    return _result(got == want, name, got, repr(want))


def dialogue(c, steps, prefix=""):
    """lockstep commands: steps is a list of (command, reply regex, name);
    each command is sent with CRLF and its whole reply checked"""
    for line, regex, name in steps:
        check(prefix + name, c.cmd(line), regex)
