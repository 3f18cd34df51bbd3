"""The expanded calendar: occurrences in a window, with filters."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from types import SimpleNamespace
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.error_handler import ErrorSchema
from marshmallow import ValidationError, fields, validates_schema

from api.auth import api_user
from api.schemas import BaseSchema, between, one_of
from models import Partner, db
from models.events import EVENT_KINDS
from models.operations.place_search import places_near
from scheduler.french import title_for
from scheduler.time.calendar import MAX_WINDOW_DAYS, CalendarFilter
from scheduler.time.keyset import decode_cursor, encode_cursor, key_of, occurrences_page
from scheduler.time.rules import OUT_OF_CALENDAR, in_calendar

blp = Blueprint("occurrences", __name__, url_prefix="/api/v1", description="Occurrences (calendrier déplié)")

DEFAULT_WINDOW_DAYS = 28
# Occurrences come a page at a time, in keyset order (scheduler.time.keyset): a quartier's month
# fits in the default page, the whole country's week (25,000) takes fifty, each answered from the
# series that fall in it rather than from the whole week expanded.
DEFAULT_LIMIT, MAX_LIMIT = 500, 2000


class InstantOrDate(fields.Field):
    """An ISO 8601 instant with its offset, or a bare date meaning midnight on the default zone."""

    default_error_messages = {"invalid": "Date (AAAA-MM-JJ) ou date et heure avec décalage "
                                         "(2026-03-30T09:00:00+02:00) attendue."}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            if len(value) == 10:
                instant = datetime.combine(date.fromisoformat(value), time(),
                                           ZoneInfo(current_app.config["DEFAULT_TIMEZONE"]))
            else:
                instant = datetime.fromisoformat(value.replace(" ", "+") if value.count(" ") == 1 else value)
        except ValueError:
            raise self.make_error("invalid") from None
        if instant.tzinfo is None:
            raise ValidationError("Indiquez le décalage horaire (par exemple +01:00 ou Z).")
        if not in_calendar(instant):
            raise ValidationError(OUT_OF_CALENDAR)
        return instant


DEFAULT_RADIUS_KM, MAX_RADIUS_KM = 10.0, 200.0


class Position(fields.Field):
    """`45.146,5.717`: a latitude and a longitude in decimal degrees."""

    default_error_messages = {"invalid": "Position attendue sous la forme latitude,longitude (exemple : 45.146,5.717)."}

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            lat, lon = (float(x) for x in str(value).split(","))
        except ValueError:
            raise self.make_error("invalid") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise self.make_error("invalid")
        return lat, lon


class Cursor(fields.String):
    """The opaque `cursor` of a `next` link, decoded to the key of the last occurrence it follows."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return decode_cursor(super()._deserialize(value, attr, data, **kwargs))
        except ValueError as error:
            raise ValidationError(str(error)) from None


class OccurrenceQueryArgsSchema(BaseSchema):
    start = InstantOrDate(metadata={"description": "début de la période (par défaut : aujourd'hui)"})
    end = InstantOrDate(metadata={"description": f"fin (par défaut : {DEFAULT_WINDOW_DAYS} jours après le début ; "
                                                "au plus 400 jours)"})
    partner = fields.String(metadata={"description": "slug d'un partenaire organisateur"})
    place = fields.String(metadata={"description": "slug du lieu"})
    quartier = fields.String(metadata={"description": "code du QPV"})
    kind = fields.String(validate=one_of(EVENT_KINDS))
    audience = fields.String(metadata={"description": "étiquette de public (exemple : sans diplôme)"})
    age = fields.Integer(validate=between(0, 120), metadata={"description": "âge compris dans la tranche"})
    near = Position(metadata={"description": "latitude,longitude (degrés décimaux) : les lieux autour de ce point, "
                                            "avec leur distance (place.distance_km)"})
    radius_km = fields.Float(load_default=DEFAULT_RADIUS_KM, validate=between(0.1, MAX_RADIUS_KM),
                             metadata={"description": f"rayon autour de near, en km (au plus {MAX_RADIUS_KM:.0f})"})
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=between(1, MAX_LIMIT),
                           metadata={"description": f"occurrences par page (par défaut {DEFAULT_LIMIT}, "
                                                    f"au plus {MAX_LIMIT})"})
    cursor = Cursor(metadata={"description": "où reprendre : la valeur donnée par le lien « next » de la page "
                                             "précédente (en-tête Link), à repasser telle quelle"})

    @validates_schema
    def check_window(self, data, **kwargs):
        if "start" in data and "end" in data and data["end"] <= data["start"]:
            raise ValidationError("La fin de la période est avant son début.", "end")


class OccurrenceSchema(BaseSchema):
    event_id = fields.Integer()
    recurrence_id = fields.String(metadata={"description": "instant UTC que la règle donne à l'occurrence"})
    starts_at = fields.String(metadata={"description": "ISO 8601 avec le décalage du lieu"})
    ends_at = fields.String()
    timezone = fields.String()
    title = fields.String(metadata={"description": (
        "d'un événement réservé aux partenaires que la structure du jeton n'organise pas : "
        "« Réservé aux partenaires : type — structures » (son titre peut nommer un ou une jeune)")})
    kind = fields.String()
    status = fields.String()
    visibility = fields.String()
    is_cancelled = fields.Boolean()
    is_moved = fields.Boolean()
    all_day = fields.Boolean(metadata={"description": "journée entière : de minuit à minuit à l'heure du lieu"})
    place = fields.Dict()
    room = fields.String(allow_none=True)
    quartier = fields.String(allow_none=True)
    organisers = fields.List(fields.String())
    people = fields.List(fields.Dict(), metadata={"description": "avec un jeton seulement"})
    audience = fields.Dict()
    walk_in = fields.Boolean()
    registration_url = fields.String(allow_none=True)


def _iso(epoch: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(epoch, zone).isoformat()


def hide_others_titles(payloads: list[dict], reader_partner_id: int | None) -> None:
    """Each partners-only title as the reader may read it (scheduler.french.title_for): the
    partners named by slug are read once, with their ids and names."""
    slugs = {slug for item in payloads if item["visibility"] != "public" for slug in item["organisers"]}
    if not slugs:
        return
    partners = {p.slug: p for p in db.session.execute(
        sa.select(Partner.id, Partner.slug, Partner.name).where(Partner.slug.in_(slugs)))}
    for item in payloads:
        if item["visibility"] != "public":
            event = SimpleNamespace(title=item["title"], visibility=item["visibility"],
                                    kind_label=EVENT_KINDS.get(item["kind"], item["kind"]),
                                    organisers=[partners[s] for s in item["organisers"] if s in partners])
            item["title"] = title_for(event, reader_partner_id)


def occurrence_payloads(rows, include_people: bool) -> list[dict]:
    """rows: (Occurrence, EventFacts, PlaceFacts) as scheduler.time.keyset.occurrences_page gives them."""
    zones: dict[str, ZoneInfo] = {}
    utc = ZoneInfo("UTC")
    out = []
    for o, e, place in rows:
        zone = zones.get(o.timezone) or zones.setdefault(o.timezone, ZoneInfo(o.timezone))
        item = {
            "event_id": e.id,
            "recurrence_id": datetime.fromtimestamp(o.recurrence_id, utc).isoformat().replace("+00:00", "Z"),
            "starts_at": _iso(o.starts_at, zone),
            "ends_at": _iso(o.ends_at, zone),
            "timezone": o.timezone,
            "title": e.title,
            "kind": e.kind,
            "status": "cancelled" if o.is_cancelled else e.status,
            "visibility": e.visibility,
            "is_cancelled": o.is_cancelled,
            "is_moved": o.is_moved,
            "all_day": e.all_day,
            "place": {"slug": place.slug, "name": place.name},
            "room": o.room,
            "quartier": place.quartier,
            "organisers": e.organisers,
            "audience": e.audience,
            "walk_in": e.walk_in,
            "registration_url": e.registration_url,
        }
        if include_people:
            item["people"] = [{"id": pid, "name": e.people.get(pid)} for pid in o.person_ids]
        out.append(item)
    return out


def next_link(args: dict, start: datetime, end: datetime, cursor: str) -> str:
    """The query of the next page: the same filters, the window as this page resolved it (a
    default start of "today" must not move between two pages), the cursor."""
    query = [(name, value) for name, values in request.args.lists() if name not in ("start", "end", "cursor", "limit")
             for value in values]
    query += [("start", start.isoformat()), ("end", end.isoformat()), ("limit", str(args["limit"])),
              ("cursor", cursor)]
    return f"{request.base_url}?{urlencode(query)}"


@blp.route("/occurrences")
class Occurrences(MethodView):
    @blp.doc(description=(
        f"Les occurrences d'une période ({MAX_WINDOW_DAYS} jours au plus), par date de début, une page à la "
        f"fois : `limit` occurrences ({DEFAULT_LIMIT} par défaut, au plus {MAX_LIMIT}). Quand d'autres suivent, "
        "l'en-tête `Link: <…>; rel=\"next\"` donne l'adresse de la page suivante (mêmes filtres, avec un "
        "`cursor`) ; la dernière page n'en a pas. Chaque occurrence vient une fois, dans l'ordre (début, "
        "événement, occurrence), même si le calendrier change entre deux pages. Sans jeton, le nombre de "
        "requêtes par adresse est limité : 429 avec Retry-After."))
    @blp.arguments(OccurrenceQueryArgsSchema, location="query")
    @blp.response(200, OccurrenceSchema(many=True), headers={"Link": {
        "description": "la page suivante (rel=\"next\"), absente sur la dernière", "schema": {"type": "string"}}})
    @blp.alt_response(429, schema=ErrorSchema, description="Trop de requêtes depuis cette adresse (sans jeton)")
    def get(self, args):
        """Occurrences d'une période, séries dépliées, annulations et déplacements compris"""
        zone = ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])
        start = args.get("start") or datetime.combine(datetime.now(zone).date(), time(), zone)
        end = args.get("end") or start + timedelta(days=DEFAULT_WINDOW_DAYS)
        user = api_user()
        near = dict(places_near(*args["near"], args["radius_km"])) if "near" in args else None
        f = CalendarFilter(partner=args.get("partner"), place=args.get("place"), quartier=args.get("quartier"),
                           kind=args.get("kind"), tag=args.get("audience"), age=args.get("age"),
                           include_private=user is not None, place_ids=tuple(near) if near is not None else None)
        rows, more = occurrences_page(f, start, end, args["limit"], after=args.get("cursor"), people=user is not None)
        payloads = occurrence_payloads(rows, include_people=user is not None)
        if user is not None:
            hide_others_titles(payloads, user.partner_id)
        if near is not None:
            for (o, _, _), item in zip(rows, payloads, strict=True):
                item["place"]["distance_km"] = round(near[o.place_id], 2)
        headers = {"Link": f'<{next_link(args, start, end, encode_cursor(key_of(rows[-1][0])))}>; rel="next"'} \
            if more else {}
        # The payloads are already what OccurrenceSchema gives (tests/test_occurrence_pages.py
        # checks it): its dump would only copy them, 15 ms a page of 500, a tenth of the page's budget.
        return jsonify(payloads), 200, headers
