"""Public email subscriptions: subscribe, signed links, confirm, unsubscribe."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa

from models.base import db, secret_digest, utcnow
from models.deliveries import Delivery
from models.errors import InvalidInput, NotFound
from models.subscriptions import EMAIL, TARGETS, Subscription


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
            Subscription.legacy_token_hash == secret_digest(token)))
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


# How long what /abonnement collects is kept (the page "Données personnelles" states these).
UNCONFIRMED_KEPT_DAYS = 7  # a request never confirmed: maybe someone else typed the address
UNSUBSCRIBED_KEPT_DAYS = 30  # time to answer "why did I still get a message?"
DELIVERY_RECORD_DAYS = 365  # the record of each message sent to a subscriber (date, address, state)


def forget_stale_subscriptions(now: datetime | None = None) -> int:
    """Erases the subscriptions kept past their time (unconfirmed, unsubscribed), the record of
    what was sent to them, and the records of messages to subscribers older than a year. Safe to
    run twice. Returns how many subscriptions were erased."""
    now = now or utcnow()
    stale = list(db.session.scalars(sa.select(Subscription.id).where(sa.or_(
        sa.and_(Subscription.confirmed_at.is_(None), Subscription.unsubscribed_at.is_(None),
                Subscription.created_at < now - timedelta(days=UNCONFIRMED_KEPT_DAYS)),
        Subscription.unsubscribed_at < now - timedelta(days=UNSUBSCRIBED_KEPT_DAYS)))))
    if stale:
        db.session.execute(sa.delete(Delivery).where(Delivery.subscription_id.in_(stale)))
        db.session.execute(sa.delete(Subscription).where(Subscription.id.in_(stale)))
    db.session.execute(sa.delete(Delivery).where(
        Delivery.subscription_id.is_not(None), Delivery.next_attempt_at.is_(None),
        Delivery.created_at < now - timedelta(days=DELIVERY_RECORD_DAYS)))
    db.session.flush()
    return len(stale)
