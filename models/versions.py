"""The calendar's version: a counter raised in the same transaction as every write that can
change what the public pages show (events, their exceptions, places, partners, quartiers).

Pages cache what they render under this version, so a cached page is never older than the data:
the counter is one row updated at commit time, so concurrent writers are serialised on it and
versions follow commit order; readers read it before the data (a page built from newer data
under an older version is only a wasted cache entry, never a stale one).
"""
from __future__ import annotations

import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import db


class CalendarVersion(db.Model):
    __tablename__ = "calendar_version"
    # Its row comes with the migrations: an import replaces it (models/backup.py).
    __table_args__ = {"info": {"seeded_by_migrations": True}}

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1
    version: Mapped[int] = mapped_column(sa.BigInteger, default=0)


_WATCHED_TABLES = {"events", "occurrence_exceptions", "places", "partners", "quartiers", "people"}
_FLAG = "maillage_calendar_changed"


def _touches_calendar(session: Session) -> bool:
    return any(getattr(obj, "__tablename__", None) in _WATCHED_TABLES
               for obj in (*session.new, *session.dirty, *session.deleted))


# The flag is never cleared on rollback: a rolled-back savepoint may leave earlier flushed changes
# in the transaction, and one needless raise of the version costs a page rebuild, nothing more.
@sa.event.listens_for(Session, "before_flush")
def _note_calendar_change(session, flush_context, instances) -> None:
    if _touches_calendar(session):
        session.info[_FLAG] = True


@sa.event.listens_for(Session, "before_commit")
def _raise_calendar_version(session) -> None:
    # Flush first: commit would flush after this hook, and the flush decides whether we bump.
    session.flush()
    if session.info.pop(_FLAG, False):
        bump_calendar_version(session)


def bump_calendar_version(session: Session | None = None) -> None:
    """Raises the version; for writes that bypass the ORM (bulk loads) to call themselves."""
    session = session or db.session
    updated = session.execute(sa.update(CalendarVersion).where(CalendarVersion.id == 1)
                              .values(version=CalendarVersion.version + 1)).rowcount
    if not updated:
        # The row is gone (a wiped database): start somewhere random, so that no cache keyed by
        # an old number can be mistaken for the new data.
        session.execute(sa.insert(CalendarVersion).values(id=1, version=secrets.randbits(48)))


def calendar_version() -> int:
    return db.session.scalar(sa.select(CalendarVersion.version).where(CalendarVersion.id == 1)) or 0
