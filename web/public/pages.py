"""The public pages where young people are: home (with its search), quartier, place, event, and
one date of an event for a calendar. Public events only (CalendarFilter's default)."""
from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, redirect, render_template, request, url_for

from models import Place
from models.operations.place_search import folded
from models.operations.territory import place_by_slug, quartier_by_code
from models.versions import (
    ALL_EVENTS,
    event_scope,
    place_scope,
    quartier_scope,
)
from scheduler.french import age_label, day_label, rule_phrase
from scheduler.ical.render import render_occurrence
from scheduler.time.calendar import (
    CalendarFilter,
    first_occurrences_between,
    next_occurrences,
    occurrences_between,
    public_event,
)
from web.event_details import directions_links, event_structured_data, organiser_contacts, safe_url
from web.public.blueprint import bp
from web.public.cache import cached_html
from web.public.display import display_links
from web.public.listing import (
    Filters,
    absolute_url,
    by_day,
    day_window,
    default_zone,
    feed_links,
    local_today,
    occurrence_rows,
    quartier_choices,
    requested_start_day,
    subscription_link,
)
from web.public.search import near_position, places_found, search_text

# The dated events worth planning for (the weekly ones are in the week's list already).
COMING_EVENT_KINDS = ("forum", "job_dating", "info_collective")
HOME_DAYS, QUARTIER_DAYS, PLACE_DAYS = 7, 28, 28
HOME_COMING_DAYS = 56
HOME_LIMIT = 60  # national scale: past this, the home page sends people to their quartier
HOME_COMING_LIMIT = 30


def osm_link(place: Place) -> str:
    if place.latitude is not None and place.longitude is not None:
        lat, lon = place.latitude, place.longitude
        return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=18/{lat}/{lon}"
    query = ", ".join(p for p in (place.address, place.postcode, place.city) if p)
    return "https://www.openstreetmap.org/search?query=" + quote(query or place.name)



@bp.get("/")
def home():
    filters = Filters(request.args)
    if filters.quartier:
        return redirect(url_for("public.quartier", code=filters.quartier, **filters.query()))
    first_day = requested_start_day()
    text, near = search_text(), near_position()

    def build():
        found = places_found(filters, first_day, text, near) if text or near else None
        if found is not None:
            # A search answers near the place searched: not the national lists, which cost seconds
            # at national scale for each text typed (bench/public.py) and are one link away.
            return render_template("public/home.html", found=found, search=text, filters=filters,
                                   quartiers=quartier_choices(), days=[], coming=[], total=0, limit=HOME_LIMIT,
                                   first_day=first_day, first_day_label=day_label(first_day),
                                   next_week=(first_day + timedelta(days=7)).isoformat())
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
        quartiers = quartier_choices()
        return render_template(
            "public/home.html", days=by_day(rows), total=total, limit=HOME_LIMIT,
            coming=sorted(by_quartier.values(), key=lambda g: g["quartier"].name if g["quartier"] else "~"),
            quartiers=quartiers, filters=filters, first_day=first_day, first_day_label=day_label(first_day),
            next_week=(first_day + timedelta(days=7)).isoformat(), found=found, search=text)

    # What people type is not shared between processes (any text would fill the table).
    # A search's lists drop what is over: they are kept an hour at most.
    hour = datetime.now(default_zone()).hour if text or near else None
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
    first_day = local_today()

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



