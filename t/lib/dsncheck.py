#!/usr/bin/python3
"""dsncheck - check a delivered bounce (an RFC 3464 DSN) with python's
email package; prints TAP-ish "ok - ..." / "not ok - ..." lines for
common.sh's tap_from.

    dsncheck.py FILE [--name P] [--hostname H] [--sender ADDR]
                [--orig-id ID] [--orig-header TEXT]... [--not-in-headers TEXT]...
                [--rcpt ADDR [--status RE] [--diag RE|-] [--remote RE|-]]...

FILE is the bounce as delivered to a Maildir (Return-Path: first).
--rcpt starts the expectations for one recipient block; --status, --diag
and --remote (regexes, searched) apply to the last --rcpt; "-" means the
field must be absent.  The report must have exactly the blocks given.
"""
import email
import email.policy
import email.utils
import re
import sys


def main(argv):
    path = argv[0]
    o = {"name": "dsn", "hostname": "mx.test.example", "sender": None,
         "orig_id": None, "orig_header": [], "not_in_headers": []}
    rcpts = []
    i = 1
    while i < len(argv):
        k, v = argv[i], argv[i + 1]
        i += 2
        if k == "--rcpt":
            rcpts.append({"rcpt": v, "status": r"^5\.", "diag": None,
                          "remote": None})
        elif k in ("--status", "--diag", "--remote"):
            rcpts[-1][k[2:]] = v
        elif k in ("--orig-header", "--not-in-headers"):
            o[k[2:].replace("-", "_")].append(v)
        else:
            o[k[2:].replace("-", "_")] = v
    raw = open(path, "rb").read()
    name = o["name"]
    out = []

    def check(cond, what, got=None):
        out.append("%s - %s: %s" % ("ok" if cond else "not ok", name, what))
        if not cond and got is not None:
            out.append("#   got: %r" % (got,))
        return cond

    check(raw.startswith(b"Return-Path: <>\n"), "Return-Path: <> (envelope "
          "sender null)", raw[:40])
    check(b"\0" not in raw, "no NUL byte anywhere")
    check(all(len(l) <= 998 for l in raw.split(b"\n")), "no line over 998")
    m = email.message_from_bytes(raw, policy=email.policy.compat32)
    frm = m.get("From", "")
    check(re.search(r"MAILER-DAEMON@" + re.escape(o["hostname"]), frm, re.I),
          "From: MAILER-DAEMON@" + o["hostname"], frm)
    if o["sender"]:
        check(o["sender"] in m.get("To", ""), "To: the original sender",
              m.get("To"))
    check(m.get("Auto-Submitted", "").strip() == "auto-replied",
          "Auto-Submitted: auto-replied", m.get("Auto-Submitted"))
    check(m.get("Date") is not None and
          email.utils.parsedate_tz(m.get("Date")) is not None,
          "a valid Date:", m.get("Date"))
    check(re.match(r"^<[^<>@\s]+@[^<>@\s]+>$", m.get("Message-ID", "").strip())
          is not None, "a Message-ID:", m.get("Message-ID"))
    check(m.get("MIME-Version", "").strip() == "1.0", "MIME-Version: 1.0")
    check(m.get_content_type() == "multipart/report", "multipart/report",
          m.get_content_type())
    check(m.get_param("report-type") == "delivery-status",
          "report-type=delivery-status", m.get_param("report-type"))
    boundary = m.get_boundary()
    check(bool(boundary), "has a boundary", boundary)
    if boundary:
        b = boundary.encode()
        delims = [l for l in raw.split(b"\n") if l.startswith(b"--" + b)]
        check(delims == [b"--" + b] * 3 + [b"--" + b + b"--"],
              "three parts and a closing delimiter", delims)
    check(not m.defects, "no MIME defects", m.defects)
    parts = m.get_payload() if m.is_multipart() else []
    types = [p.get_content_type() for p in parts]
    if not check(types == ["text/plain", "message/delivery-status",
                           "text/rfc822-headers"],
                 "parts: text/plain, message/delivery-status, "
                 "text/rfc822-headers", types):
        print("\n".join(out))
        return
    human = parts[0].get_payload(decode=True).decode("ascii", "replace")
    for r in rcpts:
        check(r["rcpt"] in human, "text part names " + r["rcpt"], human)
    if o["orig_id"]:
        check(o["orig_id"] in human, "text part names the queue ID")

    blocks = parts[1].get_payload()
    permsg = blocks[0] if blocks else {}
    check(re.match(r"^dns; ?" + re.escape(o["hostname"]) + "$",
                   (permsg.get("Reporting-MTA") or "").strip()) is not None,
          "Reporting-MTA: dns; " + o["hostname"], permsg.get("Reporting-MTA"))
    check(permsg.get("Arrival-Date") is not None and
          email.utils.parsedate_tz(permsg.get("Arrival-Date")) is not None,
          "a valid Arrival-Date", permsg.get("Arrival-Date"))
    if o["orig_id"]:
        check((permsg.get("X-Queue-ID") or "").strip() == o["orig_id"],
              "X-Queue-ID: the original queue ID", permsg.get("X-Queue-ID"))
    per = blocks[1:]
    check(len(per) == len(rcpts), "%d per-recipient block(s)" % len(rcpts),
          len(per))
    by = {}
    for blk in per:
        fr = (blk.get("Final-Recipient") or "").strip()
        by[fr.split(";", 1)[-1].strip().lower()] = blk
        check(fr.lower().startswith("rfc822;"), "Final-Recipient type rfc822",
              fr)
    for r in rcpts:
        blk = by.get(r["rcpt"].lower())
        if not check(blk is not None, "a block for " + r["rcpt"], list(by)):
            continue
        check((blk.get("Action") or "").strip() == "failed",
              r["rcpt"] + ": Action: failed", blk.get("Action"))
        st = (blk.get("Status") or "").strip()
        check(re.match(r"^[245]\.\d{1,3}\.\d{1,3}$", st) is not None and
              re.search(r["status"], st) is not None,
              r["rcpt"] + ": Status /%s/" % r["status"], st)
        for f, key in (("Diagnostic-Code", "diag"), ("Remote-MTA", "remote")):
            want, got = r[key], blk.get(f)
            if want is None:
                continue
            if want == "-":
                check(got is None, "%s: no %s" % (r["rcpt"], f), got)
            else:
                check(got is not None and re.search(want, got) is not None,
                      "%s: %s /%s/" % (r["rcpt"], f, want), got)
        dc = blk.get("Diagnostic-Code")
        if dc is not None:
            check(dc.strip().lower().startswith("smtp;"),
                  r["rcpt"] + ": Diagnostic-Code type smtp", dc)
    hdrs = parts[2].get_payload(decode=True) or b""
    for h in o["orig_header"]:
        check(h.encode() in hdrs, "original header has " + repr(h), hdrs[:300])
    for h in o["not_in_headers"]:
        check(h.encode() not in hdrs, "headers part lacks " + repr(h))
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1:])
