"""Recording how many people came to an occurrence: by its organisers and their coordinators,
once it has started, counts only (a total, optionally split by age band)."""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from models import Attendance, Event, db, utcnow
from models.actor import Actor
from models.attendance import AGE_BANDS, MAX_PEOPLE
from models.errors import InvalidInput, NotFound
from models.operations.audit import apply_changes, record
from scheduler.time.recurrence import epoch, gives_occurrence, rule_of

NOT_ORGANISER = ("Seuls les partenaires qui organisent cette occurrence, et leurs coordinateurs, "
                 "notent les personnes reçues.")


def occurrence_facts(event: Event, recurrence_start: datetime) -> tuple[int, bool]:
    """(its real start as epoch seconds, whether it is cancelled) of an occurrence the rule gives;
    NotFound otherwise."""
    if recurrence_start.tzinfo is None:
        raise InvalidInput.on("recurrence_id", "Indiquez l'heure de l'occurrence avec son décalage (ISO 8601).")
    rule = rule_of(event)
    rec = epoch(recurrence_start)
    if not gives_occurrence(rule, rec):
        raise NotFound("Cet événement n'a pas d'occurrence à cette date et cette heure.")
    spec = rule.exceptions.get(rec)
    starts = spec.starts_at if spec is not None and spec.starts_at is not None else rec
    return starts, rule.is_cancelled or (spec is not None and spec.is_cancelled)


def check_counts(total, by_age_band: dict | None) -> dict[str, int] | None:
    if not isinstance(total, int) or isinstance(total, bool) or not 0 <= total <= MAX_PEOPLE:
        raise InvalidInput.on("total", f"Un nombre de personnes entre 0 et {MAX_PEOPLE} est attendu.")
    if not by_age_band:
        return None
    unknown = [band for band in by_age_band if band not in AGE_BANDS]
    if unknown:
        raise InvalidInput.on("by_age_band", f"Tranche d'âge inconnue : {unknown[0]} ; tranches possibles : "
                                             f"{', '.join(AGE_BANDS)}.")
    if any(not isinstance(n, int) or isinstance(n, bool) or n < 0 for n in by_age_band.values()):
        raise InvalidInput.on("by_age_band", "Chaque tranche d'âge compte un nombre entier positif ou nul.")
    if sum(by_age_band.values()) > total:
        raise InvalidInput.on("by_age_band", "Les tranches d'âge comptent plus de personnes que le total.")
    return {band: by_age_band[band] for band in AGE_BANDS if by_age_band.get(band)}


def attendance_of(event: Event, recurrence_start: datetime) -> Attendance | None:
    return db.session.scalar(sa.select(Attendance).where(Attendance.event_id == event.id,
                                                         Attendance.recurrence_start == recurrence_start))


def record_attendance(actor: Actor, event: Event, recurrence_start: datetime, total, by_age_band=None,
                      now: datetime | None = None) -> Attendance:
    """Sets the count of one occurrence (again, if it was set): nothing written on bad input."""
    actor.require(actor.can_edit_event(event), NOT_ORGANISER)
    recurrence_start = recurrence_start.astimezone(UTC)
    starts, cancelled = occurrence_facts(event, recurrence_start)
    if cancelled:
        raise InvalidInput("Cette occurrence a été annulée : personne n'y a été reçu.")
    if starts > epoch(now or utcnow()):
        raise InvalidInput("Cette occurrence n'a pas encore eu lieu : notez les personnes reçues après.")
    bands = check_counts(total, by_age_band)
    attendance = attendance_of(event, recurrence_start)
    if attendance is None:
        attendance = Attendance(event_id=event.id, recurrence_start=recurrence_start, total=total)
        db.session.add(attendance)
        changes = {"total": [None, total], "by_age_band": [None, bands]}
        attendance.by_age_band = bands
    else:
        changes = apply_changes(attendance, {"total": total, "by_age_band": bands})
    attendance.recorded_by_id = actor.id
    attendance.updated_at = utcnow()
    db.session.flush()
    record(actor, "record_attendance", event, {"recurrence_start": [recurrence_start, recurrence_start], **changes})
    return attendance


def carry_attendance(event: Event, new_keys: dict[int, int | None]) -> None:
    """Re-keys the counts of a series whose rule changed (`new_keys` from `carried_over`: old
    instant -> new instant, None when the new rule has no occurrence that date). A count whose
    date is gone keeps its key: people were received that day, the review still counts them."""
    rows = list(db.session.scalars(sa.select(Attendance).where(Attendance.event_id == event.id)))
    kept = {epoch(a.recurrence_start) for a in rows if new_keys.get(epoch(a.recurrence_start)) is None}
    moves = [(a, key) for a in rows if (key := new_keys.get(epoch(a.recurrence_start))) is not None
             and key != epoch(a.recurrence_start) and key not in kept]
    if not moves:
        return
    # (event, recurrence_start) is unique: when keys shift into one another, each steps aside first.
    for i, (a, _) in enumerate(moves):
        a.recurrence_start = datetime(1, 1, 1, tzinfo=UTC).replace(microsecond=i)
    db.session.flush()
    for a, key in moves:
        a.recurrence_start = datetime.fromtimestamp(key, UTC)
    db.session.flush()


def hand_over_attendance(event: Event, second: Event, first_day) -> None:
    """A split ("this date and the following ones"): the counts of `first_day` and after go to the
    new series with their occurrences, as the exceptions do."""
    zone = ZoneInfo(event.timezone)
    for a in db.session.scalars(sa.select(Attendance).where(Attendance.event_id == event.id)):
        if a.recurrence_start.astimezone(zone).date() >= first_day:
            a.event_id = second.id
    db.session.flush()


def attendance_keys(event: Event) -> list[int]:
    """The recurrence instants (epoch seconds) of the counts of a series."""
    return [epoch(start) for start in db.session.scalars(
        sa.select(Attendance.recurrence_start).where(Attendance.event_id == event.id))]
