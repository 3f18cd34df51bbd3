"""Private feed tokens, the state of each served feed (its ETag), and calendars synced from elsewhere."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Model, UTCDateTime, utcnow


class FeedToken(Model):
    """The secret in a private feed's address (`/feeds/private/<token>.ics`), for a user or a
    partner. Only its hash is kept: whoever reads the database cannot subscribe."""

    __tablename__ = "feed_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # A few characters of the token, so that people can tell their links apart on the page.
    hint: Mapped[str] = mapped_column(sa.String(8))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    partner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(sa.String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User")
    partner = relationship("Partner")

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class FeedState(Model):
    """What was last served for one feed (its address and filters): the ETag of its bytes, the
    Last-Modified, the marker (versions of its scopes and day) it was built at, and the bytes.

    Kept in the database, not in a process, so that every gunicorn worker answers the same
    ETag and a Last-Modified that never moves backwards, and a feed built by one process is
    served by the others without building it again. It is a cache, not data: not audited.
    """

    __tablename__ = "feed_states"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    marker: Mapped[str] = mapped_column(sa.String(80))
    etag: Mapped[str] = mapped_column(sa.String(64))
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime)
    # Read only when a client does not hold the current version already (a 304 needs no bytes).
    body: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)


class SyncSource(Model):
    """A calendar a partner publishes elsewhere (an .ics address), fetched by the clock and
    applied as an import would be."""

    __tablename__ = "sync_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(sa.ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    place_id: Mapped[int] = mapped_column(sa.ForeignKey("places.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(sa.String(1000))
    kind: Mapped[str] = mapped_column(sa.String(30), default="permanence")
    visibility: Mapped[str] = mapped_column(sa.String(20), default="public")
    is_active: Mapped[bool] = mapped_column(default=True)
    interval_minutes: Mapped[int] = mapped_column(default=60)
    # Conditional GET: what the other server said last time.
    etag: Mapped[str | None] = mapped_column(sa.String(300))
    last_modified_header: Mapped[str | None] = mapped_column(sa.String(100))
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(sa.String(20))  # ok, unchanged, error
    last_message: Mapped[str] = mapped_column(sa.Text, default="")
    last_counts: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    partner = relationship("Partner")
    place = relationship("Place")

    @property
    def is_due(self) -> bool:
        if not self.is_active:
            return False
        if self.last_run_at is None:
            return True
        return (utcnow() - self.last_run_at).total_seconds() >= self.interval_minutes * 60 - 30


SYNC_STATUSES = {"ok": "Importé", "unchanged": "Inchangé", "error": "Erreur"}
