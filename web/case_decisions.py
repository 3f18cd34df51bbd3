"""A case's page resolves it by acting on one of its series (`scheduler.writes.decisions`): cancel,
move, change room, change place, replace a person, on one date, on this date and the following
ones, or on the whole series; a proposed free slot applies in one click (a move of that date).
Each action comes back with the dashboard's filters: to the list when the case is no longer open,
to the case otherwise."""
from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from flask import abort, flash, request

from models import ScheduleConflict, db
from models.errors import DomainError
from scheduler.french import day_label, hour_label
from scheduler.writes.decisions import Decision, decide
from web.auth import current_user, login_required
from web.cases import back_to_case, back_to_dashboard, failed, visible_case
from web.coordination import bp


def _number(name: str) -> int | None:
    value = request.form.get(name, "")
    if not value:
        return None
    if not value.isdigit():
        abort(404)
    return int(value)


def _moment(value: str, kind):
    try:
        return kind.fromisoformat(value) if value else None
    except ValueError:
        return None


def _decision(case) -> Decision | str:
    """The form as a Decision, or the French message of what is missing."""
    event_id = _number("event_id")
    event = next((e for e in (case.a_event, case.b_event) if e.id == event_id), None)
    if event is None:
        abort(404)
    conflict_id = _number("conflict_id")
    conflict = db.session.get(ScheduleConflict, conflict_id) if conflict_id is not None else None
    scope, action = request.form.get("scope", ""), request.form.get("action", "")
    start, end = _moment(request.form.get("start", ""), time), _moment(request.form.get("end", ""), time)
    starts_at = ends_at = None
    if action == "move":
        if start is None or end is None:
            return "Indiquez les heures de début et de fin (HH:MM)."
        if scope == "date":
            day = _moment(request.form.get("day", ""), date)
            if day is None:
                return "Indiquez le jour (AAAA-MM-JJ)."
            zone = ZoneInfo(event.timezone)
            starts_at, ends_at = datetime.combine(day, start, zone), datetime.combine(day, end, zone)
    return Decision(event=event, scope=scope, action=action, conflict=conflict, starts_at=starts_at,
                    ends_at=ends_at, start=start, end=end, room=request.form.get("room") or None,
                    place=request.form.get("place") or None, replace=_number("replace"), by=_number("by"),
                    reason=request.form.get("reason", "").strip())


@bp.post("/cas/<int:case_id>/resoudre")
@login_required
def resolve_case(case_id: int):
    """One decision on one series of the case, checked as the API checks it."""
    case = visible_case(case_id)
    decision = _decision(case)
    if isinstance(decision, str):
        flash(decision, "error")
        return back_to_case(case_id)
    try:
        decide(current_user, case, decision)
    except DomainError as error:
        return failed(error, case_id)
    db.session.commit()
    db.session.refresh(case)
    what = {"cancel": "annulation", "move": "déplacement", "room": "changement de salle",
            "place": "changement de lieu", "person": "remplacement"}[decision.action]
    if decision.starts_at is not None:
        what += f" au {day_label(decision.starts_at.date())} à {hour_label(decision.starts_at)}"
    if case.status != "open":
        flash(f"Chevauchement résolu ({what}) : il quitte la liste des chevauchements ouverts.", "success")
        return back_to_dashboard()
    flash(f"C'est enregistré ({what}) ; le chevauchement reste ouvert pour {case.open_count} "
          f"date{'s' if case.open_count > 1 else ''}.", "info")
    return back_to_case(case_id)
