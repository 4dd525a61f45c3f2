#!/usr/bin/python3
"""inject - send one message to the mta with smtplib, for t/4*.t and t/8*.t.

    inject.py PORT FROM RCPT... < MESSAGE

MESSAGE may have LF or CRLF line ends (sent as CRLF; smtplib stuffs the
dots).  FROM "" is the null sender.  Prints the final reply ("250 2.0.0
Ok: queued as ID") or the first refusal; exit 0 only for a 250.
"""
import smtplib
import sys

port, sender, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
msg = sys.stdin.buffer.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
s = smtplib.SMTP("127.0.0.1", port, timeout=10)
s.ehlo("client.test")
code, text = s.mail(sender)
if code != 250:
    print(code, text.decode("latin-1"))
    sys.exit(1)
for r in rcpts:
    code, text = s.rcpt(r)
    if code != 250:
        print(code, text.decode("latin-1"))
        sys.exit(1)
code, text = s.data(msg)
print(code, text.decode("latin-1"))
s.quit()
sys.exit(0 if code == 250 else 1)
