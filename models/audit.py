"""The record of every write: who, when, what changed. It is also the history of a series."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Model, UTCDateTime, utcnow


class AuditEntry(Model):
    __tablename__ = "audit_entries"
    __table_args__ = (sa.Index("ix_audit_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(sa.String(40))  # create, update, delete, cancel_occurrence...
    entity_type: Mapped[str] = mapped_column(sa.String(40))
    entity_id: Mapped[int | None]
    changes: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # field -> [before, after]

    user = relationship("User")
