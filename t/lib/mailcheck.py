"""mailcheck - what the delivery tests (t/2*.t) share: test messages that
can be rebuilt from their token alone, reading Maildirs and mboxes back
with python3's mailbox module, taking a delivered message apart into the
trace fields delivery added and the message as the client sent it, and
reading mta-smtpd's log (mta-smtpd(8), LOGGING).

A delivered message is, byte for byte (mta-smtpd(8), HEADER PROCESSING):
    Return-Path: <SENDER>
    Delivered-To: RCPT
    Received: ... (our field, folded over continuation lines)
    the message as the client sent it, with LF line ends
when the client's header already has Date:, From: and Message-ID: (then
nothing is appended).  Every test message here has them.
"""
import base64
import calendar
import collections
import mailbox
import os
import random
import re

__all__ = ["make_message", "queue_file", "token_of", "crlf", "maildir_messages",
           "mbox_messages", "mbox_shown", "split_trace", "tally_delivered",
           "parse_log", "intervals", "max_overlap", "log_overlap"]

SPECIAL_LINES = [b"From the start of a line", b">From quoted once",
                 b">>From quoted twice", b"From", b"From:not a separator",
                 b".", b"..", b".leading dot", b"", b"  indented  "]


def make_message(token, size=3000, sender="sender@example.org",
                 to="rcpt@test.example", special=True):
    """a message (bytes, LF line ends) of about size bytes whose content
    depends on token alone: make_message(token_of(m), ...) rebuilds m.
    special: SPECIAL_LINES, lines that mbox quoting and SMTP dot-stuffing
    must survive ("From ", ">From ", "."), once each and then at random."""
    rnd = random.Random(token)
    head = ("Date: Mon, 02 Jan 2023 10:00:00 +0000\n"
            "From: <%s>\nTo: <%s>\nSubject: token %s\n"
            "Message-ID: <%s@test.example>\n\n" % (sender, to, token, token))
    lines = [b"token " + token.encode()]
    if special:
        lines += SPECIAL_LINES          # each at least once
    n = len(head)
    while n < size:
        if special and rnd.random() < 0.08:
            line = rnd.choice(SPECIAL_LINES)
        else:
            line = base64.b64encode(rnd.randbytes(rnd.randint(0, 57)))
        lines.append(line)
        n += len(line) + 1
    lines.append(b"end " + token.encode())
    return head.encode() + b"\n".join(lines) + b"\n"


def queue_file(qid, arrival, rcpts, msg, sender="sender@example.org"):
    """a message file as the queue keeps it (envelope.h): the envelope,
    an empty line, the message"""
    env = ("mta-envelope 1\nid %s\narrival %d\nclient 127.0.0.1\n"
           "helo hand.example\nsender %s\n" % (qid, arrival, sender))
    env += "".join("rcpt %s\n" % r for r in rcpts)
    return env.encode() + b"\n" + msg


def token_of(msg):
    """the token in a message's Subject, or None"""
    m = re.search(rb"^Subject: token (\S+)$", msg, re.M)
    return m.group(1).decode() if m else None


def crlf(msg):
    """LF -> CRLF, what a correct SMTP client sends"""
    return msg.replace(b"\n", b"\r\n")


def maildir_messages(path):
    """[(key, bytes)] of the Maildir at path (new/ and cur/), sorted by
    key; [] when there is none yet (delivery makes tmp/, new/ and cur/ in
    that order: a Maildir being created is not one yet)"""
    if not all(os.path.isdir(os.path.join(path, d)) for d in ("tmp", "new", "cur")):
        return []
    md = mailbox.Maildir(path, factory=None, create=False)
    return sorted((k, md.get_bytes(k)) for k in md.keys())


def mbox_shown(msg):
    """msg as mbox delivery stores it and a reader shows it (mta-smtpd(8),
    --mbox: mboxo): a '>' before every line starting "From ", nothing
    else changed.  python's mailbox (like mutt and Dovecot) reads it back
    as stored, without taking the '>' off."""
    return re.sub(rb"(?m)^From ", rb">From ", msg)


def mbox_messages(path):
    """[(From_ line, bytes)] of the mbox at path in file order, as
    python's mailbox reads them: each message without its From_ line and
    otherwise as stored (compare with mbox_shown()); [] when there is no
    file"""
    if not os.path.exists(path):
        return []
    mb = mailbox.mbox(path, create=False)
    try:
        out = []
        for k in mb.keys():
            raw = mb.get_bytes(k, from_=True)
            first, _, rest = raw.partition(b"\n")
            out.append((first, rest))
        return out
    finally:
        mb.close()


def split_trace(data):
    """(return_path, delivered_to, received, rest) of a delivered
    message: the values of the first two fields, the whole Received:
    field (with its continuation lines) and the bytes after it; None
    when it does not start that way"""
    m = re.match(rb"Return-Path: ([^\n]*)\nDelivered-To: ([^\n]*)\n"
                 rb"(Received: [^\n]*\n(?:[ \t][^\n]*\n)*)", data)
    if not m:
        return None
    return (m.group(1).decode("latin-1"), m.group(2).decode("latin-1"),
            m.group(3).decode("latin-1"), data[m.end():])


def tally_delivered(msgs, rcpt, want_of, sender="<sender@example.org>"):
    """(tokens, bad, duplicates) of delivered messages [(key, data)]:
    how often each token arrived, the keys of messages that are not
    byte-exact (trace fields for sender and rcpt, then want_of(token)),
    and how many arrived more than once"""
    tokens = collections.Counter()
    bad = []
    for key, data in msgs:
        p = split_trace(data)
        tok = token_of(p[3]) if p else None
        tokens[tok] += 1
        if tok is None or p[:2] != (sender, rcpt) or p[3] != want_of(tok):
            bad.append(key)
    dups = sum(n - 1 for n in tokens.values() if n > 1)
    return tokens, bad, dups


_LOG = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{6})Z "
                  r"(\S+) (\S+)(?: (.*))?$")
_KV = re.compile(r'([A-Za-z_][\w-]*)=("[^"]*"|\S*)')


def parse_log(path):
    """[(epoch seconds as float, tag, event, {key: value})] of the log"""
    out = []
    with open(path, encoding="latin-1") as f:
        for line in f:
            m = _LOG.match(line.rstrip("\n"))
            if not m:
                continue
            g = m.groups()
            t = calendar.timegm(tuple(int(x) for x in g[:6])) + int(g[6]) / 1e6
            kv = {k: v.strip('"') for k, v in _KV.findall(g[9] or "")}
            out.append((t, g[7], g[8], kv))
    return out


def intervals(events, tag_prefix, start, end, want=None):
    """{tag: (t_start, t_end)} of threads whose tag starts with tag_prefix,
    from their event start to their event end; want(kv) filters on the
    start event's fields.  Threads without an end are left out."""
    begin, out = {}, {}
    for t, tag, ev, kv in events:
        if not tag.startswith(tag_prefix):
            continue
        if ev == start and (want is None or want(kv)):
            begin[tag] = t
        elif ev == end and tag in begin:
            out[tag] = (begin.pop(tag), t)
    return out


def max_overlap(spans):
    """the most intervals open at one instant (strict overlap)"""
    points = []
    for a, b in spans:
        points.append((a, 1))
        points.append((b, -1))
    # an end before a start at the same instant: touching is not overlap
    points.sort(key=lambda p: (p[0], p[1]))
    best = cur = 0
    for _, d in points:
        cur += d
        best = max(best, cur)
    return best


def log_overlap(path, rcpt):
    """what mta-smtpd's log at path shows of sessions that carried mail
    (connect..disconnect; start_mta's port probes carry none) and of
    deliveries to rcpt ("<user@domain>", delivery-start..delivered): a
    dict with the counts "sessions" and "deliveries", "with_session"
    (deliveries that ran while a session was open), "with_delivery"
    (deliveries overlapping another one), and the most of each at one
    instant, "peak_deliveries" and "peak_sessions" """
    ev = parse_log(path)
    carried = {tag for t, tag, e, kv in ev
               if e == "disconnect" and kv.get("messages", "0") != "0"}
    ss = [span for tag, span in intervals(ev, "c", "connect", "disconnect").items()
          if tag in carried]
    ds = list(intervals(ev, "d", "delivery-start", "delivered",
                        lambda kv: kv.get("rcpt") == rcpt).values())

    def overlaps(a, b):
        return a[0] < b[1] and b[0] < a[1]
    return {
        "sessions": len(ss), "deliveries": len(ds),
        "with_session": sum(1 for d in ds if any(overlaps(d, x) for x in ss)),
        "with_delivery": sum(1 for i, d in enumerate(ds)
                             if any(overlaps(d, e) for j, e in enumerate(ds) if i != j)),
        "peak_deliveries": max_overlap(ds), "peak_sessions": max_overlap(ss),
    }
