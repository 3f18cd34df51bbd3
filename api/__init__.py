"""The JSON API under /api/v1 (flask-smorest) and, later, the iCal feeds."""
from __future__ import annotations

import re

import sqlalchemy as sa
from flask import render_template, request
from flask_smorest import abort
from werkzeug.http import HTTP_STATUS_CODES

from api import (
    attendance,
    cases,
    conflicts,
    coverage,
    events,
    feeds,
    health,
    imports,
    occurrences,
    partners,
    reminders,
    territory,
)
from api.auth import api_user, authenticate_writes
from api.feeds import FeedPolls as FeedPolls  # app.py puts it in front of the app
from extensions import JSON_PREFIXES, create_api
from models import db
from models.errors import DomainError, database_trouble


def domain_error_response(error: DomainError):
    """Domain errors raised by operations, mapped to 4xx in this one place."""
    db.session.rollback()  # a rejected write changes nothing
    payload = {"code": error.status, "status": HTTP_STATUS_CODES[error.status], "message": error.message,
               "errors": {"json": error.errors} if error.errors else {}}
    return payload, error.status


def database_error_response(error: sa.exc.DBAPIError):
    """The database down, restarting, read-only or full: 503 with a French message and
    Retry-After, the transaction rolled back (nothing half-written). Any other database error is
    a bug: 500. App-wide, for every request: the JSON shape on the API and feeds, a French page
    (templates/unavailable.html, which reads nothing from the database) everywhere else."""
    message = database_trouble(error)
    try:
        db.session.rollback()
    except sa.exc.SQLAlchemyError:
        db.session.remove()  # the connection is gone: drop the session with it
    if message is None:
        raise error
    headers = {"Retry-After": "5"}
    if request.path.startswith(JSON_PREFIXES):
        return {"code": 503, "status": HTTP_STATUS_CODES[503], "message": message, "errors": {}}, 503, headers
    return render_template("unavailable.html", message=message), 503, headers


# Who the rate limits (RATELIMITS, settings.py) do not hold back, by name: the occurrences' limit
# is for anonymous callers; a wrong token is refused (401) before any work, as it would be by the view.
RATE_EXEMPT = {"occurrences": lambda: api_user() is not None}


# JSON is parsed by recursion (the standard library's, under flask-smorest's parser and Flask's):
# 100,000 nested brackets exhaust Python's stack, a RecursionError, a 500. No body of ours nests
# more than a few levels, so a deeper one is refused before anything parses it.
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_JSON_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth_over(data: bytes, limit: int) -> bool:
    """Whether JSON text nests arrays and objects deeper than `limit` (brackets in strings aside)."""
    depth = 0
    for bracket in _JSON_BRACKET.finditer(_JSON_STRING.sub(b"", data)):
        depth += 1 if bracket.group() in (b"[", b"{") else -1
        if depth > limit:
            return True
    return False


def refuse_deep_json() -> None:
    if request.routing_exception is None and request.is_json \
            and json_depth_over(request.get_data(cache=True), MAX_JSON_DEPTH):
        abort(400, message=f"JSON trop imbriqué : {MAX_JSON_DEPTH} niveaux au plus.")


def init_app(app) -> None:
    api = create_api(app)
    app.before_request(refuse_deep_json)
    app.before_request(authenticate_writes)
    # App-wide, so that it also serves the feeds; the pages' blueprint handles its own.
    app.register_error_handler(DomainError, domain_error_response)
    app.register_error_handler(sa.exc.DBAPIError, database_error_response)
    app.register_error_handler(conflicts.HardConflictsRefused, conflicts.refused_response)
    for module in (partners, territory, events, occurrences, imports, reminders, conflicts, cases, coverage,
                   attendance):
        api.register_blueprint(module.blp)
    app.register_blueprint(feeds.bp)  # text/calendar, outside the OpenAPI document
    health.init_app(app)  # /healthz, /metrics and the counting of every request
