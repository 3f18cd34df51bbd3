"""A calendar published elsewhere: a real HTTP server in a thread, with ETag and 304 (the
`published` fixture, registered by conftest)."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent / "data"


class Published:
    """What the other server publishes, and what it was asked."""

    def __init__(self, body: bytes):
        self.body, self.version, self.status = body, 1, 200
        self.requests: list[dict] = []


@pytest.fixture
def published(private_urls_allowed):
    """The other server, on 127.0.0.1: the test allows private addresses (ALLOW_PRIVATE_URLS)."""
    state = Published((DATA / "thunderbird.ics").read_bytes())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state.requests.append(dict(self.headers))
            etag = f'"v{state.version}"'
            if state.status != 200:
                self.send_response(state.status)
                self.end_headers()
                return
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", "Wed, 25 Nov 2026 10:00:00 GMT")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/calendrier.ics"
    yield state
    server.shutdown()
    thread.join(5)
