"""The public pages, where young people are: home, quartier, place, event, the hall screen, the
widget other sites embed, and the weekly poster.

Public events only (CalendarFilter's default). Pages are cached under the versions of the scopes
they show (`models.versions`: everything, or a place, a quartier, a partner, an event): a write
raises those it touches in its own transaction, so a page is never older than the data it shows,
a write rebuilds only the pages that show it, and a cached page costs one small read.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from datetime import date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for

from models import Partner, Place, Quartier, db
from models.base import read_without_transaction
from models.errors import DomainError, NotFound
from models.events import EVENT_KINDS
from models.operations.partners import partner_by_slug
from models.operations.place_search import folded, places_near, search_places
from models.operations.territory import place_by_slug, quartier_by_code
from models.territory import DEPARTMENT_TIMEZONES
from models.versions import (
    ALL_EVENTS,
    event_scope,
    partner_scope,
    place_scope,
    quartier_scope,
    share_page,
    shared_page,
    versions_of,
)
from scheduler.french import age_label, day_label, hour_label, rule_phrase, whole_days
from scheduler.ical.render import render_occurrence
from scheduler.time.calendar import (
    CalendarFilter,
    first_occurrences_between,
    next_occurrences,
    occurrences_between,
    public_event,
)
from web.errors import error_page
from web.event_details import directions_links, event_structured_data, organiser_contacts, safe_url
from web.poster import qr_svg_data_uri, render_poster
from web.security import framable

bp = Blueprint("public", __name__)


@bp.before_request
def _only_reading():
    if request.method in ("GET", "HEAD"):
        read_without_transaction()

YOUTH_BAND = (16, 25)
# The dated events worth planning for (the weekly ones are in the week's list already).
COMING_EVENT_KINDS = ("forum", "job_dating", "info_collective")
HOME_DAYS, QUARTIER_DAYS, PLACE_DAYS = 7, 28, 28
# The hall screen shows the next dates until it is full (its script hides what does not fit):
# a month ahead, this many at most.
SCREEN_DAYS, SCREEN_LIMIT = 28, 40
HOME_COMING_DAYS = 56
HOME_LIMIT = 60  # national scale: past this, the home page sends people to their quartier
HOME_COMING_LIMIT = 30
# A search or "autour de moi": the places found, with what they hold in the coming two weeks.
FOUND_DAYS, FOUND_PLACES = 14, 12
NEAR_RADIUS_KM = 30


# --- formatting ------------------------------------------------------------------------------

def _default_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])


def _today(zone: ZoneInfo | None = None) -> date:
    return datetime.now(zone or _default_zone()).date()


def requested_start_day(zone: ZoneInfo | None = None) -> date:
    """`?du=AAAA-MM-JJ` shows another week; today (in `zone`, by default Maillage's) otherwise."""
    value = request.args.get("du")
    if not value:
        return _today(zone)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        abort(400, "La date doit s'écrire AAAA-MM-JJ.")
    if abs((day - _today()).days) > 366:
        abort(400, "Le programme se consulte au plus un an avant ou après aujourd'hui.")
    return day


def day_window(first_day: date, days: int, zone: ZoneInfo | None = None) -> tuple[datetime, datetime]:
    zone = zone or _default_zone()
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


# --- a cache that is never stale --------------------------------------------------------------

# What a page's bytes depend on besides the data and the settings: the code and templates that
# write them. A release that writes pages differently does not serve, from the pages the
# processes share, what the old code wrote.
_PAGE_CODE = hashlib.sha256(b"".join(
    path.read_bytes() for folder in ("templates", "static", "web", "scheduler", "models")
    for path in sorted((Path(__file__).resolve().parent.parent / folder).rglob("*"))
    if path.is_file() and path.suffix != ".pyc")).hexdigest()[:12]


class PageCache:
    """Rendered pages (bytes) keyed by what they show and the versions of their scopes (read
    first). Two levels: this process's memory, then, for the pages everyone asks for, the pages
    the processes share (`page_states`): a write makes one process build each page it changes,
    not every process. Entries of older versions are never asked for again and leave memory as
    the least recently used."""

    def __init__(self, size: int = 1024):
        self.size = size
        self.pages: OrderedDict[tuple, bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get_or_build(self, scopes: tuple[str, ...], key: tuple, build, shared: bool = False) -> bytes:
        versions, today = versions_of(scopes), _today()
        local = (versions, today, *key)
        with self.lock:
            if local in self.pages:
                self.pages.move_to_end(local)
                return self.pages[local]
        value = None
        if shared:
            config = current_app.config
            shared_key = hashlib.sha256(repr(key).encode()).hexdigest()
            marker = hashlib.sha256("|".join((
                versions, today.isoformat(), _PAGE_CODE, config["BASE_URL"], config["DEFAULT_TIMEZONE"],
                str(config["SCREEN_REFRESH_SECONDS"]), request.script_root)).encode()).hexdigest()
            value = shared_page(shared_key, marker)
        if value is None:
            value = build()
            if isinstance(value, str):
                value = value.encode()
            if shared:
                share_page(shared_key, marker, value)
        with self.lock:
            self.pages[local] = value
            while len(self.pages) > self.size:
                self.pages.popitem(last=False)
        return value


def page_cache() -> PageCache:
    return current_app.extensions["page_cache"]


def _shared() -> bool:
    """Whether this page goes to the pages the processes share: those of today, which everyone
    asks for; another day (`?du=`, any of 733) stays in this process, so that a crawler walking
    the days fills no table."""
    return "du" not in request.args


def cached_html(scopes: tuple[str, ...], key: tuple, build, shared: bool = True) -> Response:
    html = page_cache().get_or_build(scopes, (request.endpoint, *key), build, shared=shared and _shared())
    return Response(html, mimetype="text/html")


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


def osm_link(place: Place) -> str:
    if place.latitude is not None and place.longitude is not None:
        lat, lon = place.latitude, place.longitude
        return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=18/{lat}/{lon}"
    query = ", ".join(p for p in (place.address, place.postcode, place.city) if p)
    return "https://www.openstreetmap.org/search?query=" + quote(query or place.name)


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
    now = datetime.now(_default_zone())
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


# --- pages -------------------------------------------------------------------------------------

@bp.errorhandler(DomainError)
def domain_error(error: DomainError):
    db.session.rollback()
    return error_page(error.status, error.message)


@bp.get("/")
def home():
    filters = Filters(request.args)
    if filters.quartier:
        return redirect(url_for("public.quartier", code=filters.quartier, **filters.query()))
    first_day = requested_start_day()
    text, near = search_text(), near_position()

    def build():
        found = places_found(filters, first_day, text, near) if text or near else None
        start, end = day_window(first_day, HOME_DAYS)
        # National scale: the first ones only; the rest is on the quartier pages.
        week, total = first_occurrences_between(filters.calendar_filter(), start, end, HOME_LIMIT)
        rows = occurrence_rows(week)
        coming_start, coming_end = day_window(first_day, HOME_COMING_DAYS)
        coming_filter = filters.calendar_filter()
        if not filters.kind:
            coming_filter.kinds = COMING_EVENT_KINDS
        coming = occurrence_rows(first_occurrences_between(coming_filter, coming_start, coming_end,
                                                           HOME_COMING_LIMIT)[0])
        by_quartier: dict[str, dict] = {}
        for row in coming:
            q = row["place"].quartier
            by_quartier.setdefault(q.code if q else "", {"quartier": q, "rows": []})["rows"].append(row)
        quartiers = db.session.execute(sa.select(Quartier.code, Quartier.name).order_by(Quartier.name)).all()
        return render_template(
            "public/home.html", days=by_day(rows), total=total, limit=HOME_LIMIT,
            coming=sorted(by_quartier.values(), key=lambda g: g["quartier"].name if g["quartier"] else "~"),
            quartiers=quartiers, filters=filters, first_day=first_day, first_day_label=day_label(first_day),
            next_week=(first_day + timedelta(days=7)).isoformat(), found=found, search=text)

    # What people type is not shared between processes (any text would fill the table).
    # A search's lists drop what is over: they are kept an hour at most.
    hour = datetime.now(_default_zone()).hour if text or near else None
    return cached_html((ALL_EVENTS,), (first_day, filters.key(), folded(text), near, hour), build,
                       shared=not (text or near))


@bp.get("/quartiers/<code>")
def quartier(code: str):
    filters = Filters(request.args)
    first_day = requested_start_day()

    def build():
        q = quartier_by_code(code)
        start, end = day_window(first_day, QUARTIER_DAYS)
        rows = occurrence_rows(occurrences_between(filters.calendar_filter(quartier=q.code), start, end))
        return render_template(
            "public/quartier.html", quartier=q, days=by_day(rows), filters=filters,
            display=display_links("quartier", q),
            first_day_label=day_label(first_day), weeks=QUARTIER_DAYS // 7,
            next_week=(first_day + timedelta(days=7)).isoformat(),
            feeds=feed_links(f"/feeds/quartiers/{q.code}.ics"),
            subscribe=subscription_link(quartier=q.code))

    return cached_html((quartier_scope(code),), (code, first_day, filters.key()), build)


@bp.get("/lieux/<slug>")
def place(slug: str):
    filters = Filters(request.args)
    first_day = requested_start_day()

    def build():
        p = place_by_slug(slug)
        start, end = day_window(first_day, PLACE_DAYS)
        rows = occurrence_rows(occurrences_between(filters.calendar_filter(place=p.slug), start, end))
        return render_template(
            "public/place.html", place=p, days=by_day(rows), filters=filters, osm=osm_link(p),
            display=display_links("place", p), directions=directions_links(p),
            first_day_label=day_label(first_day), weeks=PLACE_DAYS // 7,
            next_week=(first_day + timedelta(days=7)).isoformat(),
            feeds=feed_links(f"/feeds/places/{p.slug}.ics"), subscribe=subscription_link(lieu=p.slug))

    return cached_html((place_scope(slug),), (slug, first_day, filters.key()), build)


@bp.get("/evenements/<int:event_id>")
def event(event_id: int):
    first_day = _today()

    def build():
        e = public_event(event_id)
        start, _ = day_window(first_day, 1)
        rows = occurrence_rows([(o, e) for o in next_occurrences(e, start, limit=10)])
        page_url = absolute_url("public.event", event_id=e.id)
        return render_template(
            "public/event.html", event=e, rows=rows, age=age_label(e.age_min, e.age_max),
            rule=rule_phrase(e), page_url=page_url, directions=directions_links(e.place),
            registration_url=safe_url(e.registration_url), organisers=organiser_contacts(e),
            structured_data=event_structured_data(e, rows, page_url),
            feeds=feed_links(f"/feeds/events/{e.id}.ics"), subscribe=subscription_link(evenement=e.id))

    return cached_html((event_scope(event_id),), (event_id,), build)


def occurrence_key(recurrence_start: datetime) -> str:
    """An occurrence in a URL: the UTC instant its rule gives it, 20261207T130000Z."""
    return recurrence_start.astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%SZ")


@bp.get("/evenements/<int:event_id>/<key>.ics")
def occurrence_ics(event_id: int, key: str):
    """One date of an event, to add to one's calendar (the series' UID and RECURRENCE-ID, so that
    a calendar that also subscribes to the series updates it rather than doubling it)."""
    e = public_event(event_id)
    try:
        wanted = datetime.strptime(key, "%Y%m%dT%H%M%SZ").replace(tzinfo=ZoneInfo("UTC"))
    except ValueError:
        abort(404, "Cette date n'existe pas pour cet événement.")
    # A moved date may have left its rule's day by weeks: look half a year either side.
    around = [o for o, _ in occurrences_between(CalendarFilter(event_id=e.id), wanted - timedelta(days=190),
                                                wanted + timedelta(days=190))
              if o.recurrence_id == int(wanted.timestamp())]
    if not around:
        abort(404, "Cette date n'existe pas pour cet événement.")
    body = render_occurrence(e, around[0], current_app.config["BASE_URL"], include_people=False)
    return Response(body, content_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="maillage-{e.id}-{key}.ics"'})



# --- hall screen ---------------------------------------------------------------------------------

def _scope(key: str) -> tuple[str, object]:
    """A screen or poster shows a place (by slug) or a quartier (by QPV code)."""
    p = db.session.scalar(sa.select(Place).where(Place.slug == key))
    if p is not None:
        return "place", p
    q = db.session.scalar(sa.select(Quartier).where(Quartier.code == key))
    if q is not None:
        return "quartier", q
    raise NotFound(f"Ni lieu ni quartier ne porte l'identifiant « {key} ».")


def _scope_of(kind: str, obj) -> str:
    return place_scope(obj.slug) if kind == "place" else quartier_scope(obj.code)


def _scope_filter(kind: str, obj) -> CalendarFilter:
    return CalendarFilter(place=obj.slug) if kind == "place" else CalendarFilter(quartier=obj.code)


def _page_url(kind: str, obj) -> str:
    if kind == "place":
        return absolute_url("public.place", slug=obj.slug)
    return absolute_url("public.quartier", code=obj.code)


def wall_zone_of(kind: str, obj) -> ZoneInfo:
    """The wall clock of a place, or of a quartier's department (an overseas quartier's places
    share its zone): a hall's "today" and a poster's week turn at their own midnight."""
    if kind == "place":
        return ZoneInfo(obj.timezone)
    return ZoneInfo(DEPARTMENT_TIMEZONES.get(obj.department, current_app.config["DEFAULT_TIMEZONE"]))


@bp.get("/ecran/<key>")
def screen(key: str):
    kind, obj = _scope(key)
    zone = wall_zone_of(kind, obj)
    first_day = _today(zone)

    def build():
        start, end = day_window(first_day, SCREEN_DAYS, zone)
        rows = occurrence_rows(occurrences_between(_scope_filter(kind, obj), start, end))[:SCREEN_LIMIT]
        page_url = _page_url(kind, obj)
        return render_template("public/screen.html", scope=obj, scope_kind=kind, days=by_day(rows),
                               today=first_day, refresh_seconds=current_app.config["SCREEN_REFRESH_SECONDS"],
                               page_url=page_url, qr=qr_svg_data_uri(page_url))

    response = cached_html((_scope_of(kind, obj),), (key, first_day), build)
    # The screen asks for fresh data; the service worker keeps the last one for when the network drops.
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/ecran/sw.js")
def screen_service_worker():
    # Served under /ecran/ so that its scope covers the screens (a worker's scope is its folder).
    response = current_app.send_static_file("ecran-sw.js")
    response.headers["Cache-Control"] = "no-cache"
    return response


# --- widget --------------------------------------------------------------------------------------

WIDGET_DAYS = 14
WIDGET_LIMIT = 12


class WidgetLook:
    """`?theme=sombre` and `?accent=RRGGBB` of a widget's address. An accent that would not be
    readable on the theme's background (contrast under 4.5:1, WCAG AA) is not used."""

    BACKGROUNDS = {"clair": "ffffff", "sombre": "111111"}

    def __init__(self, args):
        self.theme = args.get("theme") if args.get("theme") in self.BACKGROUNDS else "clair"
        accent = (args.get("accent") or "").strip().lstrip("#").lower()
        valid = len(accent) == 6 and all(c in "0123456789abcdef" for c in accent)
        self.accent = accent if valid and contrast(accent, self.BACKGROUNDS[self.theme]) >= 4.5 else None

    def query(self) -> dict:
        return {k: v for k, v in (("theme", self.theme if self.theme != "clair" else None),
                                  ("accent", self.accent)) if v}

    def key(self) -> tuple:
        return (self.theme, self.accent)


def contrast(hex_a: str, hex_b: str) -> float:
    """WCAG contrast ratio of two sRGB colours written RRGGBB."""
    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    lighter, darker = sorted((luminance(hex_a), luminance(hex_b)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _widget(scope_label: str, f: CalendarFilter, page_url: str, scope: str, key: tuple):
    first_day = _today()
    look = WidgetLook(request.args)

    def build():
        start, end = day_window(first_day, WIDGET_DAYS)
        rows = occurrence_rows(occurrences_between(f, start, end))
        return render_template("public/widget.html", scope_label=scope_label, days=by_day(rows[:WIDGET_LIMIT]),
                               more=max(0, len(rows) - WIDGET_LIMIT), page_url=page_url, look=look)

    return cached_html((scope,), (*key, look.key()), build)


@bp.get("/widget/lieux/<slug>")
@framable
def widget_place(slug: str):
    filters = Filters(request.args)
    p = place_by_slug(slug)
    return _widget(p.name, filters.calendar_filter(place=p.slug), absolute_url("public.place", slug=p.slug),
                   place_scope(p.slug), (slug, filters.key()))


@bp.get("/widget/quartiers/<code>")
@framable
def widget_quartier(code: str):
    filters = Filters(request.args)
    q = quartier_by_code(code)
    return _widget(q.name, filters.calendar_filter(quartier=q.code),
                   absolute_url("public.quartier", code=q.code), quartier_scope(q.code), (code, filters.key()))


@bp.get("/widget/partenaires/<slug>")
@framable
def widget_partner(slug: str):
    filters = Filters(request.args)
    p = partner_by_slug(slug)
    return _widget(p.name, filters.calendar_filter(partner=p.slug), absolute_url("public.home"),
                   partner_scope(p.slug), (slug, filters.key()))


@bp.get("/widget/")
def widget_snippet():
    """Builds the <iframe> code for a place, quartier or partner, with filters."""
    filters = Filters(request.args)
    look = WidgetLook(request.args)
    scope = request.args.get("portee", "")
    src = preview = None
    kind_name, _, key = scope.partition(":")
    if key:
        endpoint = {"lieu": "public.widget_place", "quartier": "public.widget_quartier",
                    "partenaire": "public.widget_partner"}.get(kind_name)
        if endpoint:
            arg = {"public.widget_quartier": "code"}.get(endpoint, "slug")
            preview = url_for(endpoint, **{arg: key}, **filters.query(), **look.query())
            src = current_app.config["BASE_URL"] + preview
    base = urlsplit(current_app.config["BASE_URL"])
    snippet = render_template("public/widget_code.txt", src=src, origin=f"{base.scheme}://{base.netloc}") \
        if src else None
    # The light default, left as it was when choosing the dark theme, is no choice to warn about.
    given = (request.args.get("accent") or "").lstrip("#").lower()
    accent_refused = given not in ("", "0b3d91") and look.accent is None
    places = db.session.execute(sa.select(Place.slug, Place.name).order_by(Place.name)).all()
    quartiers = db.session.execute(sa.select(Quartier.code, Quartier.name).order_by(Quartier.name)).all()
    partners = db.session.execute(sa.select(Partner.slug, Partner.name).order_by(Partner.name)).all()
    return render_template("public/widget_snippet.html", snippet=snippet, preview=preview, scope=scope, filters=filters,
                           places=places, quartiers=quartiers, partners=partners, look=look,
                           accent_refused=accent_refused)


# --- poster --------------------------------------------------------------------------------------

def poster_monday(zone: ZoneInfo) -> date:
    """The week a poster shows: `?du=` names a day of it; by default this week, and next week
    from Thursday on (printed on a Friday, this week's poster would already be over)."""
    if request.args.get("du"):
        day = requested_start_day(zone)
        return day - timedelta(days=day.weekday())
    today = _today(zone)
    this_monday = today - timedelta(days=today.weekday())
    return this_monday + timedelta(days=7) if today.weekday() >= 3 else this_monday


def display_links(kind: str, obj) -> dict:
    """What a place's or quartier's page offers to show its programme elsewhere: the hall screen's
    address, and the posters of this week and next (the default one first)."""
    zone = wall_zone_of(kind, obj)
    today = _today(zone)
    this_monday = today - timedelta(days=today.weekday())
    endpoint, arg = ("public.place_poster", {"slug": obj.slug}) if kind == "place" else (
        "public.quartier_poster", {"code": obj.code})
    posters = [{"label": f"cette semaine (du {day_label(monday)} au {day_label(monday + timedelta(days=6))})",
                "url": url_for(endpoint, **arg, du=monday.isoformat()), "is_default": is_default}
               for monday, is_default in ((this_monday, today.weekday() < 3),)]
    next_monday = this_monday + timedelta(days=7)
    posters.append({"label": f"la semaine prochaine (du {day_label(next_monday)} au "
                             f"{day_label(next_monday + timedelta(days=6))})",
                    "url": url_for(endpoint, **arg, du=next_monday.isoformat()), "is_default": today.weekday() >= 3})
    posters.sort(key=lambda p: not p["is_default"])
    key = obj.slug if kind == "place" else obj.code
    return {"screen": absolute_url("public.screen", key=key), "posters": posters,
            "refresh_minutes": max(1, current_app.config["SCREEN_REFRESH_SECONDS"] // 60)}


def _poster(kind: str, obj, page_url: str):
    zone = wall_zone_of(kind, obj)
    monday = poster_monday(zone)

    def build():
        start, end = day_window(monday, 7, zone)
        rows = occurrence_rows(occurrences_between(_scope_filter(kind, obj), start, end))
        return render_poster(obj.name, page_url, monday, by_day(rows))

    pdf = page_cache().get_or_build((_scope_of(kind, obj),), (request.endpoint, kind, obj.id, monday), build,
                                   shared=_shared())
    filename = f"affiche-{obj.slug if kind == 'place' else obj.code}-{monday.isoformat()}.pdf"
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{filename}"'})


@bp.get("/lieux/<slug>/affiche.pdf")
def place_poster(slug: str):
    p = place_by_slug(slug)
    return _poster("place", p, absolute_url("public.place", slug=p.slug))


@bp.get("/quartiers/<code>/affiche.pdf")
def quartier_poster(code: str):
    q = quartier_by_code(code)
    return _poster("quartier", q, absolute_url("public.quartier", code=q.code))


@bp.app_template_global()
def kind_label(kind: str) -> str:
    return EVENT_KINDS.get(kind, kind)
