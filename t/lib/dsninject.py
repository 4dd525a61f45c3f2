#!/usr/bin/python3
"""dsninject - send one message with ESMTP parameters (RFC 3461 DSN
requests) through python's smtplib, for t/57-dsn.t.

    dsninject.py PORT FROM MAILOPTS RCPT RCPTOPTS [RCPT RCPTOPTS]... < MESSAGE

MAILOPTS and each RCPTOPTS are space-separated parameters ("RET=HDRS
ENVID=x", "NOTIFY=NEVER"), "" for none.  FROM "" is the null sender.
Prints the final reply or the first refusal; exit 0 only for a 250.
"""
import smtplib
import sys

port, sender, mail_opts = int(sys.argv[1]), sys.argv[2], sys.argv[3].split()
pairs = list(zip(sys.argv[4::2], sys.argv[5::2]))
msg = sys.stdin.buffer.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
s = smtplib.SMTP("127.0.0.1", port, timeout=10)
s.ehlo("client.test")
if not s.has_extn("dsn"):
    print("no DSN in EHLO")
    sys.exit(1)
code, text = s.mail(sender, mail_opts)
if code != 250:
    print(code, text.decode("latin-1"))
    sys.exit(1)
for rcpt, opts in pairs:
    code, text = s.rcpt(rcpt, opts.split())
    if code != 250:
        print(code, text.decode("latin-1"))
        sys.exit(1)
code, text = s.data(msg)
print(code, text.decode("latin-1"))
s.quit()
sys.exit(0 if code == 250 else 1)
