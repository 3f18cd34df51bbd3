"""What a case's page offers for each series the reader may edit: its dates still to come (to act
on one, or from one on), the other rooms of its place and which are free at those dates, the
colleagues free to replace a person, other places, and the three nearest free slots of its next
date (`scheduler.conflicts.options` computes what is free)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from models import ConflictCase, Event, Person, Place, ScheduleConflict, db
from scheduler.conflicts.detection import SERIES
from scheduler.conflicts.options import free_slots, occurrences_of, person_choices, room_choices
from scheduler.french import day_label, hour_label, short_date
from scheduler.writes.decisions import recurrence_of

MAX_PLACES = 200  # a select a person can still read


def busy_label(choice) -> str:
    """"libre à ces dates", or where it is taken: "occupée le 12 janv., 19 janv. (2 dates)"."""
    if choice.is_free:
        return "libre à ces dates"
    shown = ", ".join(short_date(d.date()) for d in choice.busy_on[:4])
    more = "…" if len(choice.busy_on) > 4 else ""
    return f"occupé le {shown}{more} ({len(choice.busy_on)} date{'s' if len(choice.busy_on) > 1 else ''})"


def _when(start: datetime, end: datetime) -> str:
    return f"{day_label(start.date())} {start.year}, {hour_label(start)} – {hour_label(end)}"


def _places(user, event: Event) -> list[Place]:
    q = sa.select(Place).where(Place.id != event.place_id).order_by(Place.name).limit(MAX_PLACES)
    if user.is_coordinator and user.territory_quartier_ids:
        q = q.where(Place.quartier_id.in_(user.territory_quartier_ids))
    elif event.place is not None and event.place.quartier_id is not None:
        q = q.where(Place.quartier_id == event.place.quartier_id)
    return list(db.session.scalars(q))


def side_options(user, case: ConflictCase, live: list[ScheduleConflict], can_edit: dict[int, bool]) -> list[dict]:
    """One entry per series of the case the reader may edit."""
    sides = []
    for event in dict.fromkeys([case.a_event, case.b_event]):
        if not can_edit.get(event.id):
            continue
        zone = ZoneInfo(event.timezone)
        dated = [c for c in live if recurrence_of(c, event) != SERIES]
        occurrences = occurrences_of(event, [recurrence_of(c, event) for c in dated])
        by_recurrence = {o.recurrence_id: o for o in occurrences}
        dates = []
        for c in dated:
            o = by_recurrence.get(recurrence_of(c, event))
            if o is None:
                continue
            dates.append({"conflict": c, "day": o.start.date().isoformat(), "label": _when(o.start, o.end)})
        people_ids = {p.id for p in event.people}
        for o in occurrences:
            people_ids.update(o.person_ids)
        people = list(db.session.scalars(sa.select(Person).where(Person.id.in_(people_ids)).order_by(Person.name)))
        slots, slot_date = [], None
        if dates:
            first = dates[0]["conflict"]
            other = case.b_event if event.id == case.a_event_id else case.a_event
            clear_of = occurrences_of(other, [recurrence_of(first, other)]) if other.id != event.id else []
            slots = [{"start": s.starts_at, "end": s.ends_at, "label": _when(s.starts_at, s.ends_at)}
                     for s in free_slots(event, by_recurrence[recurrence_of(first, event)], clear_of)]
            slot_date = dates[0]
        local = [datetime.fromtimestamp(o.starts_at, zone) for o in occurrences]
        sides.append({
            "event": event, "key": f"s{event.id}", "dates": dates, "slots": slots, "slot_date": slot_date,
            "rooms": [{"choice": r, "note": busy_label(r)} for r in room_choices(event, occurrences)],
            "people": [{"person": p, "choices": [{"choice": c, "note": busy_label(c)}
                                                 for c in person_choices(event, occurrences, p)]} for p in people],
            "places": _places(user, event),
            "start": local[0].strftime("%H:%M") if local else event.start_time.strftime("%H:%M"),
            "end": (datetime.fromtimestamp(occurrences[0].ends_at, zone).strftime("%H:%M") if occurrences
                    else ""),
        })
    return sides
