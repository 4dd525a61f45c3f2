#!/usr/bin/python3
"""sts_https - an HTTPS server for MTA-STS policies (RFC 8461 3.3), for
t/94-mta-sts.t.

    sts_https.py --host 127.0.94.43 [--port 443] --cert CHAIN --key KEY --dir DIR

GET /.well-known/mta-sts.txt answers with DIR/HOST (HOST the request's
Host header, without a port) as text/plain (or the media type in
DIR/HOST.type when that exists), or with a redirection (301)
to the URL in DIR/HOST.redirect when that exists, or 404 when neither
does; any other path is 404.  Each request is a line "HOST PATH STATUS" in
DIR/requests.  "ready" on stdout once it listens.
"""
import argparse
import http.server
import os
import ssl
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--dir", required=True)
    args = ap.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            host = (self.headers.get("Host") or "").split(":")[0].lower()
            body, status, location = None, 404, None
            path = os.path.join(args.dir, host)
            ours = (self.path == "/.well-known/mta-sts.txt" and host
                    and "/" not in host)
            if ours and os.path.isfile(path + ".redirect"):
                with open(path + ".redirect") as fh:
                    location, status = fh.read().strip(), 301
            elif ours and os.path.isfile(path):
                with open(path, "rb") as fh:
                    body, status = fh.read(), 200
            with open(os.path.join(args.dir, "requests"), "a") as log:
                log.write("%s %s %d\n" % (host, self.path, status))
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            ctype = "text/plain"
            if os.path.isfile(path + ".type"):
                with open(path + ".type") as fh:
                    ctype = fh.read().strip()
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer((args.host, args.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
