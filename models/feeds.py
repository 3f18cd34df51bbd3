"""Private feed tokens, the state of each served feed (its ETag), and calendars synced from elsewhere."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db, utcnow


class FeedToken(db.Model):
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


class FeedState(db.Model):
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


class SyncSource(db.Model):
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


# --- operations ------------------------------------------------------------------------------
from models.audit import record  # noqa: E402
from models.errors import InvalidInput, NotFound  # noqa: E402
from models.urls import refuse_private_address  # noqa: E402


def _digest(token: str) -> str:
    # 256 random bits: a plain SHA-256 is enough to store them safely (as for API tokens).
    return hashlib.sha256(token.encode()).hexdigest()


def create_feed_token(actor, *, user=None, partner=None, label: str = "") -> tuple[FeedToken, str]:
    """A new private feed token; returns it in clear, the only time it exists so."""
    if (user is None) == (partner is None):
        raise InvalidInput("Un lien privé appartient à une personne ou à un partenaire.")
    if partner is not None:
        actor.require(actor.can_edit_partner(partner),
                      "Seul·es les membres du partenaire ou un·e coordinateur·rice peuvent créer ce lien.")
    elif getattr(actor, "id", None) != user.id:
        actor.require(actor.is_coordinator, "Vous ne pouvez créer un lien privé que pour vous-même.")
    token = secrets.token_urlsafe(32)
    row = FeedToken(token_hash=_digest(token), hint=token[:6], user=user, partner=partner, label=label[:120])
    db.session.add(row)
    db.session.flush()
    record(actor, "create", row, {"hint": [None, row.hint], "label": [None, row.label]})
    return row, token


def can_manage_feed_token(actor, row: FeedToken) -> bool:
    if row.partner_id is not None:
        return actor.can_edit_partner(row.partner)
    return getattr(actor, "id", None) == row.user_id or actor.is_coordinator


def revoke_feed_token(actor, row: FeedToken) -> None:
    actor.require(can_manage_feed_token(actor, row))
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.session.flush()
        record(actor, "revoke", row, {"revoked_at": [None, row.revoked_at]})


def renew_feed_token(actor, row: FeedToken) -> tuple[FeedToken, str]:
    """Revokes the token and gives a new one for the same owner (a link that leaked)."""
    revoke_feed_token(actor, row)
    return create_feed_token(actor, user=row.user, partner=row.partner, label=row.label)


def feed_token_by_id(token_id: int) -> FeedToken:
    row = db.session.get(FeedToken, token_id)
    if row is None:
        raise NotFound("Lien privé inconnu.")
    return row


def active_feed_token(token: str) -> FeedToken | None:
    """The token row of a private feed address, if it exists and is not revoked."""
    if not token or len(token) > 100:
        return None
    row = db.session.scalar(sa.select(FeedToken).where(FeedToken.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    if row.user is not None and not row.user.is_active:
        return None
    return row


def feed_tokens_of(user) -> list[FeedToken]:
    """The links a user sees: their own and their partner's."""
    condition = FeedToken.user_id == user.id
    if user.partner_id is not None:
        condition = sa.or_(condition, FeedToken.partner_id == user.partner_id)
    return list(db.session.scalars(sa.select(FeedToken).where(condition).order_by(FeedToken.created_at.desc(),
                                                                                  FeedToken.id.desc())))


def create_sync_source(actor, partner, place, url: str, kind: str = "permanence",
                       visibility: str = "public", interval_minutes: int = 60,
                       allow_private: bool = False) -> SyncSource:
    """`allow_private`: the ALLOW_PRIVATE_URLS setting (models.urls)."""
    actor.require(actor.can_edit_partner(partner))
    url = (url or "").strip()
    if not url.lower().startswith(("http://", "https://", "webcal://")):
        raise InvalidInput("Adresse invalide : elle doit commencer par https:// (ou webcal://).",
                           {"url": ["Adresse http(s) ou webcal attendue."]})
    if url.lower().startswith("webcal://"):
        url = "https://" + url[len("webcal://"):]
    refuse_private_address(url, "url", allow_private)
    if not 15 <= interval_minutes <= 24 * 60:
        raise InvalidInput("La fréquence de synchronisation va de 15 minutes à 24 heures.",
                           {"interval_minutes": ["Entre 15 et 1440 minutes."]})
    source = SyncSource(partner=partner, place=place, url=url[:1000], kind=kind, visibility=visibility,
                        interval_minutes=interval_minutes)
    db.session.add(source)
    db.session.flush()
    record(actor, "create", source, {"url": [None, source.url], "partner": [None, partner.slug]})
    return source


def delete_sync_source(actor, source: SyncSource) -> None:
    actor.require(actor.can_edit_partner(source.partner))
    record(actor, "delete", source, {"url": [source.url, None]})
    db.session.delete(source)
    db.session.flush()


def sync_sources_of(partner_id: int | None) -> list[SyncSource]:
    q = sa.select(SyncSource).order_by(SyncSource.id)
    if partner_id is not None:
        q = q.where(SyncSource.partner_id == partner_id)
    return list(db.session.scalars(q))
