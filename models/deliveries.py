"""Deliveries: every reminder, notice and digest Maillage sends, recorded before it is sent.

A delivery's `key` says what, to whom, which occurrence and which offset; it is unique, so a
scan run twice (two clocks, a restart after a crash) cannot create the same message twice, and
the sender's claim on a row (see `scheduler.notifications`) keeps two senders from sending it twice.
Also here: each partner's reminder settings (offsets, webhook) and the clock's bookkeeping
(the lock row of the single active clock on SQLite, the instant up to which it has scanned).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Model, UTCDateTime, utcnow

STATES = {"pending": "En attente", "sent": "Envoyé", "failed": "En échec", "skipped": "Non envoyé",
          "grouped": "Regroupé dans un seul message"}
KINDS = {
    "reminder": "Rappel avant une occurrence",
    "weekly_programme": "Programme de la semaine d'un lieu",
    "daily_digest": "Point quotidien des chevauchements",
    "occurrence_cancelled": "Avis d'annulation",
    "occurrence_moved": "Avis de déplacement",
    "event_cancelled": "Avis d'annulation d'un événement entier",
    "event_changed": "Avis de changement d'un événement entier",
    "event_deleted": "Avis de suppression d'un événement",
    "conflict_opened": "Chevauchement signalé",
    "conflict_resolved": "Chevauchement résolu",
    "conflict_digest": "Chevauchements : les changements du moment",
    "notice_digest": "Les avis d'un même passage, en un seul message",
    "subscription_confirm": "Confirmation d'abonnement",
    "attendance_request": "Question du lendemain : personnes reçues",
}
CHANNELS = {"email": "Courriel", "webhook": "Webhook"}


class Delivery(Model):
    __tablename__ = "deliveries"
    __table_args__ = (sa.Index("ix_deliveries_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(600), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(30))
    channel: Mapped[str] = mapped_column(sa.String(10), default="email")
    recipient: Mapped[str] = mapped_column(sa.String(500))  # an address, or a webhook URL
    partner_id: Mapped[int | None] = mapped_column(index=True)  # whose settings (webhook secret)
    subscription_id: Mapped[int | None]  # public subscriber: their unsubscribe link
    # No foreign keys: the record of what was sent outlives the event or place it spoke of.
    event_id: Mapped[int | None] = mapped_column(index=True)
    recurrence_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    offset: Mapped[str | None] = mapped_column(sa.String(20))  # "J-2@09:00"
    payload: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    state: Mapped[str] = mapped_column(sa.String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: no more tries
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def state_label(self) -> str:
        return STATES.get(self.state, self.state)

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind, self.kind)

    def __repr__(self) -> str:
        return f"<Delivery {self.key} {self.state}>"


@dataclass(frozen=True, order=True)
class ReminderOffset:
    """A reminder `days_before` the occurrence's local date, at `at` on the place's wall clock."""

    days_before: int
    at: time

    @property
    def key(self) -> str:
        return f"J-{self.days_before}@{self.at:%H:%M}"

    @property
    def label(self) -> str:
        when = {0: "le jour même", 1: "la veille"}.get(self.days_before, f"{self.days_before} jours avant")
        return f"{when} à {self.at.hour} h {self.at:%M}"

    @classmethod
    def parse(cls, value: dict) -> ReminderOffset:
        return cls(int(value["days_before"]), time.fromisoformat(value["at"]))

    def as_dict(self) -> dict:
        return {"days_before": self.days_before, "at": f"{self.at:%H:%M}"}


# Two days before at 9:00, and the same morning at 8:00 (the product owner's default).
DEFAULT_OFFSETS = (ReminderOffset(2, time(9, 0)), ReminderOffset(0, time(8, 0)))
# Public subscribers: the day before at 9:00.
SUBSCRIBER_OFFSETS = (ReminderOffset(1, time(9, 0)),)
MAX_DAYS_BEFORE = 14


class PartnerReminderSettings(Model):
    """How a partner wants to be reminded: offsets, and its own system's webhook."""

    __tablename__ = "partner_reminder_settings"

    partner_id: Mapped[int] = mapped_column(sa.ForeignKey("partners.id", ondelete="CASCADE"),
                                            primary_key=True)
    offsets: Mapped[list[dict]] = mapped_column(sa.JSON, default=list)  # [] = the defaults
    webhook_url: Mapped[str | None] = mapped_column(sa.String(500))
    webhook_secret: Mapped[str | None] = mapped_column(sa.String(128))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def reminder_offsets(self) -> tuple[ReminderOffset, ...]:
        return tuple(sorted(ReminderOffset.parse(o) for o in self.offsets)) or DEFAULT_OFFSETS


class ClockLock(Model):
    """The lock row of the one active clock where the database has no advisory locks (SQLite)."""

    __tablename__ = "clock_locks"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(200))
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ScanMark(Model):
    """Up to which instant the due scan has looked: after a downtime it knows what it missed."""

    __tablename__ = "scan_marks"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    scanned_until: Mapped[datetime] = mapped_column(UTCDateTime)
