"""The record of every write: who, when, what changed. It is also the history of a series."""
from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db, utcnow


class AuditEntry(db.Model):
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


def _plain(value: Any) -> Any:
    """JSON-friendly form of a column value."""
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if hasattr(value, "slug"):
        return value.slug
    if hasattr(value, "id") and hasattr(value, "__table__"):
        return value.id
    return value


def apply_changes(obj, values: dict[str, Any]) -> dict[str, list]:
    """Set the attributes and return only those that really changed, as [before, after]."""
    changed = {}
    for name, new in values.items():
        old = getattr(obj, name)
        if _plain(old) != _plain(new):
            changed[name] = [_plain(old), _plain(new)]
            setattr(obj, name, new)
    return changed


def record(actor, action: str, entity, changes: dict | None = None, entity_type: str | None = None) -> AuditEntry:
    entry = AuditEntry(
        user_id=getattr(actor, "id", None),
        action=action,
        entity_type=entity_type or entity.__tablename__,
        entity_id=entity.id,
        changes={k: [_plain(v) for v in pair] for k, pair in (changes or {}).items()},
    )
    db.session.add(entry)
    return entry


def history(entity_type: str, entity_id: int) -> list[AuditEntry]:
    return list(db.session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == entity_id)
        .order_by(AuditEntry.at, AuditEntry.id)
    ))
