"""Werkzeug's development server with Nagle's algorithm off on each connection.

Werkzeug writes an answer's headers and body separately; with Nagle on, a small body waits for
the client's delayed acknowledgement of the headers, which stalls every sync round and page on the
development server. gunicorn, the production server, already turns it off.
"""

from __future__ import annotations

import socket

from werkzeug.serving import WSGIRequestHandler


class NoDelayRequestHandler(WSGIRequestHandler):
    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
