"""People received, noted in the coordination pages: the recent sessions one may count
(/coordination/personnes-recues) and the small form of one occurrence, which also opens without an
account from the one-click link of the next-morning message (`?jeton=`, for the organiser partner
and the address it was sent to). The routes join the coordination blueprint."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for

from models import Attendance, Event, Place, db, utcnow
from models.attendance import AGE_BANDS, MAX_PEOPLE
from models.errors import DomainError, InvalidInput
from models.operations.events import event_by_id
from scheduler.french import french_date, french_time
from scheduler.notifications.notices import occurrence_of
from scheduler.reports.attendance import (
    ATTENDANCE_KINDS,
    attendance_of,
    iso_z,
    link_actor,
    record_attendance,
    recurrence_instant,
)
from scheduler.time.calendar import CalendarFilter, occurrences_between
from scheduler.time.recurrence import epoch
from web.auth import current_user, login_required
from web.coordination import bp, quartiers_for_filters

LIST_DAYS = 28


def _link_keys() -> list[str]:
    return [current_app.config["SECRET_KEY"], *(current_app.config.get("SECRET_KEY_FALLBACKS") or [])]


def _occurrence_or_404(event_id: int, recurrence_id: str) -> tuple[Event, datetime]:
    try:
        return event_by_id(event_id), recurrence_instant(recurrence_id)
    except DomainError as error:
        abort(404, error.message)


def _actor(event: Event, recurrence_start: datetime):
    """Who records here: a signed-in organiser (or their coordinator), else the link's partner."""
    if current_user.is_authenticated and current_user.can_edit_event(event):
        return current_user
    actor = link_actor(event, recurrence_start, request.values.get("jeton", ""), _link_keys())
    if actor is not None and actor.can_edit_event(event):
        return actor
    if actor is None and not current_user.is_authenticated:
        return None  # the sign-in page
    abort(403, "Seuls les partenaires qui organisent cette occurrence, et leurs coordinateurs, "
               "notent les personnes reçues.")


def _bands_from(form) -> tuple[int | str | None, dict]:
    """The form's numbers, as record_attendance takes them (text left as is: it refuses it)."""
    def number(value: str):
        value = (value or "").strip()
        return int(value) if value.isascii() and value.isdigit() else (value or None)

    bands = {band: number(form.get(f"band_{band}", "")) for band in AGE_BANDS}
    return number(form.get("total", "")), {b: n for b, n in bands.items() if n is not None}


@bp.route("/personnes-recues/<int:event_id>/<recurrence_id>", methods=["GET", "POST"])
def attendance_form(event_id: int, recurrence_id: str):
    """How many people came to one occurrence: a number, optionally by age band."""
    event, recurrence_start = _occurrence_or_404(event_id, recurrence_id)
    actor = _actor(event, recurrence_start)
    if actor is None:
        return current_app.login_manager.unauthorized()
    occurrence = occurrence_of(event, recurrence_start)
    if occurrence is None:
        abort(404, "Cet événement n'a pas d'occurrence à cette date et cette heure.")
    token = request.values.get("jeton") if actor is not current_user else None
    here = url_for("coordination.attendance_form", event_id=event.id, recurrence_id=iso_z(recurrence_start),
                   jeton=token)
    error, status, values = None, 200, None
    if request.method == "POST":
        total, bands = _bands_from(request.form)
        try:
            if total is None:
                raise InvalidInput("Indiquez le nombre de personnes reçues (0 si personne n'est venu).")
            record_attendance(actor, event, recurrence_start, total, bands or None)
        except DomainError as failed:
            db.session.rollback()
            error, status, values = failed.message, 422, {"total": total, **bands}
        else:
            db.session.commit()
            flash(f"Merci : {total} personne{'s' if total != 1 else ''} reçue{'s' if total != 1 else ''} "
                  "notée(s).", "success")
            return redirect(here)
    recorded = attendance_of(event, recurrence_start)
    if values is None and recorded is not None:
        values = {"total": recorded.total, **(recorded.by_age_band or {})}
    start, end = occurrence.start, occurrence.end
    place = db.session.get(Place, occurrence.place_id) if occurrence.place_id else None
    return render_template(
        "coordination/attendance.html", event=event, place=place, action=here, token=token, error=error,
        values=values or {}, recorded=recorded, bands=AGE_BANDS, max_people=MAX_PEOPLE,
        when=f"{french_date(start.date())}, de {french_time(start)} à {french_time(end)}",
        cancelled=occurrence.is_cancelled, to_come=occurrence.starts_at > epoch(utcnow())), status


@bp.get("/personnes-recues")
@login_required
def attendance_list():
    """The sessions of the last four weeks one may count, the latest first, with what is noted."""
    zone = ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])
    now = utcnow()
    start = datetime.combine(now.astimezone(zone).date() - timedelta(days=LIST_DAYS), time(), zone)
    quartiers = quartiers_for_filters() if current_user.is_coordinator else []
    code = request.args.get("quartier") or (quartiers[0].code if quartiers else None)
    f = CalendarFilter(include_private=True, include_cancelled_events=False, kinds=ATTENDANCE_KINDS,
                       quartier=code if current_user.is_coordinator else None,
                       partner=None if current_user.is_coordinator else getattr(current_user.partner, "slug", "-"))
    pairs = [(o, e) for o, e in occurrences_between(f, start, now)
             if not o.is_cancelled and o.starts_at <= epoch(now) and current_user.can_edit_event(e)]
    counts = {(a.event_id, epoch(a.recurrence_start)): a for a in db.session.scalars(
        sa.select(Attendance).where(Attendance.event_id.in_({e.id for _, e in pairs})))} if pairs else {}
    rows = [{"o": o, "event": e, "when": f"{french_date(o.start.date())}, {french_time(o.start)}",
             "attendance": counts.get((e.id, o.recurrence_id)), "recurrence_id": iso_z(o.recurrence_start)}
            for o, e in sorted(pairs, key=lambda pair: -pair[0].starts_at)]
    return render_template("coordination/attendance_list.html", rows=rows, quartiers=quartiers, quartier=code,
                           days=LIST_DAYS)
