"""Public email subscriptions to a quartier, a place or an event: no account, double opt-in,
one-click unsubscribe. The token in every link is the subscriber's only credential."""
from __future__ import annotations

import re
import secrets
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
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)
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
                                    token=secrets.token_urlsafe(32))
        db.session.add(subscription)
    elif subscription.unsubscribed_at is not None:
        subscription.unsubscribed_at = None
        subscription.confirmed_at = None
        subscription.token = secrets.token_urlsafe(32)  # the old links stay dead
    db.session.flush()
    return subscription


def subscription_by_token(token: str) -> Subscription:
    subscription = db.session.scalar(sa.select(Subscription).where(Subscription.token == token))
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
