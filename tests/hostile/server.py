#!/usr/bin/env python3
"""A hostile XenAPI server: every reply is 2 GiB that decode to far more.

    server.py MODE [--port N]

MODE is ``length`` (a 2 GiB body with its Content-Length), ``chunked`` (the same body chunked,
without a length) or ``gzip`` (a gzip bomb: 3 MB on the wire, 2 GiB once decompressed, sent with
``Content-Encoding: gzip``). The body is a well-formed start of a reply whose values cost more
memory than their bytes: over XML-RPC an endless array of ``<value/>`` (8 bytes, a 32-byte value
each), on ``/jsonrpc`` an endless array of ``[]``. The port is printed on the first line of
standard output; the server runs until killed. A client stops reading when its limit trips, and
the server goes on to the next connection.
"""

import argparse
import http.server
import socketserver
import sys
import zlib

TOTAL = 2 << 30
CHUNK = 1 << 20
XML_HEAD = b"<?xml version='1.0'?><methodResponse><params><param><value><array><data>"
JSON_HEAD = b'{"jsonrpc":"2.0","id":1,"result":['


def body_parts(json):
    """The head, then repeated chunks, TOTAL bytes in all."""
    head, unit = (JSON_HEAD, b"[],") if json else (XML_HEAD, b"<value/>")
    chunk = unit * (CHUNK // len(unit))
    yield head
    sent = len(head)
    while sent < TOTAL:
        part = chunk[: TOTAL - sent]
        yield part
        sent += len(part)


_bombs = {}


def gzip_bomb(json):
    if json not in _bombs:
        c = zlib.compressobj(9, zlib.DEFLATED, 31)
        _bombs[json] = b"".join(c.compress(p) for p in body_parts(json)) + c.flush()
    return _bombs[json]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mode = "length"

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        json = self.path.startswith("/jsonrpc")
        self.send_response(200)
        self.send_header("Content-Type", "application/json" if json else "text/xml")
        try:
            if self.mode == "length":
                self.send_header("Content-Length", str(TOTAL))
                self.end_headers()
                for part in body_parts(json):
                    self.wfile.write(part)
            elif self.mode == "chunked":
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for part in body_parts(json):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")
            else:
                bomb = gzip_bomb(json)
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(bomb)))
                self.end_headers()
                self.wfile.write(bomb)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["length", "chunked", "gzip"])
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    Handler.mode = a.mode
    if a.mode == "gzip":
        gzip_bomb(False)
        gzip_bomb(True)
    srv = Server(("127.0.0.1", a.port), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
