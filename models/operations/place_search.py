"""Finding places the way a young person asks: a commune, a postcode, a quartier or a place
name, typed on a phone (no accents, no capitals, a letter wrong or missing: "echirol", "38130",
"vilneuve"); or around a position (the browser's, rounded by the page before it is sent)."""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

import sqlalchemy as sa

from models.base import db
from models.territory import Place, Quartier

EARTH_RADIUS_KM = 6371.0
# Short words that name nothing ("BIJ d'Échirolles", "Centre social de Maurepas").
NOISE = frozenset({"d", "de", "des", "du", "la", "le", "les", "l", "et", "a", "au", "aux", "en", "sur"})


def folded(text: str) -> str:
    """Lower case, no accents, words separated by single spaces: "BIJ d'Échirolles" -> "bij d echirolles"."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.split(r"[^0-9a-z]+", plain)).strip()


def _edits(a: str, b: str, most: int) -> int:
    """Levenshtein distance of a and b, or most + 1 once it is known to exceed `most`."""
    if abs(len(a) - len(b)) > most:
        return most + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > most:
            return most + 1
        previous = current
    return previous[-1]


def _word_score(token: str, word: str) -> int:
    """3: the word; 2: its beginning ("echirol"); 1: the word or its beginning with one typo (two
    from 8 letters); 0: no match. Digits (postcodes) match exactly or by their beginning only."""
    if token == word:
        return 3
    if word.startswith(token) and (len(token) >= 2 or token.isdigit()):
        return 2
    if token.isdigit() or len(token) < 4:
        return 0
    most = 1 if len(token) < 8 else 2
    if min(_edits(token, word, most), _edits(token, word[:len(token)], most),
           _edits(token, word[:len(token) + 1], most)) <= most:
        return 1
    return 0


@dataclass(frozen=True)
class PlaceMatch:
    id: int
    slug: str
    name: str
    score: int


def search_places(text: str, limit: int = 20) -> list[PlaceMatch]:
    """Places whose name, commune, postcode or quartier (name or commune) hold every word typed,
    the best matches first."""
    tokens = [t for t in folded(text).split() if t not in NOISE][:6]
    if not tokens:
        return []
    rows = db.session.execute(
        sa.select(Place.id, Place.slug, Place.name, Place.city, Place.postcode, Quartier.name, Quartier.communes)
        .outerjoin(Quartier, Quartier.id == Place.quartier_id)).all()
    found = []
    for place_id, slug, name, city, postcode, quartier, communes in rows:
        words = set(folded(" ".join([name, city or "", postcode or "", quartier or "", *(communes or [])])).split())
        total = 0
        for token in tokens:
            best = max((_word_score(token, w) for w in words), default=0)
            if best == 0:
                break
            total += best
        else:
            found.append(PlaceMatch(place_id, slug, name, total))
    found.sort(key=lambda m: (-m.score, folded(m.name)))
    return found[:limit]


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def places_near(latitude: float, longitude: float, radius_km: float,
                limit: int | None = None) -> list[tuple[int, float]]:
    """(place id, distance in km) of the places with coordinates within `radius_km`, nearest
    first. The database narrows to a box around the point; the distance decides."""
    lat_span = radius_km / 111.0
    lon_span = radius_km / max(1e-6, 111.0 * math.cos(math.radians(latitude)))
    rows = db.session.execute(sa.select(Place.id, Place.latitude, Place.longitude).where(
        Place.latitude.between(latitude - lat_span, latitude + lat_span),
        Place.longitude.between(longitude - lon_span, longitude + lon_span))).all()
    near = sorted((d, place_id) for place_id, lat, lon in rows
                  if lat is not None and lon is not None
                  and (d := distance_km(latitude, longitude, lat, lon)) <= radius_km)
    return [(place_id, d) for d, place_id in near[:limit]]
