"""Private feed links (created, renewed, revoked) and calendars synced from elsewhere."""
from __future__ import annotations

import secrets

import sqlalchemy as sa

from models.actor import Actor
from models.base import db, secret_digest, utcnow
from models.errors import InvalidInput, NotFound
from models.feeds import FeedToken, SyncSource
from models.operations.audit import record
from models.operations.urls import outbound_url
from models.operations.users import may_manage_account
from models.partners import partner_quartier_ids


def create_feed_token(actor: Actor, *, user=None, partner=None, label: str = "") -> tuple[FeedToken, str]:
    """A new private feed token; returns it in clear, the only time it exists so."""
    if (user is None) == (partner is None):
        raise InvalidInput("Un lien privé appartient à une personne ou à un partenaire.")
    if partner is not None:
        actor.require(actor.can_edit_partner(partner),
                      "Seul·es les membres du partenaire ou un·e coordinateur·rice peuvent créer ce lien.")
    elif getattr(actor, "id", None) != user.id:
        actor.require(actor.is_coordinator, "Vous ne pouvez créer un lien privé que pour vous-même.")
    token = secrets.token_urlsafe(32)
    row = FeedToken(token_hash=secret_digest(token), hint=token[:6], user=user, partner=partner, label=label[:120])
    db.session.add(row)
    db.session.flush()
    record(actor, "create", row, {"hint": [None, row.hint], "label": [None, row.label]})
    return row, token


def can_manage_feed_token(actor: Actor, row: FeedToken) -> bool:
    """A partner's link: those who may write the partner. A person's link: that person, and the
    coordinators who may manage their account (`may_manage_account`). docs/security.md."""
    if row.partner_id is not None:
        return actor.can_edit_partner(row.partner)
    if getattr(actor, "id", None) == row.user_id:
        return True
    return actor.is_coordinator and may_manage_account(actor, row.user)  # type: ignore[arg-type]


def revoke_feed_token(actor: Actor, row: FeedToken) -> None:
    actor.require(can_manage_feed_token(actor, row))
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.session.flush()
        record(actor, "revoke", row, {"revoked_at": [None, row.revoked_at]})


def renew_feed_token(actor: Actor, row: FeedToken) -> tuple[FeedToken, str]:
    """Revokes the token and gives a new one for the same owner (a link that leaked)."""
    revoke_feed_token(actor, row)
    return create_feed_token(actor, user=row.user, partner=row.partner, label=row.label)


def active_feed_token(token: str) -> FeedToken | None:
    """The token row of a private feed address, if it exists and is not revoked."""
    if not token or len(token) > 100:
        return None
    row = db.session.scalar(sa.select(FeedToken).where(FeedToken.token_hash == secret_digest(token)))
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


def create_sync_source(actor: Actor, partner, place, url: str, kind: str = "permanence",
                       visibility: str = "public", interval_minutes: int = 60,
                       allow_private: bool = False) -> SyncSource:
    """`allow_private`: the ALLOW_PRIVATE_URLS setting (models.operations.urls)."""
    actor.require(actor.can_edit_partner(partner))
    if actor.is_coordinator:  # what it brings lands at that place: the place must be theirs too
        actor.require(actor.can_edit_place(place), "Ce lieu n'est pas dans votre territoire.")
    url = (url or "").strip()
    if url.lower().startswith("webcal://"):  # the scheme calendars use for a subscription: https
        url = "https://" + url[len("webcal://"):]
    url = outbound_url(url, "url", allow_private)
    if not 15 <= interval_minutes <= 24 * 60:
        raise InvalidInput("La fréquence de synchronisation va de 15 minutes à 24 heures.",
                           {"interval_minutes": ["Entre 15 et 1440 minutes."]})
    source = SyncSource(partner=partner, place=place, url=url, kind=kind, visibility=visibility,
                        interval_minutes=interval_minutes)
    db.session.add(source)
    db.session.flush()
    record(actor, "create", source, {"url": [None, source.url], "partner": [None, partner.slug]})
    return source


def delete_sync_source(actor: Actor, source: SyncSource) -> None:
    actor.require(actor.can_edit_partner(source.partner))
    record(actor, "delete", source, {"url": [source.url, None]})
    db.session.delete(source)
    db.session.flush()


def sync_sources_of(actor) -> list[SyncSource]:
    """The synced calendars an actor sees (and acts on): those of the partners they may write."""
    q = sa.select(SyncSource).order_by(SyncSource.id)
    if not actor.is_coordinator:
        return list(db.session.scalars(q.where(SyncSource.partner_id == (actor.partner_id or -1))))
    if not actor.territory_quartier_ids:
        return list(db.session.scalars(q))
    return [s for s in db.session.scalars(q) if actor.can_edit_partner(s.partner)]


def sync_source_for(actor, source_id: int) -> SyncSource:
    """A synced calendar the actor may act on; another one is not found (its address is not
    revealed)."""
    source = db.session.get(SyncSource, source_id)
    if source is None or not actor.can_edit_partner(source.partner):
        raise NotFound("Synchronisation inconnue.")
    return source


def feed_token_for(actor, token_id: int) -> FeedToken:
    """A private link the actor may manage; another one is not found."""
    row = db.session.get(FeedToken, token_id)
    if row is None or not can_manage_feed_token(actor, row):
        raise NotFound("Lien privé inconnu.")
    return row


def private_feed_audience(row: FeedToken) -> tuple[int | None, tuple[int, ...] | None]:
    """What a person's own private link ("Moi") may hold, as (their partner's id, the quartiers of
    their territory; None for all of them): the events their partner organises, and those of
    places in their territory. A coordinator's territory is their quartiers (none: the whole
    country); an editor's, their own quartiers or else those where their partner works. A
    partner's link holds that partner's events only (FeedSpec.partner)."""
    if row.partner_id is not None:
        return row.partner_id, ()
    user = row.user
    territory = user.territory_quartier_ids
    if user.is_coordinator:
        return user.partner_id, tuple(sorted(territory)) if territory else None
    if not territory and user.partner is not None:
        territory = {q for q in partner_quartier_ids(user.partner) if q is not None}
    return user.partner_id, tuple(sorted(territory))
