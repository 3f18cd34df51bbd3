"""A search (`?q=`: a commune, a postcode, a quartier, a place) or "autour de moi" (`?pres=`, a
rounded position): the places found, with what they hold in the coming two weeks."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask import abort, request

from models import Place, db
from models.operations.place_search import places_near, search_places
from scheduler.time.calendar import (
    occurrences_between,
)
from web.public.listing import Filters, day_window, default_zone, occurrence_rows

# A search or "autour de moi": the places found, with what they hold in the coming two weeks.
FOUND_DAYS, FOUND_PLACES = 14, 12
NEAR_RADIUS_KM = 30


def search_text() -> str:
    """`?q=`: a commune, a postcode, a quartier or a place name."""
    return " ".join(request.args.get("q", "").split())[:80]


def near_position() -> tuple[float, float] | None:
    """`?pres=45.15,5.72`: the position "autour de moi" sends, which the page's script rounds to
    two decimals (about a kilometre); rounded here too, whatever was sent."""
    value = request.args.get("pres")
    if not value:
        return None
    try:
        lat, lon = (round(float(x), 2) for x in value.split(","))
    except ValueError:
        abort(400, "La position doit s'écrire latitude,longitude (par exemple 45.15,5.72).")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        abort(400, "Cette position n'existe pas sur la Terre.")
    return lat, lon


def places_found(filters: Filters, first_day: date, text: str, near: tuple[float, float] | None) -> dict:
    """The places a search or a position finds, in that order (best match, or nearest), each with
    its occurrences of the coming two weeks; those with nothing planned only named."""
    if near is not None:
        ranked = places_near(*near, NEAR_RADIUS_KM, limit=FOUND_PLACES)
    else:
        ranked = [(m.id, None) for m in search_places(text, limit=FOUND_PLACES)]
    ids = tuple(place_id for place_id, _ in ranked)
    places = {p.id: p for p in db.session.scalars(sa.select(Place).where(Place.id.in_(ids)))} if ids else {}
    start, end = day_window(first_day, FOUND_DAYS)
    rows = occurrence_rows(occurrences_between(filters.calendar_filter(place_ids=ids), start, end)) if ids else []
    now = datetime.now(default_zone())
    rows = [r for r in rows if r["end"] > now]  # what is over today helps no one find a door open
    by_place: dict[int, list[dict]] = {}
    for row in rows:
        by_place.setdefault(row["place"].id, []).append(row)
    groups = [{"place": places[place_id], "distance": distance_label(km), "rows": by_place[place_id]}
              for place_id, km in ranked if place_id in by_place]
    idle = [places[place_id] for place_id, _ in ranked if place_id not in by_place]
    return {"text": text, "near": near, "groups": groups, "idle": idle, "days": FOUND_DAYS}


def distance_label(km: float | None) -> str | None:
    if km is None:
        return None
    return "à moins de 1 km" if km < 1 else f"à {km:.1f} km".replace(".", ",")


