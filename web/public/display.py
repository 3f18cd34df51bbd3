"""Showing a place's or quartier's programme elsewhere: the hall screen (`/ecran/…`, the next
dates until the screen is full) and the weekly A4 poster (this week or next)."""
from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Response, current_app, render_template, request, url_for

from models import Place, Quartier, db
from models.errors import NotFound
from models.operations.territory import place_by_slug, quartier_by_code
from models.territory import DEPARTMENT_TIMEZONES
from models.versions import (
    place_scope,
    quartier_scope,
)
from scheduler.french import day_label
from scheduler.time.calendar import (
    CalendarFilter,
    occurrences_between,
)
from web.poster import qr_svg_data_uri, render_poster
from web.public.blueprint import bp
from web.public.cache import cached_html, is_shareable, page_cache
from web.public.listing import absolute_url, by_day, day_window, local_today, occurrence_rows, requested_start_day

# The hall screen shows the next dates until it is full (its script hides what does not fit):
# a month ahead, this many at most.
SCREEN_DAYS, SCREEN_LIMIT = 28, 40


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
    first_day = local_today(zone)

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


# --- poster --------------------------------------------------------------------------------------

def poster_monday(zone: ZoneInfo) -> date:
    """The week a poster shows: `?du=` names a day of it; by default this week, and next week
    from Thursday on (printed on a Friday, this week's poster would already be over)."""
    if request.args.get("du"):
        day = requested_start_day(zone)
        return day - timedelta(days=day.weekday())
    today = local_today(zone)
    this_monday = today - timedelta(days=today.weekday())
    return this_monday + timedelta(days=7) if today.weekday() >= 3 else this_monday


def display_links(kind: str, obj) -> dict:
    """What a place's or quartier's page offers to show its programme elsewhere: the hall screen's
    address, and the posters of this week and next (the default one first)."""
    zone = wall_zone_of(kind, obj)
    today = local_today(zone)
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
                                   shared=is_shareable())
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


