"""Recording what changed, by whom (the audit history), and reading it back."""
from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, cast

import sqlalchemy as sa

from models.actor import Actor
from models.audit import AuditEntry
from models.base import db, insert_rows, utcnow


def plain_value(value: Any) -> Any:
    """JSON-friendly form of a column value."""
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (list, tuple, set)):
        return [plain_value(v) for v in value]
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
        if plain_value(old) != plain_value(new):
            changed[name] = [plain_value(old), plain_value(new)]
            setattr(obj, name, new)
    return changed


def record(actor: Actor | None, action: str, entity, changes: dict | None = None,
           entity_type: str | None = None) -> AuditEntry:
    """One line of the history; actor None: the system (a detection run, the clock)."""
    entry = AuditEntry(
        user_id=getattr(actor, "id", None),
        action=action,
        entity_type=entity_type or entity.__tablename__,
        entity_id=entity.id,
        changes={k: [plain_value(v) for v in pair] for k, pair in (changes or {}).items()},
    )
    db.session.add(entry)
    return entry


def record_many(actor: Actor | None, action: str, entries: list[tuple[Any, dict]]) -> None:
    """The lines `record` writes, for many entities at once ((entity, changes) each, entities
    flushed): one bulk insert (`insert_rows`) instead of an ORM object each (an import's 5,000
    "create" lines)."""
    now = utcnow()
    user_id = getattr(actor, "id", None)
    insert_rows(cast(sa.Table, AuditEntry.__table__), [
        {"at": now, "user_id": user_id, "action": action, "entity_type": entity.__tablename__, "entity_id": entity.id,
         "changes": {k: [plain_value(v) for v in pair] for k, pair in changes.items()}}
        for entity, changes in entries])


def history(entity_type: str, entity_id: int) -> list[AuditEntry]:
    return list(db.session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == entity_id)
        .order_by(AuditEntry.at, AuditEntry.id)
    ))
