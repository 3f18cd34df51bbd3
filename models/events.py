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

from models.base import Model, UTCDateTime, db, utcnow
from models.territory import school_zone_of

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
               "monthly": "Chaque mois", "yearly": "Chaque année"}
WEEKDAY_CODES = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]  # iCal and the API; 0 = Monday

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


def school_holidays_zone_of(event) -> str | None:
    """The zone given to the series, else its place's (an Event, or a row of its columns)."""
    return event.school_zone or school_zone_of(event.holiday_region)


def new_uid() -> str:
    return f"{uuid.uuid4()}@maillage"


class Event(Model):
    __tablename__ = "events"
    # A page of the occurrences (scheduler.time.keyset) reads the series that start in a slice of
    # the day, zone by zone; its first page, the long ones (they may run in from before it).
    __table_args__ = (sa.Index("ix_events_timezone_start_time", "timezone", "start_time"),
                      sa.Index("ix_events_duration_minutes", "duration_minutes"))

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
    # Kept as dates: starts at midnight and lasts whole days of the wall clock (duration_minutes a
    # multiple of 1440, 0 for a date without length), 23 or 25 hours across a change of time.
    all_day: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    frequency: Mapped[str] = mapped_column(sa.String(10), default="once")
    interval: Mapped[int] = mapped_column(default=1)
    weekdays: Mapped[list[int]] = mapped_column(sa.JSON, default=list)  # 0 = Monday
    month_week: Mapped[int | None]  # 1..4 = nth weekday of the month, -1 = last one
    # Monthly or yearly on days of the month (1..31, -1 = the last day) instead of a weekday.
    month_days: Mapped[list[int] | None] = mapped_column(sa.JSON)
    months: Mapped[list[int] | None] = mapped_column(sa.JSON)  # yearly: 1..12; none = the start's month
    # Dates added to the rule's (iCal RDATE), ISO "YYYY-MM-DD", at the series' time; COUNT and
    # UNTIL bound the rule only.
    extra_dates: Mapped[list[str] | None] = mapped_column(sa.JSON)
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

    @property
    def audience(self) -> dict:
        return {"age_min": self.age_min, "age_max": self.age_max, "tags": list(self.audience_tags or [])}

    @property
    def recurrence(self) -> dict:
        return {
            "frequency": self.frequency, "interval": self.interval,
            "weekdays": [WEEKDAY_CODES[d] for d in self.weekdays or []],
            "month_week": self.month_week, "month_days": list(self.month_days or []),
            "months": list(self.months or []),
            "extra_dates": [date.fromisoformat(d) for d in self.extra_dates or []],
            "until": self.until, "count": self.count,
        }

    def __repr__(self) -> str:
        return f"<Event {self.id} {self.title!r}>"


class OccurrenceException(Model):
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
