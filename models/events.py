"""Events: a single date or a recurring series, and the exceptions to one of its occurrences.

An event is always a series: a one-off event is a series with frequency "once". Its timing is a
wall-clock rule in the time zone of its place (start date, start time, duration, recurrence);
instants are computed from it by `scheduler.time.recurrence`, which is the only code that expands.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db, utcnow

EVENT_KINDS = {
    "permanence": "Permanence",
    "lundi_emploi": "Lundi de l'emploi",
    "forum": "Forum emploi",
    "job_dating": "Job dating",
    "info_collective": "Réunion d'information collective",
    "atelier": "Atelier",
    "coordination": "Instance de coordination",
    "aller_vers": "Travail de rue",
    "other": "Autre",
}
VISIBILITIES = {"public": "Public", "partners": "Partenaires seulement"}
STATUSES = {"tentative": "Provisoire", "confirmed": "Confirmé", "cancelled": "Annulé"}
# "once" is a single date; nothing more frequent than daily exists on purpose.
FREQUENCIES = {"once": "Une fois", "daily": "Tous les n jours", "weekly": "Chaque semaine",
               "monthly": "Chaque mois"}
WEEKDAYS = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]

event_organisers = sa.Table(
    "event_organisers",
    db.metadata,
    sa.Column("event_id", sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("partner_id", sa.ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True,
              index=True),
)

event_people = sa.Table(
    "event_people",
    db.metadata,
    sa.Column("event_id", sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("person_id", sa.ForeignKey("people.id", ondelete="CASCADE"), primary_key=True,
              index=True),
)


def new_uid() -> str:
    return f"{uuid.uuid4()}@maillage"


class Event(db.Model):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    # iCal identity: never changes, even when the series is edited or imported again.
    uid: Mapped[str] = mapped_column(sa.String(255), unique=True, default=new_uid)
    kind: Mapped[str] = mapped_column(sa.String(30), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    place_id: Mapped[int] = mapped_column(sa.ForeignKey("places.id"), index=True)
    room: Mapped[str | None] = mapped_column(sa.String(120))
    visibility: Mapped[str] = mapped_column(sa.String(20), default="public")
    status: Mapped[str] = mapped_column(sa.String(20), default="confirmed")
    capacity: Mapped[int | None]
    registration_url: Mapped[str | None] = mapped_column(sa.String(500))
    employers: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    walk_in: Mapped[bool] = mapped_column(default=False)  # "sans rendez-vous"
    # Audience: an age band (either end open) and tags such as "sans diplôme", "femmes".
    age_min: Mapped[int | None]
    age_max: Mapped[int | None]
    audience_tags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)

    # Timing, as the wall clock of `timezone` (the place's zone when the event was written).
    timezone: Mapped[str] = mapped_column(sa.String(64))
    start_date: Mapped[date]
    start_time: Mapped[time]
    duration_minutes: Mapped[int]
    frequency: Mapped[str] = mapped_column(sa.String(10), default="once")
    interval: Mapped[int] = mapped_column(default=1)
    weekdays: Mapped[list[int]] = mapped_column(sa.JSON, default=list)  # 0 = Monday
    month_week: Mapped[int | None]  # 1..4 = nth weekday of the month, -1 = last one
    until: Mapped[date | None]
    count: Mapped[int | None]
    skip_public_holidays: Mapped[bool] = mapped_column(default=True)
    # Department whose public holidays apply ('57', '974'...); None = metropole. It also gives
    # the school holiday zone (models.territory.SCHOOL_ZONES).
    holiday_region: Mapped[str | None] = mapped_column(sa.String(3))
    # Youth structures often pause during school holidays: those of `school_zone` when given,
    # else of the zone of `holiday_region`'s department.
    pause_school_holidays: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    school_zone: Mapped[str | None] = mapped_column(sa.String(1))

    # First instant and the last day of the series, kept for cheap window queries.
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_date: Mapped[date | None] = mapped_column(index=True)  # None = no end

    sequence: Mapped[int] = mapped_column(default=0)  # raised on every change (iCal SEQUENCE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str | None] = mapped_column(sa.String(40))  # "import", "sync", None = typed in

    place = relationship("Place")
    organisers = relationship("Partner", secondary=event_organisers, order_by="Partner.name")
    people = relationship("Person", secondary=event_people, order_by="Person.name")
    exceptions: Mapped[list[OccurrenceException]] = relationship(
        back_populates="event", cascade="all, delete-orphan",
        order_by="OccurrenceException.recurrence_start",
    )

    @property
    def is_cancelled(self) -> bool:
        return self.status == "cancelled"

    @property
    def is_recurring(self) -> bool:
        return self.frequency != "once"

    @property
    def kind_label(self) -> str:
        return EVENT_KINDS.get(self.kind, self.kind)

    @property
    def school_holidays_zone(self) -> str | None:
        """The zone whose school holidays would pause the series (whether it pauses or not)."""
        return school_holidays_zone_of(self)

    def __repr__(self) -> str:
        return f"<Event {self.id} {self.title!r}>"


class OccurrenceException(db.Model):
    """One occurrence of a series cancelled or moved (time, place, room, people).

    `recurrence_start` is the instant the rule gave that occurrence: its identity (iCal
    RECURRENCE-ID), unchanged however often it is moved.
    """

    __tablename__ = "occurrence_exceptions"
    __table_args__ = (sa.UniqueConstraint("event_id", "recurrence_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    recurrence_start: Mapped[datetime] = mapped_column(UTCDateTime)
    is_cancelled: Mapped[bool] = mapped_column(default=False)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int | None]
    # Indexed: every write looks up the occurrences moved into its places.
    place_id: Mapped[int | None] = mapped_column(sa.ForeignKey("places.id"), index=True)
    room: Mapped[str | None] = mapped_column(sa.String(120))
    person_ids: Mapped[list[int] | None] = mapped_column(sa.JSON)  # None = the series' people
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    sequence: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    event: Mapped[Event] = relationship(back_populates="exceptions")
    place = relationship("Place")


# --- operations ------------------------------------------------------------------------------
from datetime import timedelta, timezone as dt_timezone  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

from models.audit import _plain, apply_changes, record  # noqa: E402
from models.errors import InvalidInput, NotFound  # noqa: E402
from models.partners import partners_by_slugs, people_by_ids  # noqa: E402
from models.territory import (SCHOOL_ZONE_CHOICES, check_timezone, is_overseas, place_by_slug,  # noqa: E402
                              school_zone_of)

TIMING_FIELDS = ("timezone", "start_date", "start_time", "duration_minutes", "frequency", "interval",
                 "weekdays", "month_week", "until", "count", "skip_public_holidays", "holiday_region",
                 "pause_school_holidays", "school_zone")
MAX_DURATION_MINUTES = 7 * 24 * 60
# Column defaults only apply at INSERT; the rule checks need them before.
EVENT_DEFAULTS = {"description": "", "visibility": "public", "status": "confirmed", "employers": [],
                  "walk_in": False, "audience_tags": [], "frequency": "once", "interval": 1, "weekdays": [],
                  "skip_public_holidays": True, "pause_school_holidays": False, "sequence": 0}
MAX_COUNT = 1000


def local_to_utc(day: date, at: time, tz_name: str) -> datetime:
    """The instant a wall-clock time names in a zone (a time skipped by DST takes the offset
    before the change, as RFC 5545 says)."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(tz_name)).astimezone(dt_timezone.utc)


def school_holidays_zone_of(event) -> str | None:
    """The zone given to the series, else its place's (an Event, or a row of its columns)."""
    return event.school_zone or school_zone_of(event.holiday_region)


def event_by_id(event_id: int) -> Event:
    event = db.session.get(Event, event_id)
    if event is None:
        raise NotFound(f"Événement inconnu : {event_id}.")
    return event


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, {field: [message]})


def check_timing(e: Event) -> None:
    """Checks the wall-clock rule of an event once its fields are set; fills what defaults."""
    check_timezone(e.timezone)
    if e.frequency not in FREQUENCIES:
        raise _invalid("frequency", f"Fréquence non prise en charge : « {e.frequency} ». Une série ne peut "
                       "pas être plus fréquente que quotidienne (once, daily, weekly, monthly).")
    if not 1 <= e.duration_minutes <= MAX_DURATION_MINUTES:
        raise _invalid("duration_minutes", "La fin doit être après le début, et la durée d'au plus 7 jours.")
    if not 1 <= (e.interval or 1) <= 52:
        raise _invalid("interval", "L'intervalle doit être compris entre 1 et 52.")
    if any(not isinstance(d, int) or not 0 <= d <= 6 for d in e.weekdays or []):
        raise _invalid("weekdays", "Les jours de la semaine vont de 0 (lundi) à 6 (dimanche).")
    if e.frequency in ("weekly", "monthly") and not e.weekdays:
        e.weekdays = [e.start_date.weekday()]
    e.weekdays = sorted(set(e.weekdays or []))
    if e.frequency == "monthly":
        if e.month_week not in (1, 2, 3, 4, -1):
            raise _invalid("month_week", "Pour une série mensuelle, indiquez la semaine du mois : 1 à 4, "
                           "ou -1 pour la dernière.")
    elif e.month_week is not None:
        raise _invalid("month_week", "La semaine du mois ne vaut que pour une série mensuelle.")
    if e.until is not None and e.until < e.start_date:
        raise _invalid("until", "La date de fin est avant la date de début.")
    if e.count is not None and not 1 <= e.count <= MAX_COUNT:
        raise _invalid("count", f"Le nombre d'occurrences doit être compris entre 1 et {MAX_COUNT}.")
    check_school_holidays(e)
    if e.frequency == "once":
        # A single date is set on purpose: neither a public holiday nor a school holiday takes it
        # away (a forum on 8 May is on 8 May); only series skip them.
        e.interval, e.weekdays, e.until, e.count = 1, [], None, None
        e.skip_public_holidays, e.pause_school_holidays = False, False
    e.starts_at = local_to_utc(e.start_date, e.start_time, e.timezone)
    e.last_date = last_possible_date(e)


def check_school_holidays(e: Event) -> None:
    """A series that pauses during school holidays needs a zone: its place's, or one given."""
    if e.school_zone is not None and e.school_zone not in SCHOOL_ZONE_CHOICES:
        raise _invalid("school_zone", f"Zone de vacances scolaires inconnue : « {e.school_zone} » (A, B ou C).")
    if e.school_zone is not None and is_overseas(e.holiday_region):
        raise _invalid("school_zone", "Les zones A, B et C sont celles de la métropole : un lieu d'outre-mer suit "
                       "le calendrier scolaire de son académie, que Maillage ne connaît pas.")
    if e.pause_school_holidays and e.frequency != "once" and e.school_holidays_zone is None:
        if is_overseas(e.holiday_region):
            raise _invalid("pause_school_holidays", "Maillage ne connaît pas les vacances scolaires des académies "
                           "d'outre-mer : cette série ne peut pas s'interrompre pendant les vacances scolaires.")
        raise _invalid("school_zone", "Le département du lieu ne donne pas de zone de vacances scolaires (Corse, "
                       "département inconnu) : indiquez la zone, A, B ou C.")


def last_possible_date(e: Event) -> date | None:
    """A day no occurrence starts after (a bound, exact enough for window queries)."""
    if e.frequency == "once":
        return e.start_date
    bounds = []
    if e.until is not None:
        bounds.append(e.until)
    if e.count is not None:
        days_per_step = {"daily": 1, "weekly": 7, "monthly": 31}[e.frequency]
        per_step = 1 if e.frequency == "daily" else max(1, len(e.weekdays))
        steps = -(-e.count // per_step) + 1
        bounds.append(e.start_date + timedelta(days=steps * days_per_step * e.interval))
    return min(bounds) if bounds else None


def _resolve_event_values(values: dict) -> dict:
    if "place" in values:
        values["place"] = place_by_slug(values["place"])
    if "organisers" in values:
        values["organisers"] = partners_by_slugs(values["organisers"])
        if not values["organisers"]:
            raise _invalid("organisers", "Un événement a au moins un partenaire organisateur.")
    if "people" in values:
        values["people"] = people_by_ids(values["people"])
    for field, choices in (("kind", EVENT_KINDS), ("visibility", VISIBILITIES), ("status", STATUSES)):
        if field in values and values[field] not in choices:
            raise _invalid(field, f"Valeur inconnue : « {values[field]} ».")
    if "age_min" in values or "age_max" in values:
        lo, hi = values.get("age_min"), values.get("age_max")
        if lo is not None and hi is not None and lo > hi:
            raise _invalid("age_max", "L'âge maximum est inférieur à l'âge minimum.")
    return values


def create_event(actor, values: dict) -> Event:
    values = {**EVENT_DEFAULTS, **_resolve_event_values(dict(values))}
    place = values["place"]
    values.setdefault("timezone", place.timezone)
    values.setdefault("holiday_region", place.department)
    with db.session.no_autoflush:
        event = Event(**values)
        if event.room and place.rooms and event.room not in place.rooms:
            raise _invalid("room", f"Salle inconnue dans ce lieu : « {event.room} ».")
        actor.require(actor.can_edit_event(event),
                      "Vous ne pouvez créer que des événements que votre structure organise, "
                      "dans votre territoire.")
        check_timing(event)
    db.session.add(event)
    db.session.flush()
    # What is stored, not what was sent: check_timing normalises a dated event (no weekdays, no
    # holiday flags).
    record(actor, "create", event, {k: [None, getattr(event, k) if k in TIMING_FIELDS else v]
                                    for k, v in values.items()})
    return event


def update_event(actor, event: Event, values: dict, exceptions_after=None) -> dict:
    """Applies the changes and returns them ({} when nothing changed).

    When the timing changes, `exceptions_after(event)` (given by the time model: models cannot
    expand a rule) says where each cancelled or moved occurrence goes under the new rule: the
    instant of its occurrence there, or None when the new rule has none that date. They are
    re-keyed or removed here, and the audit record of the write says which."""
    actor.require(actor.can_edit_event(event))
    values = _resolve_event_values(dict(values))
    timing_before = {name: _plain(getattr(event, name)) for name in TIMING_FIELDS}
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
        raise _invalid("room", f"Salle inconnue dans ce lieu : « {event.room} ».")
    check_timing(event)
    # check_timing normalises (a dated event keeps no weekdays and no holiday flags): the history
    # says what is stored, and a change it undoes is no change (no new SEQUENCE in the feeds).
    for name in TIMING_FIELDS:
        stored = _plain(getattr(event, name))
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


def _exception_summary(x: OccurrenceException) -> dict:
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
        out["exceptions_removed"] = [[_exception_summary(x) for x in removed], None]
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
                x.recurrence_start = datetime(1, 1, 1, tzinfo=dt_timezone.utc) + timedelta(seconds=i)
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


def delete_event(actor, event: Event) -> None:
    actor.require(actor.can_edit_event(event))
    record(actor, "delete", event, {"uid": [event.uid, None], "title": [event.title, None]})
    db.session.delete(event)
    db.session.flush()


def exception_for(event: Event, recurrence_start: datetime) -> OccurrenceException | None:
    return next((x for x in event.exceptions if x.recurrence_start == recurrence_start), None)


def set_occurrence_exception(actor, event: Event, recurrence_start: datetime, values: dict,
                             action: str) -> OccurrenceException:
    """Cancels or moves one occurrence; the caller has checked that the rule gives it."""
    actor.require(actor.can_edit_event(event))
    values = dict(values)
    if "place" in values:
        values["place"] = place_by_slug(values["place"]) if values["place"] else None
        if values["place"] is not None:
            actor.require(actor.can_edit_place(values["place"]) or not actor.is_coordinator,
                          "Ce lieu n'est pas dans votre territoire.")
    if "person_ids" in values and values["person_ids"] is not None:
        values["person_ids"] = [p.id for p in people_by_ids(values["person_ids"])]
    exception = exception_for(event, recurrence_start)
    if exception is None:
        exception = OccurrenceException(event=event, recurrence_start=recurrence_start)
        db.session.add(exception)
    changes = apply_changes(exception, values)
    if exception.duration_minutes is not None and not 1 <= exception.duration_minutes <= MAX_DURATION_MINUTES:
        raise _invalid("duration_minutes", "La fin doit être après le début, et la durée d'au plus 7 jours.")
    room_place = exception.place or event.place
    if exception.room and room_place.rooms and exception.room not in room_place.rooms:
        raise _invalid("room", f"Salle inconnue dans ce lieu : « {exception.room} ».")
    exception.sequence = (exception.sequence or 0) + 1
    exception.updated_at = utcnow()
    bump(event)
    db.session.flush()
    changes["recurrence_start"] = [recurrence_start.isoformat(), recurrence_start.isoformat()]
    record(actor, action, event, changes)
    return exception


def restore_occurrence(actor, event: Event, recurrence_start: datetime) -> None:
    """Undoes a cancellation or a move: the occurrence follows the series again."""
    actor.require(actor.can_edit_event(event))
    exception = exception_for(event, recurrence_start)
    if exception is None:
        raise NotFound("Cette occurrence n'a ni annulation ni déplacement à annuler.")
    event.exceptions.remove(exception)
    bump(event)
    db.session.flush()
    record(actor, "restore_occurrence", event, {"recurrence_start": [recurrence_start.isoformat(), None]})


# --- read-side views of an event, shared by the API and the pages ---------------------------
WEEKDAY_CODES = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


def _audience(self: Event) -> dict:
    return {"age_min": self.age_min, "age_max": self.age_max, "tags": list(self.audience_tags or [])}


def _recurrence(self: Event) -> dict:
    return {
        "frequency": self.frequency, "interval": self.interval,
        "weekdays": [WEEKDAY_CODES[d] for d in self.weekdays or []],
        "month_week": self.month_week, "until": self.until, "count": self.count,
    }


Event.audience = property(_audience)
Event.recurrence = property(_recurrence)
