"""/coordination/semaine: a week of the territory as a grid — one table a day, an hour a row, one
column per place or per person (`?vue=personnes`), the occurrences in their start hour; those in
an open or accepted overlap drawn in red, each linked to its case. The whole territory by default
(a quartier or a place narrows it); every filter stays in the URL, and the week's links keep them.
The tables scroll sideways on a phone."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import abort, current_app, render_template, request

from models import Person, Place, ScheduleConflict, db
from models.errors import DomainError
from models.operations.conflicts import conflicts_query
from scheduler.conflicts.detection import SERIES
from scheduler.french import day_label, hour_label, title_for
from scheduler.time.calendar import CalendarFilter, occurrences_between
from scheduler.time.rules import OUT_OF_CALENDAR, in_calendar
from web.auth import current_user, login_required
from web.coordination import bp, quartiers_for_filters

MAX_COLUMNS = 40  # beyond, a quartier or a place narrows the grid
VIEWS = {"lieux": "Une colonne par lieu", "personnes": "Une colonne par personne"}
NOBODY = 0  # the column of occurrences that name no one, in the people's view


def _week_start() -> date:
    zone = ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])
    try:
        first = date.fromisoformat(request.args.get("du", ""))
    except ValueError:
        first = datetime.now(zone).date()
    if not in_calendar(first):
        abort(400, OUT_OF_CALENDAR)
    return first - timedelta(days=first.weekday())


def _calendar_filter(code: str | None, place_slug: str | None, quartiers) -> CalendarFilter:
    """The quartier or place asked for, else the reader's whole territory (everything for a
    coordinator without one, and for the partners' editors)."""
    if current_user.is_coordinator and current_user.quartiers:  # another territory's week is not found
        place = db.session.scalar(sa.select(Place).where(Place.slug == place_slug)) if place_slug else None
        if (code and code not in {q.code for q in quartiers}) or (
                place_slug and (place is None or not current_user.covers_place(place))):
            abort(404)
        if not code and not place_slug:
            ids = tuple(db.session.scalars(sa.select(Place.id).where(
                Place.quartier_id.in_(current_user.territory_quartier_ids))))
            return CalendarFilter(place_ids=ids, include_private=True)
    return CalendarFilter(quartier=code, place=place_slug, include_private=True)


def _marked(start: datetime, end: datetime) -> dict[tuple[int, int], list[ScheduleConflict]]:
    marked: dict[tuple[int, int], list[ScheduleConflict]] = {}
    visible = conflicts_query(current_user, start=start, end=end)
    for c in db.session.scalars(visible.where(ScheduleConflict.status.in_(["open", "accepted"]))):
        marked.setdefault((c.a_event_id, c.a_recurrence_id), []).append(c)
        marked.setdefault((c.b_event_id, c.b_recurrence_id), []).append(c)
    return marked


def _columns(view: str, pairs) -> list[tuple[int, str]]:
    if view == "personnes":
        ids = {pid for o, _ in pairs for pid in o.person_ids}
        names = dict(db.session.execute(sa.select(Person.id, Person.name).where(Person.id.in_(ids))).all())
        columns = sorted(names.items(), key=lambda item: item[1])
        if any(not o.person_ids for o, _ in pairs):
            columns.append((NOBODY, "Sans personne nommée"))
        return columns
    ids = {o.place_id for o, _ in pairs if o.place_id is not None}
    names = dict(db.session.execute(sa.select(Place.id, Place.name).where(Place.id.in_(ids))).all())
    return sorted(names.items(), key=lambda item: item[1])


@bp.get("/semaine")
@login_required
def week():
    """The week as a grid of the territory, overlaps in red and linked to their case."""
    zone = ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])
    monday = _week_start()
    quartiers = quartiers_for_filters()
    code, place_slug = request.args.get("quartier") or None, request.args.get("lieu") or None
    view = request.args.get("vue") if request.args.get("vue") in VIEWS else "lieux"
    start = datetime.combine(monday, time(), zone)
    end = start + timedelta(days=7)
    try:
        pairs = occurrences_between(_calendar_filter(code, place_slug, quartiers), start, end)
    except DomainError as error:
        abort(400, error.message)
    marked = _marked(start, end)
    columns = _columns(view, pairs)
    hidden = max(0, len(columns) - MAX_COLUMNS)
    columns = columns[:MAX_COLUMNS]
    shown = {key for key, _ in columns}
    # Each occurrence on its place's wall clock (8 h 30 in La Réunion is 8 h 30 there).
    local = [(o, e, o.start, o.end) for o, e in pairs]
    first_hour = min([s.hour for _, _, s, _ in local] + [8])
    last_hour = max([(e.hour if e.date() == s.date() else 23) for _, _, s, e in local] + [18])
    days = []
    for i in range(7):
        day = monday + timedelta(days=i)
        cells: dict[tuple[int, int], list[dict]] = {}
        count = 0
        for o, e, s, end_at in local:
            if s.date() != day:
                continue
            keys = ((o.person_ids or (NOBODY,)) if view == "personnes" else (o.place_id,))
            conflicts = marked.get((o.event_id, o.recurrence_id), []) + marked.get((o.event_id, SERIES), [])
            # Another partner's partners-only event by its kind: its title may name a young person.
            item = {"o": o, "event": e, "title": title_for(e, current_user.partner_id),
                    "hours": f"{hour_label(s)} – {hour_label(end_at)}", "conflicts": conflicts,
                    "cases": list({c.case_id: c for c in conflicts if c.case_id is not None}.values())}
            for key in keys:
                if key in shown:
                    cells.setdefault((s.hour, key), []).append(item)
                    count += 1
        hours = [h for h in range(first_hour, last_hour + 1)]
        days.append({"day": day, "label": day_label(day), "cells": cells, "count": count, "hours": hours})
    filters = {k: v for k, v in (("quartier", code), ("lieu", place_slug), ("vue", view if view != "lieux" else None))
               if v}
    places = list(db.session.scalars(sa.select(Place).order_by(Place.name)))
    if current_user.is_coordinator and current_user.quartiers:
        places = [p for p in places if current_user.covers_place(p)]
    return render_template("coordination/week.html", days=days, monday=monday, quartiers=quartiers,
                           places=places, quartier=code, place=place_slug, view=view, views=VIEWS,
                           columns=columns, hidden=hidden, filters=filters, hour_label=hour_label, time=time,
                           previous=monday - timedelta(days=7), next=monday + timedelta(days=7))
