"""What every public page shows of its occurrences, and from which request: the day it starts
(`?du=`), the filters a young person understands, each occurrence's row in its place's wall
clock, and the links a page gives (absolute ones, feeds, subscriptions)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import abort, current_app, request, url_for

from models import Place, Quartier, db
from models.events import EVENT_KINDS
from models.operations.place_search import folded
from scheduler.french import age_label, day_label, hour_label, whole_days
from scheduler.time.calendar import (
    CalendarFilter,
)

YOUTH_BAND = (16, 25)


# --- formatting ------------------------------------------------------------------------------

def default_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])


def local_today(zone: ZoneInfo | None = None) -> date:
    return datetime.now(zone or default_zone()).date()


def requested_start_day(zone: ZoneInfo | None = None) -> date:
    """`?du=AAAA-MM-JJ` shows another week; today (in `zone`, by default Maillage's) otherwise."""
    value = request.args.get("du")
    if not value:
        return local_today(zone)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        abort(400, "La date doit s'écrire AAAA-MM-JJ.")
    if abs((day - local_today()).days) > 366:
        abort(400, "Le programme se consulte au plus un an avant ou après aujourd'hui.")
    return day


def day_window(first_day: date, days: int, zone: ZoneInfo | None = None) -> tuple[datetime, datetime]:
    zone = zone or default_zone()
    start = datetime.combine(first_day, time(), zone)
    return start, datetime.combine(first_day + timedelta(days=days), time(), zone)


class Filters:
    """The filters a young person understands, from the query string."""

    def __init__(self, args):
        self.young = args.get("jeunes") == "1"
        self.walk_in = args.get("sans_rdv") == "1"
        self.kind = args.get("type") if args.get("type") in EVENT_KINDS else None
        self.quartier = args.get("quartier") or None

    def calendar_filter(self, **scope) -> CalendarFilter:
        return CalendarFilter(kind=self.kind, walk_in=self.walk_in,
                              age_band=YOUTH_BAND if self.young else None, **scope)

    def query(self) -> dict:
        return {k: v for k, v in (("jeunes", "1" if self.young else None),
                                  ("sans_rdv", "1" if self.walk_in else None),
                                  ("type", self.kind)) if v}

    @property
    def active(self) -> bool:
        return bool(self.query())

    def key(self) -> tuple:
        return (self.young, self.walk_in, self.kind)


def occurrence_rows(pairs) -> list[dict]:
    """What a page shows of each occurrence, in its place's wall clock."""
    moved_place_ids = {o.place_id for o, e in pairs if o.place_id != e.place_id}
    places = {p.id: p for p in db.session.scalars(sa.select(Place).where(Place.id.in_(moved_place_ids)))} \
        if moved_place_ids else {}
    default_zone = current_app.config["DEFAULT_TIMEZONE"]
    rows = []
    for o, e in pairs:
        place = e.place if o.place_id == e.place_id else places[o.place_id]
        start, end = o.start, o.end
        original = datetime.fromtimestamp(o.recurrence_id, ZoneInfo(o.timezone))
        # An all-day event's days (a moved one too, when it still takes whole days): no hours.
        whole = e.all_day and start.time() == end.time() == time()
        rows.append({
            "event": e, "place": place, "room": o.room, "day": start.date(),
            "start": start, "end": end, "starts_at": start.isoformat(),
            "recurrence_id": o.recurrence_start.isoformat().replace("+00:00", "Z"),
            "occurrence_key": occurrence_key(o.recurrence_start),
            "hours": whole_days((o.ends_at - o.starts_at) // 60) if whole
            else f"{hour_label(start)} – {hour_label(end)}", "day_label": day_label(start.date()),
            "local_time_note": o.timezone != default_zone,
            "is_cancelled": o.is_cancelled, "is_moved": o.is_moved,
            "moved_from": (day_label(original.date()) + ("" if e.all_day else f" à {hour_label(original)}")
                           if o.is_moved and o.starts_at != o.recurrence_id else None),
            "age": age_label(e.age_min, e.age_max),
        })
    return rows


def by_day(rows: list[dict]) -> list[tuple[date, str, list[dict]]]:
    days: dict[date, list[dict]] = {}
    for row in rows:
        days.setdefault(row["day"], []).append(row)
    return [(d, day_label(d), items) for d, items in days.items()]

# --- scopes: a place, a quartier, a partner, or everything -------------------------------------

def absolute_url(endpoint: str, **values) -> str:
    """A link for outside this request (QR code, widget code): on BASE_URL, whatever the proxy."""
    return current_app.config["BASE_URL"] + url_for(endpoint, **values)


def feed_links(feed_path: str) -> dict:
    base = current_app.config["BASE_URL"]
    https_less = base.split("://", 1)[1]
    return {"ics": feed_path, "webcal": f"webcal://{https_less}{feed_path}"}


def subscription_link(**scope) -> str:
    """Where to subscribe by email to reminders of a place, quartier or event (reminders issue)."""
    return "/abonnement?" + urlencode(scope)


def occurrence_key(recurrence_start: datetime) -> str:
    """An occurrence in a URL: the UTC instant its rule gives it, 20261207T130000Z."""
    return recurrence_start.astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%SZ")


def quartier_choices() -> list[tuple[str, str]]:
    """The quartiers of a list to choose from, as people know them: by their commune first
    ("Échirolles — Villeneuve – Village 2"), in the order of the communes' names (an official
    QPV name alone says nothing to whoever does not live there)."""
    rows = db.session.execute(sa.select(Quartier.code, Quartier.name, Quartier.communes)).all()
    labelled = [(code, f"{communes[0]} — {name}" if communes else name) for code, name, communes in rows]
    return sorted(labelled, key=lambda choice: (folded(choice[1]), choice[0]))

