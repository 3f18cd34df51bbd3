"""The rows of an event write: what the write service (`scheduler.writes`) changes in the tables,
each change checked (rights, references, the wall-clock rule) and audited. Private to it: nothing
else writes events (the linter's banned imports say so)."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from models import db, utcnow
from models.actor import Actor
from models.base import next_ids
from models.errors import Forbidden, InvalidInput, NotFound
from models.events import EVENT_KINDS, STATUSES, VISIBILITIES, Event, OccurrenceException
from models.operations.audit import apply_changes, plain_value, record, record_many
from models.operations.partners import MAX_NAMED, partners_by_slugs, people_by_ids
from models.operations.territory import place_by_slug
from models.operations.text import check_texts
from models.partners import Partner
from models.territory import Place
from scheduler.time.rules import MAX_DURATION_MINUTES, OUT_OF_CALENDAR, TIMING_FIELDS, check_timing, in_calendar

# Column defaults only apply at INSERT; the rule checks need them before.
EVENT_DEFAULTS = {"description": "", "visibility": "public", "status": "confirmed", "employers": [],
                  "walk_in": False, "audience_tags": [], "frequency": "once", "interval": 1, "weekdays": [],
                  "skip_public_holidays": True, "pause_school_holidays": False, "sequence": 0}

# The texts of an event and of an occurrence's exception, as `check_texts` reads them.
EVENT_TEXTS = {"one_line": ("title", "room", "registration_url", "timezone"), "multi_line": ("description",),
               "lists": ("employers", "audience_tags")}
EXCEPTION_TEXTS = {"one_line": ("room",), "multi_line": ("reason",)}


def _chunks(slugs: set[str], size: int = 1000):  # slugs per IN (...)
    ordered = sorted(slugs)
    for start in range(0, len(ordered), size):
        yield ordered[start:start + size]


class References:
    """The places and partners a batch of writes names, each read once: an import of 5,000 events
    read its place and its organisers twice per event, 10,000 queries for a few hundred rows.
    What is not known ahead is read as a single write reads it, with the same errors."""

    def __init__(self) -> None:
        self.places: dict[str, Place] = {}
        self.partners: dict[str, Partner] = {}

    def read_ahead(self, places: Iterable[str], partners: Iterable[str]) -> None:
        """Reads, in a few queries, these places and partners (by slug)."""
        for chunk in _chunks(set(places) - self.places.keys()):
            self.places.update((p.slug, p) for p in db.session.scalars(sa.select(Place).where(Place.slug.in_(chunk))))
        for chunk in _chunks(set(partners) - self.partners.keys()):
            self.partners.update((p.slug, p) for p in db.session.scalars(
                sa.select(Partner).where(Partner.slug.in_(chunk))))

    def place(self, slug: str) -> Place:
        return self.places.get(slug) or place_by_slug(slug)

    def organisers(self, slugs: list[str]) -> list[Partner]:
        named = list(dict.fromkeys(slugs))
        if len(named) <= MAX_NAMED and all(s in self.partners for s in named):
            return [self.partners[s] for s in named]
        return partners_by_slugs(slugs)  # its errors: too many, or unknown


def resolve_event_values(values: dict, references: References | None = None) -> dict:
    references = references or References()
    check_texts(values, **EVENT_TEXTS)
    if "place" in values:
        values["place"] = references.place(values["place"])
    if "organisers" in values:
        values["organisers"] = references.organisers(values["organisers"])
        if not values["organisers"]:
            raise InvalidInput.on("organisers", "Un événement a au moins un partenaire organisateur.")
    if "people" in values:
        values["people"] = people_by_ids(values["people"])
    for field, choices in (("kind", EVENT_KINDS), ("visibility", VISIBILITIES), ("status", STATUSES)):
        if field in values and values[field] not in choices:
            raise InvalidInput.on(field, f"Valeur inconnue : « {values[field]} ».")
    if "age_min" in values or "age_max" in values:
        lo, hi = values.get("age_min"), values.get("age_max")
        if lo is not None and hi is not None and lo > hi:
            raise InvalidInput.on("age_max", "L'âge maximum est inférieur à l'âge minimum.")
    return values


def require_may_name(actor: Actor, partners) -> None:
    """An event names as organisers only partners the writer may act for (`may_name_partner`:
    docs/security.md): naming one is writing in its name, in its feed and its notices."""
    refused = [p for p in partners if not actor.may_name_partner(p)]
    if refused:
        names = ", ".join(f"« {p.name} »" for p in refused)
        raise Forbidden(f"Vous ne pouvez pas nommer {names} comme organisateur : seul·es ses membres, ceux "
                        "d'un partenaire qui organise déjà un événement avec lui ou un·e coordinateur·rice de son "
                        "territoire le peuvent.", {"organisers": [f"Non autorisé : {p.slug}"
                                                                               for p in refused]})


def require_may_book(actor: Actor, people) -> None:
    """A person is booked only by someone who may name their partner (`may_name_partner`): booking
    another partner's adviser is writing in its name too."""
    refused = [p for p in people if not actor.may_name_partner(p.partner)]
    if refused:
        names = ", ".join(f"« {p.name} » ({p.partner.name})" for p in refused)
        raise Forbidden(f"Vous ne pouvez pas inscrire {names} : seul·es les membres de sa structure, ceux d'un "
                        "partenaire qui organise déjà avec elle ou un·e coordinateur·rice de son territoire le "
                        "peuvent.", {"people": [f"Non autorisé : {p.id}" for p in refused]})


class NewEvent:
    """An event checked (`new_event`), not stored yet, and what its history line will say."""

    def __init__(self, event: Event, recorded: dict):
        self.event, self.recorded = event, recorded


def new_event(actor: Actor, values: dict, references: References | None = None) -> NewEvent:
    """Checks a new event's values (rights, references, the wall-clock rule) and builds it without
    adding it: InvalidInput, Forbidden or NotFound name what is wrong with this one."""
    values = {**EVENT_DEFAULTS, **resolve_event_values(dict(values), references)}
    place = values["place"]
    values.setdefault("timezone", place.timezone)
    values.setdefault("holiday_region", place.department)
    with db.session.no_autoflush:
        # Its collections start empty and loaded: reading them after the flush (the overlap
        # check, the import's exceptions) then asks nothing of the database.
        event = Event(**{"exceptions": [], "people": [], **values})
        if event.room and place.rooms and event.room not in place.rooms:
            raise InvalidInput.on("room", f"Salle inconnue dans ce lieu : « {event.room} ».")
        actor.require(actor.can_edit_event(event),
                      "Vous ne pouvez créer que des événements que votre structure organise, "
                      "dans votre territoire.")
        require_may_name(actor, event.organisers)
        require_may_book(actor, event.people)
        check_timing(event)
    return NewEvent(event, values)


def insert_events(actor: Actor, new: list[NewEvent]) -> list[Event]:
    """Stores events checked by `new_event`, in one flush, each with its history line ("create",
    the values as stored), the lines in one bulk insert."""
    if len(new) > 1 and db.session.get_bind().dialect.name == "postgresql":  # one goes as one INSERT anyway
        for n, event_id in zip(new, next_ids(cast(sa.Table, Event.__table__), len(new)), strict=True):
            n.event.id = event_id
    db.session.add_all([n.event for n in new])
    db.session.flush()
    # What is stored, not what was sent: check_timing normalises a dated event (no weekdays, no
    # holiday flags).
    timing = frozenset(TIMING_FIELDS)
    record_many(actor, "create", [(n.event, {k: [None, getattr(n.event, k) if k in timing else v]
                                             for k, v in n.recorded.items()}) for n in new])
    return [n.event for n in new]


# What a split leaves to the series itself: its identity, its place in the feeds, its timestamps.
NOT_COPIED = {"id", "uid", "sequence", "created_at", "updated_at", "starts_at", "last_date", "source"}


def split_off(actor: Actor, event: Event, first_day: date, count: int | None) -> Event:
    """The second part of a split: the series as it is, from `first_day` (a date its rule gives),
    with a new UID, and the exceptions of that day and after. The caller then ends the first part
    and applies the new values to this one."""
    actor.require(actor.can_edit_event(event))
    values = {c.key: getattr(event, c.key) for c in Event.__table__.columns if c.key not in NOT_COPIED}
    values.update(start_date=first_day, count=count)
    zone = ZoneInfo(event.timezone)
    with db.session.no_autoflush:
        second = Event(**values, organisers=list(event.organisers), people=list(event.people))
        check_timing(second)
        for x in [x for x in event.exceptions if x.recurrence_start.astimezone(zone).date() >= first_day]:
            x.event = second
        db.session.add(second)
    db.session.flush()
    record(actor, "split", event, {"split_into": [None, second.id], "from_date": [None, first_day]})
    record(actor, "split", second, {"split_from": [None, event.id], "from_date": [None, first_day],
                                    "uid": [event.uid, second.uid]})
    return second


def change_event(actor: Actor, event: Event, values: dict, exceptions_after=None,
                 references: References | None = None) -> dict:
    """Applies the changes and returns them ({} when nothing changed).

    When the timing changes, `exceptions_after(event)` (given by the time model: models cannot
    expand a rule) says where each cancelled or moved occurrence goes under the new rule: the
    instant of its occurrence there, or None when the new rule has none that date. They are
    re-keyed or removed here, and the audit record of the write says which."""
    actor.require(actor.can_edit_event(event))
    values = resolve_event_values(dict(values), references)
    timing_before = {name: plain_value(getattr(event, name)) for name in TIMING_FIELDS}
    if "organisers" in values:  # those it had stay; each one added must be one the actor may name
        require_may_name(actor, [p for p in values["organisers"] if p not in event.organisers])
    if "people" in values:
        require_may_book(actor, [p for p in values["people"] if p not in event.people])
    if "place" in values and values["place"] is not event.place:
        # The new place's clock and holidays, unless the change says otherwise.
        values.setdefault("timezone", values["place"].timezone)
        values.setdefault("holiday_region", values["place"].department)
    changes = apply_changes(event, values)
    if not changes:
        return {}
    # An editor may not hand the event over to partners that exclude their own.
    actor.require(actor.can_edit_event(event), "Votre structure doit rester organisatrice de l'événement.")
    if event.room and event.place.rooms and event.room not in event.place.rooms:
        raise InvalidInput.on("room", f"Salle inconnue dans ce lieu : « {event.room} ».")
    check_timing(event)
    # check_timing normalises (a dated event keeps no weekdays and no holiday flags): the history
    # says what is stored, and a change it undoes is no change (no new SEQUENCE in the feeds).
    for name in TIMING_FIELDS:
        stored = plain_value(getattr(event, name))
        if stored == timing_before[name]:
            changes.pop(name, None)
        else:
            changes[name] = [timing_before[name], stored]
    if not changes:
        return {}
    if exceptions_after is not None and event.exceptions and changes.keys() & set(TIMING_FIELDS):
        changes.update(rekey_exceptions(event, exceptions_after(event), changes))
    bump(event)
    db.session.flush()
    record(actor, "update", event, changes)
    return changes


def exception_summary(x: OccurrenceException) -> dict:
    return {"recurrence_start": x.recurrence_start.isoformat(), "is_cancelled": x.is_cancelled,
            "starts_at": x.starts_at.isoformat() if x.starts_at else None, "duration_minutes": x.duration_minutes,
            "place": x.place.slug if x.place else None, "room": x.room, "person_ids": x.person_ids,
            "reason": x.reason}


def rekey_exceptions(event: Event, new_keys: dict, changes: dict) -> dict:
    """Gives each exception the recurrence instant of its occurrence under the event's new rule
    (`new_keys`: exception -> instant, or None to remove it); returns the audit changes:
    `exceptions_rekeyed` [[old instants], [new instants]] and `exceptions_removed` [[what each
    was], None]. What was moved stays moved: a moved start keeps its end too when the series'
    duration changes; what was not (a start left at the rule's instant) follows the new rule."""
    removed = [x for x, key in new_keys.items() if key is None]
    moved = [(x, key) for x, key in new_keys.items() if key is not None and key != x.recurrence_start]
    out: dict = {}
    if removed:
        out["exceptions_removed"] = [[exception_summary(x) for x in removed], None]
        for x in removed:
            event.exceptions.remove(x)
        if moved:
            db.session.flush()  # deleted first: a moved one may take the key a removed one had
    for x in event.exceptions:
        if x.starts_at == x.recurrence_start:
            x.starts_at = None  # its time was never moved (an import writes it): it follows the series'
        if "duration_minutes" in changes and x.starts_at is not None and x.duration_minutes is None:
            x.duration_minutes = changes["duration_minutes"][0]
    if moved:
        out["exceptions_rekeyed"] = [[x.recurrence_start.isoformat() for x, _ in moved],
                                     [key.isoformat() for _, key in moved]]
        if {key for _, key in moved} & {x.recurrence_start for x in event.exceptions}:
            # (event, recurrence_start) is unique row by row: when keys shift into one another (a
            # change of time zone near midnight), every moved one steps aside first.
            for i, (x, _) in enumerate(moved):
                x.recurrence_start = datetime(1, 1, 1, tzinfo=UTC) + timedelta(seconds=i)
            db.session.flush()
        for x, key in moved:
            x.recurrence_start = key
            x.sequence = (x.sequence or 0) + 1
            x.updated_at = utcnow()
    return out


def bump(event: Event) -> None:
    """Marks a change for the calendars that subscribe to the event (SEQUENCE, LAST-MODIFIED)."""
    event.sequence = (event.sequence or 0) + 1
    event.updated_at = utcnow()


def remove_event(actor: Actor, event: Event) -> None:
    actor.require(actor.can_edit_event(event))
    record(actor, "delete", event, {"uid": [event.uid, None], "title": [event.title, None]})
    db.session.delete(event)
    db.session.flush()


def exception_for(event: Event, recurrence_start: datetime) -> OccurrenceException | None:
    return next((x for x in event.exceptions if x.recurrence_start == recurrence_start), None)


def set_exception(actor: Actor, event: Event, recurrence_start: datetime, values: dict,
                             action: str) -> OccurrenceException:
    """Cancels or moves one occurrence; the caller has checked that the rule gives it."""
    actor.require(actor.can_edit_event(event))
    check_texts(values, **EXCEPTION_TEXTS)
    if values.get("starts_at") is not None and not in_calendar(values["starts_at"]):
        raise InvalidInput.on("starts_at", OUT_OF_CALENDAR)
    values = dict(values)
    if "place" in values:
        values["place"] = place_by_slug(values["place"]) if values["place"] else None
        if values["place"] is not None:
            actor.require(actor.can_edit_place(values["place"]) or not actor.is_coordinator,
                          "Ce lieu n'est pas dans votre territoire.")
    if "person_ids" in values and values["person_ids"] is not None:
        named = people_by_ids(values["person_ids"])
        require_may_book(actor, [p for p in named if p not in event.people])
        values["person_ids"] = [p.id for p in named]
    exception = exception_for(event, recurrence_start)
    if exception is None:
        exception = OccurrenceException(event=event, recurrence_start=recurrence_start)
        db.session.add(exception)
    changes = apply_changes(exception, values)
    if exception.duration_minutes is not None and not 1 <= exception.duration_minutes <= MAX_DURATION_MINUTES:
        raise InvalidInput.on("duration_minutes", "La fin doit être après le début, et la durée d'au plus 7 jours.")
    room_place = exception.place or event.place
    if exception.room and room_place.rooms and exception.room not in room_place.rooms:
        raise InvalidInput.on("room", f"Salle inconnue dans ce lieu : « {exception.room} ».")
    exception.sequence = (exception.sequence or 0) + 1
    exception.updated_at = utcnow()
    bump(event)
    db.session.flush()
    changes["recurrence_start"] = [recurrence_start.isoformat(), recurrence_start.isoformat()]
    record(actor, action, event, changes)
    return exception


def drop_exception(actor: Actor, event: Event, recurrence_start: datetime) -> None:
    """Undoes a cancellation or a move: the occurrence follows the series again."""
    actor.require(actor.can_edit_event(event))
    exception = exception_for(event, recurrence_start)
    if exception is None:
        raise NotFound("Cette occurrence n'a ni annulation ni déplacement à annuler.")
    event.exceptions.remove(exception)
    bump(event)
    db.session.flush()
    record(actor, "restore_occurrence", event, {"recurrence_start": [recurrence_start.isoformat(), None]})

