"""The map of the places (/carte): Leaflet, served by Maillage (static/vendor/leaflet), tiles from
MAP_TILES_URL; beside it, the list of the same places and their next dates, which is the page
itself for whoever does not see the map (the script reads its markers from that list)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, current_app, render_template, request

from models import Place, db
from models.versions import ALL_EVENTS
from scheduler.time.calendar import occurrences_between
from web.public.cache import cached_html
from web.public.listing import Filters, day_window, occurrence_rows, requested_start_day
from web.public.search import FOUND_DAYS, near_position, places_found, search_text

bp = Blueprint("map", __name__)

# A national map shows the places that have something in the coming two weeks, at most these
# many; a search or a position narrows it to a town.
MAP_PLACES = 200
NEXT_DATES = 3


def _all_places_with_dates(filters: Filters, first_day) -> list[dict]:
    places = list(db.session.scalars(sa.select(Place).where(
        Place.latitude.is_not(None), Place.longitude.is_not(None)).order_by(Place.name).limit(MAP_PLACES)))
    if not places:
        return []
    start, end = day_window(first_day, FOUND_DAYS)
    ids = tuple(p.id for p in places)
    rows = occurrence_rows(occurrences_between(filters.calendar_filter(place_ids=ids), start, end))
    by_place: dict[int, list[dict]] = {}
    for row in rows:
        by_place.setdefault(row["place"].id, []).append(row)
    return [{"place": p, "distance": None, "rows": by_place[p.id]} for p in places if p.id in by_place]


@bp.get("/carte")
def map_page():
    filters = Filters(request.args)
    first_day = requested_start_day()
    text, near = search_text(), near_position()
    config = current_app.config

    def build():
        if text or near:
            found = places_found(filters, first_day, text, near)
            groups = found["groups"]
        else:
            groups = _all_places_with_dates(filters, first_day)
        for group in groups:
            group["rows"] = group["rows"][:NEXT_DATES]
        mapped = [g for g in groups if g["place"].latitude is not None and g["place"].longitude is not None]
        return render_template("public/map.html", groups=groups, mapped=mapped, search=text, near=near,
                               filters=filters, days=FOUND_DAYS)

    hour = datetime.now(ZoneInfo(config["DEFAULT_TIMEZONE"])).hour  # places_found drops what is over
    return cached_html((ALL_EVENTS,), (first_day, filters.key(), text, near, hour, config["MAP_TILES_URL"],
                                       config["MAP_ATTRIBUTION"]), build, shared=False)
