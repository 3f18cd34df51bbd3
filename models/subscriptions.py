"""Public email subscriptions to a quartier, a place or an event: no account, double opt-in,
one-click unsubscribe. The token in every link is the subscriber's only credential.

That token is not stored. An API or feed token can be kept as a hash because it is shown once;
a subscription's token must be written again in every later message (each reminder's
unsubscribe link), so it is derived instead: the row's id and an HMAC-SHA256, under the app's
SECRET_KEY, of the id and a random seed kept in the row. Whoever reads the database (a leaked
backup, an export) cannot make a link; a new seed (subscribing again after unsubscribing) kills
the old links. Rows from before signed links keep the SHA-256 of their old token, so that the
links already mailed still work.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import UTCDateTime, db, utcnow
from models.errors import InvalidInput, NotFound

TARGETS = {"quartier": "quartier", "place": "lieu", "event": "événement"}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Subscription(db.Model):
    __tablename__ = "subscriptions"
    __table_args__ = (sa.UniqueConstraint("email", "target_type", "target_id",
                                          name="uq_subscriptions_email_target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), index=True)
    target_type: Mapped[str] = mapped_column(sa.String(10))
    target_id: Mapped[int]
    link_seed: Mapped[str] = mapped_column(sa.String(64))  # see link_token
    # SHA-256 of the token of a row made before links were signed (None for every newer row).
    legacy_token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None

    def __repr__(self) -> str:
        return f"<Subscription {self.email} {self.target_type}:{self.target_id}>"


def subscribe(email: str, target_type: str, target_id: int) -> Subscription:
    """Records a request; it counts once the address is confirmed (the caller sends the link).
    Subscribing again after unsubscribing starts over with a new confirmation."""
    email = (email or "").strip().lower()
    if not EMAIL.match(email) or len(email) > 254:
        raise InvalidInput("Adresse électronique invalide.", {"email": ["Adresse électronique invalide."]})
    if target_type not in TARGETS:
        raise InvalidInput("On ne peut s'abonner qu'à un quartier, un lieu ou un événement.")
    subscription = db.session.scalar(sa.select(Subscription).where(
        Subscription.email == email, Subscription.target_type == target_type,
        Subscription.target_id == target_id))
    if subscription is None:
        subscription = Subscription(email=email, target_type=target_type, target_id=target_id,
                                    link_seed=secrets.token_urlsafe(32))
        db.session.add(subscription)
    elif subscription.unsubscribed_at is not None:
        subscription.unsubscribed_at = None
        subscription.confirmed_at = None
        subscription.link_seed = secrets.token_urlsafe(32)  # the old links stay dead
        subscription.legacy_token_hash = None
    db.session.flush()
    return subscription


def link_token(subscription: Subscription, secret_key: str) -> str:
    """The token of the subscription's confirmation and unsubscribe links (see the module)."""
    mac = hmac.new(secret_key.encode(), f"subscription:{subscription.id}:{subscription.link_seed}".encode(),
                   hashlib.sha256).digest()
    return f"{subscription.id}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def subscription_by_token(token: str, secret_keys: Sequence[str]) -> Subscription:
    """The subscription of a link. `secret_keys`: SECRET_KEY, then SECRET_KEY_FALLBACKS, so that
    links mailed before a change of key keep working while the old key is listed."""
    subscription = None
    row_id, dot, _ = token.partition(".")
    if dot:
        if row_id.isdigit() and int(row_id) < 2**31:
            candidate = db.session.get(Subscription, int(row_id))
            if candidate is not None and any(hmac.compare_digest(link_token(candidate, key), token)
                                             for key in secret_keys):
                subscription = candidate
    elif 0 < len(token) <= 100:  # a link mailed before links were signed (no dot in those)
        subscription = db.session.scalar(sa.select(Subscription).where(
            Subscription.legacy_token_hash == _digest(token)))
    if subscription is None:
        raise NotFound("Ce lien d'abonnement est inconnu ou a expiré.")
    return subscription


def confirm(subscription: Subscription) -> Subscription:
    if subscription.unsubscribed_at is not None:
        raise NotFound("Cet abonnement a été résilié : abonnez-vous à nouveau.")
    if subscription.confirmed_at is None:
        subscription.confirmed_at = utcnow()
        db.session.flush()
    return subscription


def unsubscribe(subscription: Subscription) -> Subscription:
    if subscription.unsubscribed_at is None:
        subscription.unsubscribed_at = utcnow()
        db.session.flush()
    return subscription


def active_subscriptions() -> list[Subscription]:
    return list(db.session.scalars(sa.select(Subscription).where(
        Subscription.confirmed_at.is_not(None), Subscription.unsubscribed_at.is_(None))))
