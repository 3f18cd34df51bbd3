"""The iCal feeds: /feeds/all.ics, per partner, place, quartier, and private links.

Public feeds hold public events only; a private link (`/feeds/private/<token>.ics`) also holds
partners-only events and the names of the people mobilised. Every feed answers ETag and
Last-Modified, and 304 to a client that already has it.
"""
from __future__ import annotations

import time
from urllib.parse import parse_qsl

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, request
from flask_smorest import abort
from marshmallow import ValidationError, fields
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.http import http_date, parse_date

from api.health import count_answer
from api.schemas import BaseSchema, between, one_of
from models import Event, Partner, Place, Quartier, db
from models.base import read_without_transaction
from models.events import EVENT_KINDS
from models.operations.feeds import PrivateAccess, private_access, private_access_in_memory
from scheduler.ical.feeds import FeedSpec, current_feed, feed_in_memory

bp = Blueprint("feeds", __name__, url_prefix="/feeds")


class FeedQueryArgsSchema(BaseSchema):
    kind = fields.String(validate=one_of(EVENT_KINDS))
    audience = fields.String(metadata={"description": "étiquette de public (exemple : sans diplôme)"})
    age = fields.Integer(validate=between(0, 120), metadata={"description": "âge compris dans la tranche"})


_FEED_QUERY_ARGS = FeedQueryArgsSchema()  # a schema is costly to build and safe to share


def _filters_of(args: MultiDict) -> dict:
    """The filters of a feed's address (raises ValidationError)."""
    if not args:  # most polls: the schema has nothing to read
        return {"kind": None, "tag": None, "age": None}
    loaded = _FEED_QUERY_ARGS.load(args.to_dict())
    return {"kind": loaded.get("kind"), "tag": loaded.get("audience"), "age": loaded.get("age")}


def _filters() -> dict:
    try:
        return _filters_of(request.args)
    except ValidationError as error:
        abort(422, message="Paramètres du flux invalides : le détail est dans « errors ».",
              errors={"query": error.messages})


# The public feeds by endpoint: (the URL's arguments, the filters) -> FeedSpec. Shared by the
# views and by FeedPolls, which answers in front of the app.
_PUBLIC_SPECS = {
    "feeds.all_events": lambda args, filters: FeedSpec("all", **filters),
    "feeds.partner_feed": lambda args, filters: FeedSpec("partner", args["slug"], **filters),
    "feeds.place_feed": lambda args, filters: FeedSpec("place", args["slug"], **filters),
    "feeds.quartier_feed": lambda args, filters: FeedSpec("quartier", args["code"], **filters),
    "feeds.event_feed": lambda args, filters: FeedSpec("event", str(args["event_id"]), **filters),
}


def _public_spec() -> FeedSpec:
    return _PUBLIC_SPECS[request.endpoint or ""](request.view_args or {}, _filters())


def _private_spec(access: PrivateAccess, filters: dict) -> FeedSpec:
    audience: dict = {}
    if access.for_person:
        audience = {"for_person": True, "own_partner_id": access.own_partner_id, "territory": access.territory}
    return FeedSpec("private", str(access.token_id), private=True, partner=access.partner, **audience, **filters)


def _exists(model, column, value, label: str) -> None:
    if db.session.scalar(sa.select(model.id).where(column == value)) is None:
        abort(404, message=f"{label} inconnu : « {value} ».")


def _serve(spec: FeedSpec, owner_name: str = "", exists=None) -> Response:
    settings = {"base_url": current_app.config["BASE_URL"], "default_timezone": current_app.config["DEFAULT_TIMEZONE"],
                "owner_name": owner_name}
    version, changed = feed_in_memory(spec, **settings, held=_not_modified), False
    if version is None:
        read_without_transaction()  # only now: a poll answered from memory takes no connection
        version, changed = current_feed(spec, **settings, exists=exists, held=_not_modified)
    if changed:
        try:
            db.session.commit()
        except sa.exc.DBAPIError:
            # Another process recorded the same feed at the same moment, or the database refuses
            # writes (read-only, full disk): what was built is served all the same.
            db.session.rollback()
    headers = {
        "ETag": f'"{version.etag}"',
        "Last-Modified": http_date(version.last_modified),
        # Shared caches may keep public feeds briefly; private ones stay private.
        "Cache-Control": "private, no-cache" if spec.private else "public, no-cache",
    }
    if _not_modified(version):
        return Response(status=304, headers=headers)
    filename = spec.value or "maillage"
    headers["Content-Disposition"] = f'inline; filename="{filename if spec.scope != "private" else "maillage"}.ics"'
    return Response(version.body, status=200, headers=headers, content_type="text/calendar; charset=utf-8")


def _held(if_none_match: str, etag: str) -> bool:
    tags = {t.strip().removeprefix("W/").strip('"') for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


def _not_modified(version) -> bool:
    """If-None-Match wins over If-Modified-Since when both are sent (RFC 9110, 13.2.2)."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return _held(if_none_match, version.etag)
    since = parse_date(request.headers.get("If-Modified-Since"))
    return since is not None and version.last_modified.replace(microsecond=0) <= since


@bp.get("/all.ics")
def all_events():
    """Tout le territoire (événements publics)."""
    return _serve(_public_spec())


@bp.get("/partners/<slug>.ics")
def partner_feed(slug: str):
    """Les événements publics qu'un partenaire organise ou co-organise."""
    return _serve(_public_spec(),
                  exists=lambda: _exists(Partner, Partner.slug, slug, "Partenaire"))


@bp.get("/places/<slug>.ics")
def place_feed(slug: str):
    """Les événements publics d'un lieu."""
    return _serve(_public_spec(),
                  exists=lambda: _exists(Place, Place.slug, slug, "Lieu"))


@bp.get("/quartiers/<code>.ics")
def quartier_feed(code: str):
    """Les événements publics d'un quartier."""
    return _serve(_public_spec(),
                  exists=lambda: _exists(Quartier, Quartier.code, code, "Quartier"))


def _public_event(event_id: int) -> None:
    if db.session.scalar(sa.select(Event.id).where(Event.id == event_id, Event.visibility == "public")) is None:
        abort(404, message=f"Événement inconnu : {event_id}.")


@bp.get("/events/<int:event_id>.ics")
def event_feed(event_id: int):
    """Un seul événement public (le lien « Ajouter à mon agenda » de sa page)."""
    # Checked on a miss: a change of visibility moves the event's version, so the marker.
    return _serve(_public_spec(), exists=lambda: _public_event(event_id))


@bp.get("/private/<token>.ics")
def private_feed(token: str):
    """Un lien privé : événements réservés aux partenaires et noms des intervenant·es compris."""
    # From memory while nothing it depends on moved: a revocation raises `accounts` (models/versions.py).
    access = private_access_in_memory(token)
    if access is None:
        read_without_transaction()
        access = private_access(token)
    if access is None:
        abort(404, message="Lien privé inconnu ou révoqué : demandez un nouveau lien dans Maillage.")
    return _serve(_private_spec(access, _filters()), access.owner)


# --- polls answered in front of the app -------------------------------------------------------

class FeedPolls:
    """WSGI middleware (app.py puts it in front of the app): a conditional GET of a feed that this
    process holds under versions it knows to be current gets its 304 here, without Flask's
    request, session and hooks, which cost several times the answer itself (bench/polls.py).
    What the app would do for such a request is done here too: the feed limit counted
    (extensions.BatchedLimit), the answer counted in the metrics (api/health.py), the same
    headers (`headers(environ)`: the security headers; ETag, Cache-Control, Vary as `_serve`).
    Anything else, and any doubt (a cookie, query arguments the schema refuses, a feed not
    held, a private link not known in memory, a refusal by the limit), goes on to the app."""

    def __init__(self, app, wsgi_app, headers):
        self.app, self.wsgi_app, self.headers = app, wsgi_app, headers
        self.engine = None

    def __call__(self, environ, start_response):
        if (environ.get("REQUEST_METHOD") == "GET" and "HTTP_IF_NONE_MATCH" in environ
                and "HTTP_COOKIE" not in environ and environ.get("PATH_INFO", "").startswith(bp.url_prefix + "/")):
            started = time.perf_counter()
            answered = self._not_modified(environ)
            if answered is not None:
                endpoint, headers = answered
                start_response("304 NOT MODIFIED", headers)
                count_answer(endpoint, "GET", 304, started)
                return []
        return self.wsgi_app(environ, start_response)

    def _not_modified(self, environ) -> tuple[str, list] | None:
        try:
            endpoint, args = self.app.url_map.bind_to_environ(environ).match()
            filters = _filters_of(MultiDict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)))
        except (HTTPException, ValidationError):
            return None
        if self.engine is None:
            with self.app.app_context():
                self.engine = db.engine
        owner = ""
        if endpoint == "feeds.private_feed":
            access = private_access_in_memory(args["token"], self.engine)
            if access is None:
                return None
            spec, owner = _private_spec(access, filters), access.owner
        elif endpoint in _PUBLIC_SPECS:
            spec = _PUBLIC_SPECS[endpoint](args, filters)
        else:
            return None
        if_none_match = environ["HTTP_IF_NONE_MATCH"]
        config = self.app.config
        version = feed_in_memory(spec, base_url=config["BASE_URL"], default_timezone=config["DEFAULT_TIMEZONE"],
                                 owner_name=owner, held=lambda v: _held(if_none_match, v.etag), engine=self.engine)
        if version is None or not _held(if_none_match, version.etag):
            return None
        limit = self.app.extensions.get("batched_limits", {}).get(bp.name)
        if limit is not None and not limit.allows(environ.get("REMOTE_ADDR") or "127.0.0.1"):
            return None  # the app answers the 429
        return endpoint, [("ETag", f'"{version.etag}"'),
                          ("Cache-Control", "private, no-cache" if spec.private else "public, no-cache"),
                          *self.headers(environ), ("Vary", "Cookie")]
