"""Overlaps between partners, kept as records: what clashes, since when, what was decided.

A conflict's identity is its kind and its two sides, each an occurrence (event id + the instant
the rule gives it, `recurrence_id`, as in `scheduler.time.recurrence.Occurrence`). A capacity conflict
is about whole series (a sponsor following four young people in the same months): its sides
have `recurrence_id` 0.

Lifecycle: open → accepted (with a reason, by someone; back to open if either side changes) or
resolved (someone acted on it from the conflict: cancelled or moved one side) or closed (it
stopped being true by itself: another write, a holiday, the nightly detection). A conflict that
becomes true again reopens under the same identity. Every change is in the audit log
(`models.audit.history("conflicts", id)`), and each change people must hear about leaves a
`ConflictNotice` for the reminders process to send.

People think in cases, not dates: a `ConflictCase` is one kind of overlap between two series
(or, for capacity, the series one too many for a person, with itself), and groups its per-date
conflicts. Its status and counts follow its dates (`scheduler.conflicts.cases`), and notices are
recorded per case: a weekly clash of 25 dates is one notice, not 25.

Detection itself (what is true now) lives in `scheduler.conflicts`.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Model, UTCDateTime, utcnow
from models.events import Event

CONFLICT_KINDS = {
    "place": "Lieu ou salle occupé deux fois",
    "staff": "Personne attendue à deux endroits",
    "audience": "Même public visé au même moment",
    "capacity": "Capacité dépassée",
}
HARD_KINDS = {"place", "staff", "capacity"}
SEVERITIES = {"hard": "Bloquant", "warning": "Avertissement"}
CONFLICT_STATUSES = {"open": "Ouvert", "accepted": "Accepté", "resolved": "Résolu", "closed": "Clos"}
LIVE_STATUSES = ("open", "accepted")
# A sponsor follows at most three young people at once (parrainage FJT, seed pratique 17).
DEFAULT_MAX_CONCURRENT = {"sponsor": 3}
DEFAULT_TRAVEL_MARGIN_MINUTES = 30


def severity_of(kind: str) -> str:
    return "hard" if kind in HARD_KINDS else "warning"


class ScheduleConflict(Model):
    """One overlap between two occurrences (or two series, for capacity)."""

    __tablename__ = "conflicts"
    __table_args__ = (
        sa.UniqueConstraint("kind", "a_event_id", "a_recurrence_id", "b_event_id", "b_recurrence_id",
                            name="uq_conflicts_identity"),
        sa.Index("ix_conflicts_status_starts_at", "status", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    severity: Mapped[str] = mapped_column(sa.String(10))
    status: Mapped[str] = mapped_column(sa.String(10), default="open")
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("conflict_cases.id", ondelete="SET NULL"),
                                                index=True)
    a_event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    a_recurrence_id: Mapped[int] = mapped_column(sa.BigInteger)  # UTC epoch seconds; 0 = the series
    b_event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    b_recurrence_id: Mapped[int] = mapped_column(sa.BigInteger)
    # What is shared: "place:3", "person:7", "quartier:2" (scopes the incremental check).
    subject: Mapped[str] = mapped_column(sa.String(40), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)  # earliest start of the two sides
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # State of both sides when last seen, and when accepted: a difference reopens the conflict.
    signature: Mapped[str] = mapped_column(sa.String(32))
    accepted_signature: Mapped[str | None] = mapped_column(sa.String(32))
    reason: Mapped[str] = mapped_column(sa.Text, default="")  # why accepted, or how resolved
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    a_event: Mapped[Event] = relationship(foreign_keys=[a_event_id])
    b_event: Mapped[Event] = relationship(foreign_keys=[b_event_id])
    decided_by = relationship("User")
    case: Mapped[ConflictCase | None] = relationship(back_populates="conflicts")

    @property
    def case_identity(self) -> tuple[str, int, int]:
        """The case this date belongs to: its kind and its two series; a capacity overlap is the
        case of the series one too many (the others it clashes with are in its details)."""
        if self.kind == "capacity":
            excess = (self.details or {}).get("excess_event_id") or self.b_event_id
            return (self.kind, excess, excess)
        return (self.kind, self.a_event_id, self.b_event_id)

    @property
    def identity(self) -> tuple:
        return (self.kind, self.a_event_id, self.a_recurrence_id, self.b_event_id, self.b_recurrence_id)

    @property
    def is_hard(self) -> bool:
        return self.severity == "hard"

    @property
    def kind_label(self) -> str:
        return CONFLICT_KINDS.get(self.kind, self.kind)

    @property
    def status_label(self) -> str:
        return CONFLICT_STATUSES.get(self.status, self.status)

    @property
    def events(self) -> list[Event]:
        return [self.a_event, self.b_event]

    def __repr__(self) -> str:
        return f"<ScheduleConflict {self.id} {self.kind} {self.status}>"


class ConflictCase(Model):
    """One kind of overlap between two series, with its dates (the `conflicts` pointing at it).

    `status`: open while a date to come is open; accepted when every live date is accepted;
    resolved or closed when none is live (resolved when an action from the case ended it).
    Accepting the whole case keeps `accepted_versions` (the SEQUENCE of both series): a date the
    rules add later is accepted too, until either series changes."""

    __tablename__ = "conflict_cases"
    __table_args__ = (
        sa.UniqueConstraint("kind", "a_event_id", "b_event_id", name="uq_conflict_cases_identity"),
        sa.Index("ix_conflict_cases_status_next", "status", "next_starts_at"),
        # The lists' order (models.operations.cases.cases_query): a first page without a sort.
        sa.Index("ix_conflict_cases_listing", "status", "severity", "next_starts_at", "first_starts_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    severity: Mapped[str] = mapped_column(sa.String(10))
    status: Mapped[str] = mapped_column(sa.String(10), default="open")
    a_event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    b_event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    open_count: Mapped[int] = mapped_column(default=0)
    accepted_count: Mapped[int] = mapped_column(default=0)
    ended_count: Mapped[int] = mapped_column(default=0)  # resolved or closed
    first_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # first live date to come
    # The whole case accepted: why, by whom, and the versions of both series then.
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    accepted_versions: Mapped[str | None] = mapped_column(sa.String(40))
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    a_event: Mapped[Event] = relationship(foreign_keys=[a_event_id])
    b_event: Mapped[Event] = relationship(foreign_keys=[b_event_id])
    decided_by = relationship("User")
    conflicts: Mapped[list[ScheduleConflict]] = relationship(back_populates="case",
                                                            order_by="ScheduleConflict.starts_at")

    @property
    def identity(self) -> tuple[str, int, int]:
        return (self.kind, self.a_event_id, self.b_event_id)

    @property
    def is_hard(self) -> bool:
        return self.severity == "hard"

    @property
    def kind_label(self) -> str:
        return CONFLICT_KINDS.get(self.kind, self.kind)

    @property
    def status_label(self) -> str:
        return CONFLICT_STATUSES.get(self.status, self.status)

    @property
    def events(self) -> list[Event]:
        return [self.a_event] if self.a_event_id == self.b_event_id else [self.a_event, self.b_event]

    @property
    def date_count(self) -> int:
        return self.open_count + self.accepted_count + self.ended_count

    def __repr__(self) -> str:
        return f"<ConflictCase {self.id} {self.kind} {self.status}>"


class ConflictNotice(Model):
    """Someone must be told about a change of a conflict case; the reminders process sends it and
    sets `sent_at` (one row per recipient and change, so a crash never sends one twice). Recorded
    per case (`case_id`); `conflict_id` is for notices recorded before cases existed."""

    __tablename__ = "conflict_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    conflict_id: Mapped[int | None] = mapped_column(sa.ForeignKey("conflicts.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("conflict_cases.id", ondelete="CASCADE"), index=True)
    change: Mapped[str] = mapped_column(sa.String(20))  # opened, reopened, accepted, resolved, closed
    partner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("partners.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    conflict: Mapped[ScheduleConflict | None] = relationship()
    case: Mapped[ConflictCase | None] = relationship()
    partner = relationship("Partner")
    user = relationship("User")
