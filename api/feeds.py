"""The iCal feeds: /feeds/all.ics, per partner, place, quartier, and private links.

Public feeds hold public events only; a private link (`/feeds/private/<token>.ics`) also holds
partners-only events and the names of the people mobilised. Every feed answers ETag and
Last-Modified, and 304 to a client that already has it.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, request
from flask_smorest import abort
from marshmallow import ValidationError, fields
from werkzeug.http import http_date, parse_date

from api.schemas import BaseSchema, between, one_of
from models import Event, Partner, Place, Quartier, db
from models.base import read_without_transaction
from models.events import EVENT_KINDS
from models.operations.feeds import private_access, private_access_in_memory
from scheduler.ical.feeds import FeedSpec, current_feed, feed_in_memory

bp = Blueprint("feeds", __name__, url_prefix="/feeds")


class FeedQueryArgsSchema(BaseSchema):
    kind = fields.String(validate=one_of(EVENT_KINDS))
    audience = fields.String(metadata={"description": "étiquette de public (exemple : sans diplôme)"})
    age = fields.Integer(validate=between(0, 120), metadata={"description": "âge compris dans la tranche"})


_FEED_QUERY_ARGS = FeedQueryArgsSchema()  # a schema is costly to build and safe to share


def _filters() -> dict:
    if not request.args:  # most polls: the schema has nothing to read
        return {"kind": None, "tag": None, "age": None}
    try:
        args = _FEED_QUERY_ARGS.load(request.args.to_dict())
    except ValidationError as error:
        abort(422, message="Paramètres du flux invalides : le détail est dans « errors ».",
              errors={"query": error.messages})
    return {"kind": args.get("kind"), "tag": args.get("audience"), "age": args.get("age")}


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


def _not_modified(version) -> bool:
    """If-None-Match wins over If-Modified-Since when both are sent (RFC 9110, 13.2.2)."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/").strip('"') for t in if_none_match.split(",")}
        return "*" in tags or version.etag in tags
    since = parse_date(request.headers.get("If-Modified-Since"))
    return since is not None and version.last_modified.replace(microsecond=0) <= since


@bp.get("/all.ics")
def all_events():
    """Tout le territoire (événements publics)."""
    return _serve(FeedSpec("all", **_filters()))


@bp.get("/partners/<slug>.ics")
def partner_feed(slug: str):
    """Les événements publics qu'un partenaire organise ou co-organise."""
    return _serve(FeedSpec("partner", slug, **_filters()),
                  exists=lambda: _exists(Partner, Partner.slug, slug, "Partenaire"))


@bp.get("/places/<slug>.ics")
def place_feed(slug: str):
    """Les événements publics d'un lieu."""
    return _serve(FeedSpec("place", slug, **_filters()),
                  exists=lambda: _exists(Place, Place.slug, slug, "Lieu"))


@bp.get("/quartiers/<code>.ics")
def quartier_feed(code: str):
    """Les événements publics d'un quartier."""
    return _serve(FeedSpec("quartier", code, **_filters()),
                  exists=lambda: _exists(Quartier, Quartier.code, code, "Quartier"))


def _public_event(event_id: int) -> None:
    if db.session.scalar(sa.select(Event.id).where(Event.id == event_id, Event.visibility == "public")) is None:
        abort(404, message=f"Événement inconnu : {event_id}.")


@bp.get("/events/<int:event_id>.ics")
def event_feed(event_id: int):
    """Un seul événement public (le lien « Ajouter à mon agenda » de sa page)."""
    # Checked on a miss: a change of visibility moves the event's version, so the marker.
    return _serve(FeedSpec("event", str(event_id), **_filters()), exists=lambda: _public_event(event_id))


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
    audience = {}
    if access.for_person:
        audience = {"for_person": True, "own_partner_id": access.own_partner_id, "territory": access.territory}
    return _serve(FeedSpec("private", str(access.token_id), private=True, partner=access.partner, **audience,
                           **_filters()), access.owner)
