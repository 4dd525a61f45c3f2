#!/usr/bin/python3
"""dsnread - the delivery status reports in a Maildir, read with python's
mailbox and email packages, one line per report (oldest first) for
t/57-dsn.t to match:

    dsnread.py MAILDIR

    Subject=...|Return-Path=...|From=...|parts=TYPE,TYPE,...|MSG-FIELD=...|
    R1:Action=...|R1:Status=...|...

MSG-FIELD are the per-message fields of the message/delivery-status part
(Original-Envelope-Id, Reporting-MTA, ...), R1:, R2:... those of each
recipient block in order.  A message that is no multipart/report prints
"not a report: Subject=...".
"""
import email.policy
import mailbox
import os
import sys


def fields(block):
    out = []
    for line in block.strip("\n").split("\n"):
        if ":" in line and not line[0].isspace():
            k, v = line.split(":", 1)
            out.append((k.strip(), v.strip()))
    return out


def main(path):
    box = mailbox.Maildir(path, create=False)
    keys = sorted(box.keys(), key=lambda k: os.path.getmtime(
        os.path.join(path, box._lookup(k))))
    for k in keys:
        m = box.get_message(k)
        head = "Subject=%s|Return-Path=%s|From=%s" % (
            m.get("Subject"), m.get("Return-Path"), m.get("From"))
        if m.get_content_type() != "multipart/report":
            print("not a report: " + head)
            continue
        parts = m.get_payload()
        line = [head, "parts=" + ",".join(p.get_content_type() for p in parts)]
        for p in parts:
            if p.get_content_type() != "message/delivery-status":
                continue
            # python parses the blocks into a list of header sets
            blocks = p.get_payload()
            for kv in blocks[0].items():
                line.append("%s=%s" % kv)
            for i, b in enumerate(blocks[1:], 1):
                for kv in b.items():
                    line.append("R%d:%s=%s" % ((i,) + kv))
        print("|".join(line))


main(sys.argv[1])
