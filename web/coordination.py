"""The coordinators' pages under /coordination: overlaps between partners, and how to resolve them.

Server-rendered, usable without JavaScript. Coordinators see their territory, editors their own
partner's conflicts (`models.conflicts.conflicts_query`). Each action is a form with its CSRF
token, calls one operation, then the incremental check, and commits.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from models import Event, Person, Place, Quartier, ScheduleConflict, db
from models.conflicts import CONFLICT_STATUSES
from models.errors import DomainError
from models.operations.audit import history
from models.operations.cases import accept_conflict
from models.operations.conflicts import can_act_on_conflict, conflict_for
from models.operations.events import event_by_id
from models.territory import SCHOOL_ZONE_CHOICES, is_overseas, school_zone_of
from scheduler import writes
from scheduler.conflicts.detection import SERIES
from scheduler.french import age_label, day_label, hour_label, rule_phrase
from scheduler.writes import Resolution
from web.auth import current_user, login_required

bp = Blueprint("coordination", __name__, url_prefix="/coordination")

PAGE_SIZE = 50
ERROR_TITLES = {400: "Demande impossible", 404: "Page introuvable"}


@bp.errorhandler(400)
@bp.errorhandler(404)
def error_page(error):
    """abort() in these pages: a French page; the message is the one given, or a French default
    (Werkzeug's own descriptions are English)."""
    message = error.description if error.description != type(error).description else (
        "Cette page n'existe pas." if error.code == 404 else "Cette demande ne peut pas être traitée.")
    return render_template("coordination/error.html", title=ERROR_TITLES[error.code], message=message), error.code


# --- how a conflict reads ------------------------------------------------------------------------

def _when(starts_at: int, ends_at: int, zone: str, whole_series: bool) -> str:
    tz = ZoneInfo(zone)
    start, end = datetime.fromtimestamp(starts_at, tz), datetime.fromtimestamp(ends_at, tz)
    if whole_series:
        return f"du {day_label(start.date())} {start.year} au {day_label(end.date())} {end.year}"
    if start.date() == end.date():
        return f"{day_label(start.date())} {start.year}, {hour_label(start)} – {hour_label(end)}"
    return f"{day_label(start.date())} {hour_label(start)} – {day_label(end.date())} {hour_label(end)}"


def _audience(event: Event) -> str:
    parts = [p for p in (age_label(event.age_min, event.age_max), ", ".join(event.audience_tags or [])) if p]
    return " ; ".join(parts) or "tout public"


def side_view(conflict: ScheduleConflict, which: str, people: dict[int, Person], places: dict[int, Place]) -> dict:
    """One side of a conflict as the page shows it: what, who, where, when, for whom."""
    event = conflict.a_event if which == "a" else conflict.b_event
    recurrence_id = conflict.a_recurrence_id if which == "a" else conflict.b_recurrence_id
    seen = (conflict.details or {}).get(which, {})
    place = places.get(seen.get("place_id")) or event.place
    whole_series = recurrence_id == SERIES
    return {
        "key": which,
        "event": event,
        "recurrence_start": None if whole_series else datetime.fromtimestamp(recurrence_id, UTC),
        "whole_series": whole_series,
        "when": _when(seen.get("starts_at", 0), seen.get("ends_at", 0), event.timezone, whole_series),
        "where": place.name + (f" – {seen['room']}" if seen.get("room") else ""),
        "organisers": ", ".join(p.name for p in event.organisers),
        "people": ", ".join(people[i].name for i in seen.get("person_ids", []) if i in people),
        "audience": _audience(event),
        "can_edit": current_user.can_edit_event(event),
        "local_start": datetime.fromtimestamp(seen.get("starts_at", 0), ZoneInfo(event.timezone)),
        "local_end": datetime.fromtimestamp(seen.get("ends_at", 0), ZoneInfo(event.timezone)),
    }


def what_clashes(conflict: ScheduleConflict, people: dict[int, Person], places: dict[int, Place]) -> str:
    d = conflict.details or {}
    if conflict.kind == "place":
        place = places.get(d.get("place_id"))
        room = f" – {d['room']}" if d.get("room") else ""
        return f"{place.name if place else 'Le lieu'}{room} est réservé deux fois."
    if conflict.kind == "staff":
        names = ", ".join(people[i].name for i in d.get("person_ids", []) if i in people)
        if d.get("travel"):
            return f"{names} n'a pas le temps de se rendre d'un lieu à l'autre."
        return f"{names} est attendu·e à deux endroits en même temps."
    if conflict.kind == "audience":
        tags = ", ".join(d.get("tags") or [])
        return ("Deux événements du même quartier visent le même public au même moment"
                + (f" ({tags})." if tags else "."))
    if conflict.kind == "capacity":
        person = people.get(d.get("person_id"))
        return (f"{person.name if person else 'Cette personne'} suivrait {len(d.get('event_ids', []))} jeunes "
                f"à la fois (au plus {d.get('limit')}).")
    return conflict.kind_label


def named_in(conflicts: list[ScheduleConflict]) -> tuple[dict[int, Person], dict[int, Place]]:
    """The people and places these conflicts' details name, by id, in two queries."""
    person_ids, place_ids = set(), set()
    for c in conflicts:
        d = c.details or {}
        person_ids.update(d.get("person_ids", []))
        if d.get("person_id"):
            person_ids.add(d["person_id"])
        for side in ("a", "b"):
            person_ids.update(d.get(side, {}).get("person_ids", []))
            place_ids.add(d.get(side, {}).get("place_id"))
        place_ids.add(d.get("place_id"))
    people = {p.id: p for p in db.session.scalars(sa.select(Person).where(Person.id.in_(person_ids)))}
    places = {p.id: p for p in db.session.scalars(sa.select(Place).where(Place.id.in_(place_ids - {None})))}
    return people, places


def conflict_views(conflicts: list[ScheduleConflict]) -> list[dict]:
    people, places = named_in(conflicts)
    return [{"conflict": c, "what": what_clashes(c, people, places),
             "sides": [side_view(c, "a", people, places), side_view(c, "b", people, places)]} for c in conflicts]


def month_start() -> datetime:
    zone = ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])
    now = datetime.now(zone)
    return datetime(now.year, now.month, 1, tzinfo=zone)


def quartiers_for_filters() -> list[Quartier]:
    if current_user.is_coordinator and current_user.quartiers:
        return list(current_user.quartiers)
    return list(db.session.scalars(sa.select(Quartier).order_by(Quartier.code)))


@bp.context_processor
def _helpers():
    zone = ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])
    return {"local_time": lambda instant: instant.astimezone(zone).strftime("%d/%m/%Y à %H:%M")}


# --- pages ---------------------------------------------------------------------------------------

@bp.get("/chevauchements/<int:conflict_id>")
@login_required
def conflict(conflict_id: int):
    c = _visible(conflict_id)
    return render_template("coordination/conflict.html", item=conflict_views([c])[0],
                           can_act=can_act_on_conflict(current_user, c),
                           history=history("conflicts", c.id), statuses=CONFLICT_STATUSES)


def _visible(conflict_id: int) -> ScheduleConflict:
    try:
        return conflict_for(current_user, conflict_id)
    except DomainError:
        abort(404)


def _back(conflict_id: int):
    return redirect(url_for("coordination.conflict", conflict_id=conflict_id))


def _failed(error: DomainError, conflict_id: int):
    db.session.rollback()
    flash(error.message, "error")
    return _back(conflict_id)


@bp.post("/chevauchements/<int:conflict_id>/accepter")
@login_required
def accept(conflict_id: int):
    c = _visible(conflict_id)
    try:
        accept_conflict(current_user, c, request.form.get("reason", ""))
    except DomainError as error:
        return _failed(error, conflict_id)
    db.session.commit()
    flash("Chevauchement accepté : il quitte la liste des chevauchements ouverts.", "success")
    return redirect(url_for("coordination.dashboard"))


def _side_of(c: ScheduleConflict, which: str) -> tuple[Event, datetime]:
    if which not in ("a", "b"):
        abort(404)
    recurrence_id = c.a_recurrence_id if which == "a" else c.b_recurrence_id
    if recurrence_id == SERIES:
        abort(404)
    return (c.a_event if which == "a" else c.b_event), datetime.fromtimestamp(recurrence_id, UTC)


def _after_action(c: ScheduleConflict, write, action: str):
    """Runs `write(resolution)` (one of `scheduler.writes`' single writes, made to resolve `c`),
    commits, and says what came of it."""
    conflict_id = c.id
    try:  # a place that refuses hard conflicts refuses a move that creates one
        written = write(Resolution(action, frozenset({conflict_id})))
    except DomainError as error:
        return _failed(error, conflict_id)
    db.session.commit()
    if c.status == "resolved":
        flash(f"Chevauchement résolu : {action}", "success")
        return redirect(url_for("coordination.dashboard"))
    still = [x for x in written.conflicts if x.id == c.id]
    flash("C'est enregistré, mais le chevauchement est toujours là." if still else "C'est enregistré.", "info")
    return _back(c.id)


@bp.post("/chevauchements/<int:conflict_id>/annuler")
@login_required
def cancel(conflict_id: int):
    """Cancel one side's occurrence."""
    c = _visible(conflict_id)
    event, recurrence_start = _side_of(c, request.form.get("side", ""))
    reason = request.form.get("reason", "").strip()
    action = f"occurrence de « {event.title} » annulée" + (f" ({reason})" if reason else "") + "."
    return _after_action(c, lambda resolution: writes.cancel_occurrence(
        current_user, event, recurrence_start, reason, resolution=resolution), action)


@bp.post("/chevauchements/<int:conflict_id>/deplacer")
@login_required
def move(conflict_id: int):
    """Move one side's occurrence to another day or time (local time of the event)."""
    c = _visible(conflict_id)
    event, recurrence_start = _side_of(c, request.form.get("side", ""))
    try:
        day = date.fromisoformat(request.form.get("day", ""))
        start = time.fromisoformat(request.form.get("start", ""))
        end = time.fromisoformat(request.form.get("end", ""))
    except ValueError:
        flash("Indiquez la date (AAAA-MM-JJ) et les heures de début et de fin (HH:MM).", "error")
        return _back(conflict_id)
    zone = ZoneInfo(event.timezone)
    starts_at, ends_at = datetime.combine(day, start, zone), datetime.combine(day, end, zone)
    action = f"occurrence de « {event.title} » déplacée au {day_label(day)} à {hour_label(starts_at)}."
    return _after_action(c, lambda resolution: writes.move_occurrence(
        current_user, event, recurrence_start, starts_at=starts_at, ends_at=ends_at,
        reason=request.form.get("reason", "").strip(), resolution=resolution), action)


@bp.get("/evenements/<int:event_id>")
@login_required
def event(event_id: int):
    """A series, to edit its time, room or status (the whole series)."""
    e = _event_or_404(event_id)
    end = datetime.combine(date(2000, 1, 1), e.start_time) + timedelta(minutes=e.duration_minutes)
    origin = _conflict_of_event(request.args.get("chevauchement"), e)
    return render_template("coordination/event.html", event=e, can_edit=current_user.can_edit_event(e),
                           origin=origin, rule=rule_phrase(e),
                           end_time=end.strftime("%H:%M"), place_zone=school_zone_of(e.holiday_region),
                           overseas=is_overseas(e.holiday_region), zones=SCHOOL_ZONE_CHOICES)


def _conflict_of_event(conflict_id: str | None, e: Event) -> ScheduleConflict | None:
    """The conflict whose page led to this series (`?chevauchement=`), if it is one of its own."""
    if not conflict_id or not conflict_id.isdigit():
        return None
    try:
        c = conflict_for(current_user, int(conflict_id))
    except DomainError:  # gone, or not this user's: the series page still opens
        return None
    return c if e.id in (c.a_event_id, c.b_event_id) else None


def _same_pair(c: ScheduleConflict) -> set[int]:
    """The live conflicts between the two series of `c`, of its kind: a series edit made from
    the page of one of them (every week of the pair) resolves all those it ends."""
    pair = sa.or_(sa.and_(ScheduleConflict.a_event_id == c.a_event_id, ScheduleConflict.b_event_id == c.b_event_id),
                  sa.and_(ScheduleConflict.a_event_id == c.b_event_id, ScheduleConflict.b_event_id == c.a_event_id))
    return set(db.session.scalars(sa.select(ScheduleConflict.id).where(
        pair, ScheduleConflict.kind == c.kind, ScheduleConflict.status.in_(["open", "accepted"]))))


def _event_or_404(event_id: int) -> Event:
    try:
        return event_by_id(event_id)
    except DomainError:
        abort(404)


@bp.post("/evenements/<int:event_id>")
@login_required
def edit_event(event_id: int):
    e = _event_or_404(event_id)
    if not current_user.can_edit_event(e):  # refused as such, before the form is read
        abort(403, "Vous ne pouvez modifier que les événements de votre structure ou de votre territoire.")
    values: dict = {}
    try:
        start = time.fromisoformat(request.form.get("start", ""))
        end = time.fromisoformat(request.form.get("end", ""))
    except ValueError:
        flash("Indiquez les heures de début et de fin (HH:MM).", "error")
        return redirect(url_for("coordination.event", event_id=event_id))
    if end <= start:
        flash("La fin est avant le début.", "error")
        return redirect(url_for("coordination.event", event_id=event_id))
    values["start_time"] = start
    values["duration_minutes"] = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
    values["room"] = request.form.get("room", "").strip() or None
    if request.form.get("status") in ("confirmed", "tentative", "cancelled"):
        values["status"] = request.form["status"]
    if "school_zone" in request.form:  # the form shows it for recurring series outside overseas places
        values["pause_school_holidays"] = request.form.get("pause_school_holidays") == "1"
        values["school_zone"] = request.form["school_zone"] or None
    origin = _conflict_of_event(request.form.get("chevauchement"), e)
    resolution = Resolution(f"série « {e.title} » modifiée.", frozenset(_same_pair(origin))) if origin else None
    page = url_for("coordination.event", event_id=event_id, chevauchement=origin.id if origin else None)
    try:
        written = writes.update_event(current_user, e, values, resolution=resolution)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(page)
    db.session.commit()
    if origin is not None and origin.status == "resolved":
        flash(f"Chevauchement résolu : série « {e.title} » modifiée. Chevauchements de cette série : "
              f"{len(written.conflicts)}.", "success")
        return redirect(url_for("coordination.dashboard"))
    flash(f"Série enregistrée. Chevauchements de cette série : {len(written.conflicts)}.", "success")
    return redirect(page)
