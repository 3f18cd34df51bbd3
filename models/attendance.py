"""People received at an occurrence: counts only, never names.

Keyed like the exceptions (event + the instant the rule gives the occurrence, its RECURRENCE-ID),
so a count stays with its occurrence when it is moved and when the series' rule changes
(`scheduler.writes` re-keys both together)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Model, UTCDateTime, utcnow

# Age bands a partner may split its count by (optional; the missions locales report 16–25).
AGE_BANDS = {"under_16": "Moins de 16 ans", "16_25": "16–25 ans", "26_29": "26–29 ans", "30_plus": "30 ans et plus"}
MAX_PEOPLE = 100_000  # a forum of a whole city stays far below; a typo does not


class Attendance(Model):
    __tablename__ = "attendances"
    __table_args__ = (sa.UniqueConstraint("event_id", "recurrence_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    recurrence_start: Mapped[datetime] = mapped_column(UTCDateTime)
    total: Mapped[int]
    # {"16_25": 12, "26_29": 3}: a part of `total` at most (some ages are not known).
    by_age_band: Mapped[dict[str, int] | None] = mapped_column(sa.JSON)
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
