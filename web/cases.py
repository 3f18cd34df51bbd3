"""Overlap cases in the coordination pages: the dashboard as one card per case, and a case's page
(its dates open / accepted / resolved / closed, both series whole, the contacts of both sides'
partners and places, the people concerned, the decisions). The routes join the coordination
blueprint; the dashboard's filters travel with every link and come back after every action.

A case's page also opens, read-only, from the signed link of a digest, for the address it was
sent to (a partner's contact address may have no account)."""
from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy.orm import selectinload

from models import ConflictCase, Event, Person, Place, ScheduleConflict, db, utcnow
from models.conflicts import CONFLICT_KINDS, CONFLICT_STATUSES, LIVE_STATUSES, SEVERITIES
from models.errors import DomainError
from models.operations.audit import history
from models.operations.cases import (
    accept_case,
    accept_date,
    can_see_case,
    case_for,
    case_link_recipient,
    cases_query,
    dates_of,
)
from models.partners import PERSON_ROLES
from scheduler.french import day_label, hour_label, series_label, summarise_dates
from scheduler.writes.decisions import live_dates
from web.auth import current_user, login_required
from web.case_options import side_options
from web.coordination import PAGE_SIZE, bp, month_start, named_in, quartiers_for_filters, what_clashes

FILTERS = ("statut", "type", "quartier", "page")


def dashboard_filters(source=None) -> dict[str, str]:
    """The dashboard's filters as the request (query or form) carries them: every link and every
    action keeps them, so the coordinator comes back to the list they left."""
    source = source if source is not None else request.values
    return {k: source.get(k) for k in FILTERS if source.get(k)}


def _counts() -> dict:
    """The dashboard's figures, in one pass over the visible cases."""
    visible = cases_query(current_user).order_by(None).subquery()
    counted = lambda *where: sa.func.count().filter(*where)  # noqa: E731
    row = db.session.execute(sa.select(
        counted(visible.c.status == "open"),
        counted(visible.c.status == "open", visible.c.severity == "hard"),
        counted(visible.c.status == "accepted"),
        counted(visible.c.status.in_(["resolved", "closed"]), visible.c.closed_at >= month_start()))).one()
    return dict(zip(("open", "open_hard", "accepted", "resolved_this_month"), row, strict=True))


def case_cards(cases: list[ConflictCase]) -> list[dict]:
    """Each case as its card says it: both series, what clashes (from a sample date), its dates
    in a few words. A handful of queries for the whole page, whatever its size: the series come
    with the cases (`cases_query`), the dates of every card in one query, the samples in another."""
    if not cases:
        return []
    now = utcnow()
    ids = [c.id for c in cases]
    live: dict[int, list[datetime]] = defaultdict(list)
    every: dict[int, list[datetime]] = defaultdict(list)
    for case_id, starts_at, status, ends_at in db.session.execute(
            sa.select(ScheduleConflict.case_id, ScheduleConflict.starts_at, ScheduleConflict.status,
                      ScheduleConflict.ends_at)
            .where(ScheduleConflict.case_id.in_(ids)).order_by(ScheduleConflict.starts_at)):
        every[case_id].append(starts_at)
        if status in LIVE_STATUSES and ends_at > now:
            live[case_id].append(starts_at)
    # Each case's sample date (live first, then to come, then the earliest), in one query.
    rank = sa.func.row_number().over(
        partition_by=ScheduleConflict.case_id,
        order_by=(sa.case((ScheduleConflict.status.in_(LIVE_STATUSES), 0), else_=1),
                  sa.case((ScheduleConflict.ends_at <= now, 1), else_=0), ScheduleConflict.starts_at,
                  ScheduleConflict.id)).label("rank")
    ranked = sa.select(ScheduleConflict.id, rank).where(ScheduleConflict.case_id.in_(ids)).subquery()
    samples = {c.case_id: c for c in db.session.scalars(sa.select(ScheduleConflict).where(
        ScheduleConflict.id.in_(sa.select(ranked.c.id).where(ranked.c.rank == 1))))}
    # The card says what clashes, not each side: the people and places named, no side views.
    people, places = named_in(list(samples.values()))
    series = series_of(cases)
    cards = []
    for case in cases:
        zone = ZoneInfo(case.a_event.timezone)
        sample = samples.get(case.id)
        cards.append({"case": case,
                      "sample": sample and {"conflict": sample, "what": what_clashes(sample, people, places)},
                      "dates": summarise_dates([s.astimezone(zone) for s in live[case.id] or every[case.id]]),
                      "series": series[case.id]})
    return cards


def series_of(cases: list[ConflictCase]) -> dict[int, list[Event]]:
    """Both series of each case; for capacity, every series of the person at once (the details
    say which), read for all the capacity cases together."""
    found = {c.id: c.events for c in cases}
    capacity = {c.id: {c.a_event_id, c.b_event_id} for c in cases if c.kind == "capacity"}
    if not capacity:
        return found
    for case_id, details in db.session.execute(sa.select(ScheduleConflict.case_id, ScheduleConflict.details)
                                               .where(ScheduleConflict.case_id.in_(capacity))):
        capacity[case_id].update((details or {}).get("event_ids", []))
    events = {e.id: e for e in db.session.scalars(
        sa.select(Event).where(Event.id.in_(set().union(*capacity.values())))
        .options(selectinload(Event.place), selectinload(Event.organisers)))}
    for case_id, event_ids in capacity.items():
        found[case_id] = sorted((events[i] for i in event_ids if i in events), key=lambda e: (e.starts_at, e.id))
    return found


@bp.get("/")
@login_required
def dashboard():
    """The cases of the territory, one card each: hard first, then by their next date."""
    status = request.args.get("statut", "open")
    status = status if status in CONFLICT_STATUSES else "open"
    kind = request.args.get("type") if request.args.get("type") in CONFLICT_KINDS else None
    quartier = request.args.get("quartier") or None
    page = max(1, request.args.get("page", 1, type=int))
    query = cases_query(current_user, status=status, kind=kind, quartier=quartier)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
    pages = max(1, -(-total // PAGE_SIZE))
    if page > pages:  # also keeps the offset a number the database takes
        abort(404, f"Cette page n'existe pas : la liste compte {pages} page(s).")
    cases = list(db.session.scalars(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
    return render_template(
        "coordination/dashboard.html", cards=case_cards(cases), counts=_counts(),
        total=total, page=page, pages=pages, status=status, kind=kind, filters=dashboard_filters(),
        quartier=quartier, quartiers=quartiers_for_filters(), kinds=CONFLICT_KINDS, statuses=CONFLICT_STATUSES,
        severities=SEVERITIES)


# --- a case's page ---------------------------------------------------------------------------------

def _reader_case(case_id: int) -> tuple[ConflictCase, bool]:
    """The case and whether the reader may act on it: a signed-in person who sees it acts; the
    address a digest went to reads it through the link's token."""
    case = db.session.get(ConflictCase, case_id)
    if case is None:
        abort(404)
    if current_user.is_authenticated and can_see_case(current_user, case):
        return case, True
    keys = [current_app.config["SECRET_KEY"], *(current_app.config.get("SECRET_KEY_FALLBACKS") or [])]
    if case_link_recipient(case_id, request.args.get("jeton", ""), keys) is not None:
        return case, False
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized(), False
    abort(404)


def _contacts(series: list[Event]) -> dict:
    partners, places = {}, {}
    for e in series:
        for p in e.organisers:
            partners[p.id] = p
        if e.place is not None:
            places[e.place.id] = e.place
    return {"partners": sorted(partners.values(), key=lambda p: p.name),
            "places": sorted(places.values(), key=lambda p: p.name)}


def _people(series: list[Event], dates: list[ScheduleConflict]) -> list[Person]:
    ids = {p.id for e in series for p in e.people}
    for c in dates:
        d = c.details or {}
        ids.update(d.get("person_ids", []))
        if d.get("person_id"):
            ids.add(d["person_id"])
    return list(db.session.scalars(sa.select(Person).where(Person.id.in_(ids)).order_by(Person.name)))


def date_rows(case: ConflictCase, dates: list[ScheduleConflict]) -> list[dict]:
    """One line per date: when (wall clock of the first series), both sides' hours, its status."""
    zone = ZoneInfo(case.a_event.timezone)
    now = utcnow()
    rows = []
    for c in dates:
        start = c.starts_at.astimezone(zone)
        sides = []
        for which in ("a", "b"):
            seen = (c.details or {}).get(which, {})
            if seen.get("starts_at") is not None:
                s = datetime.fromtimestamp(seen["starts_at"], zone)
                e = datetime.fromtimestamp(seen["ends_at"], zone)
                sides.append(f"{hour_label(s)} – {hour_label(e)}")
        rows.append({"conflict": c, "day": f"{day_label(start.date())} {start.year}", "hours": " / ".join(sides),
                     "is_past": c.ends_at <= now, "is_series": c.a_recurrence_id == 0,
                     "recurrence_start": None if c.a_recurrence_id == 0
                     else datetime.fromtimestamp(c.a_recurrence_id, UTC)})
    return rows


@bp.get("/cas/<int:case_id>")
def case(case_id: int):
    """One case: its dates, both series whole, contacts, people, decisions and history."""
    found, can_act = _reader_case(case_id)
    if not isinstance(found, ConflictCase):
        return found  # the sign-in page
    dates = dates_of(found)
    series = series_of([found])[found.id]
    people = {p.id: p for p in _people(series, dates)}
    places = {p.id: p for p in db.session.scalars(sa.select(Place))} if dates else {}
    can_edit = {e.id: can_act and current_user.can_edit_event(e) for e in series}
    sides = side_options(current_user, found, live_dates(found), can_edit) if can_act else []
    return render_template(
        "coordination/case.html", case=found, can_act=can_act, series=series,
        series_labels={e.id: series_label(e) for e in series},
        what=what_clashes(dates[0], people, places) if dates else found.kind_label,
        rows=date_rows(found, dates), contacts=_contacts(series), people=list(people.values()),
        roles=PERSON_ROLES, history=history("conflict_cases", found.id), filters=dashboard_filters(),
        token=request.args.get("jeton") if not can_act else None, statuses=CONFLICT_STATUSES,
        can_edit=can_edit, sides=sides)


def back_to_case(case_id: int, filters: dict | None = None):
    return redirect(url_for("coordination.case", case_id=case_id, **(filters or dashboard_filters())))


def back_to_dashboard(filters: dict | None = None):
    return redirect(url_for("coordination.dashboard", **(filters or dashboard_filters())))


def visible_case(case_id: int) -> ConflictCase:
    try:
        return case_for(current_user, case_id)
    except DomainError:
        abort(404)


def failed(error: DomainError, case_id: int):
    db.session.rollback()
    flash(error.message, "error")
    return back_to_case(case_id)


@bp.post("/cas/<int:case_id>/accepter")
@login_required
def accept_whole_case(case_id: int):
    """Accept every open date to come (and those the rules add later) with one reason, or one date."""
    c = visible_case(case_id)
    conflict_id = request.form.get("conflict_id", "")
    try:
        if conflict_id:
            if not conflict_id.isdigit():
                abort(404)
            accept_date(current_user, c, int(conflict_id), request.form.get("reason", ""))
        else:
            accept_case(current_user, c, request.form.get("reason", ""))
    except DomainError as error:
        return failed(error, case_id)
    db.session.commit()
    if conflict_id:
        flash("Date acceptée.", "success")
        return back_to_case(case_id)
    flash(f"Chevauchement accepté pour toutes ses dates ({c.accepted_count}) : il quitte la liste des "
          "chevauchements ouverts.", "success")
    return back_to_dashboard()


def filters_query(filters: dict) -> str:
    return urlencode(filters)
