"""The floor of bench/polls.py: a bare Flask app that answers every feed poll 304, served by the
Procfile's gunicorn line (`bench.bare304:app` instead of `app:app`), nothing else changed."""
from __future__ import annotations

from flask import Flask, Response, request

app = Flask(__name__)


@app.get("/feeds/<path:path>")
def feed(path: str):
    etag = request.headers.get("If-None-Match", '"bare"')
    return Response(status=304, headers={"ETag": etag, "Cache-Control": "public, no-cache"})


@app.get("/healthz")
def healthz():
    """Ready (bench/polls.py waits for it before the run)."""
    return "ok"
