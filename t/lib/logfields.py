"""logfields - read mta-smtpd's log lines as mta-smtpd(8) (LOGGING)
defines them, strictly: a line that breaks the quoting rules reads as
None, so a test can tell a forged field from a real one."""
import re


def fields(rest):
    """key=value pairs of a log line's tail, as mta-smtpd(8) defines them:
    a bare value is printable ASCII without SP '"' '\\' '='; a quoted one
    has \\" \\\\ \\xHH escapes.  None when the text breaks those rules."""
    out, i = [], 0
    while i < len(rest):
        m = re.match(r'[A-Za-z_][A-Za-z0-9_-]*=', rest[i:])
        if not m:
            return None
        key, i = m.group(0)[:-1], i + m.end()
        v = bytearray()
        if rest[i:i + 1] == '"':
            i += 1
            while True:
                if i >= len(rest):
                    return None
                c = rest[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\":
                    n = rest[i + 1:i + 2]
                    if n in ('"', "\\"):
                        v += n.encode()
                        i += 2
                    elif n == "x" and re.match(r"[0-9a-f]{2}$", rest[i + 2:i + 4]):
                        v.append(int(rest[i + 2:i + 4], 16))
                        i += 4
                    else:
                        return None
                else:
                    v += c.encode("latin-1")
                    i += 1
        else:
            j = rest.find(" ", i)
            j = len(rest) if j < 0 else j
            if j == i or re.search(r'["\\=]', rest[i:j]):
                return None
            v += rest[i:j].encode("latin-1")
            i = j
        out.append((key, bytes(v)))
        if i < len(rest):
            if rest[i] != " ":
                return None
            i += 1
    return out

def lines(log, event):
    """the tails of the lines of one event in the log file log"""
    out = []
    for line in open(log, encoding="latin-1"):
        parts = line.rstrip("\n").split(" ", 3)
        if len(parts) == 4 and parts[2] == event:
            out.append(parts[3])
    return out
