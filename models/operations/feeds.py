"""Private feed links (created, renewed, revoked) and calendars synced from elsewhere."""
from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass

import sqlalchemy as sa

from models.actor import Actor
from models.base import db, secret_digest, utcnow
from models.errors import InvalidInput, NotFound
from models.feeds import FeedToken, SyncSource
from models.operations.audit import record
from models.operations.urls import outbound_url
from models.operations.users import may_manage_account
from models.partners import partner_quartier_ids
from models.versions import ACCOUNTS, ALL_EVENTS, EVERYTHING, known_versions_of, versions_of


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


@dataclass(frozen=True)
class PrivateAccess:
    """What an active private link gives: whose it is and what its feed holds (FeedSpec's fields)."""

    token_id: int
    owner: str  # the partner's name, or the person's name or email
    partner: str | None  # a partner's link: that partner's slug
    for_person: bool
    own_partner_id: int | None
    territory: tuple[int, ...] | None


# What a link gives depends on its token, its owner (accounts), partners' and places' names and
# quartiers (everything), and, for a person's link, where their partner works (any event write).
_ACCESS_SCOPES = (EVERYTHING, ACCOUNTS, ALL_EVENTS)
_ACCESS_KEPT = 10_000
_accesses: OrderedDict[str, tuple[str, PrivateAccess]] = OrderedDict()  # digest -> (versions, access)
_accesses_lock = threading.Lock()


def private_access_in_memory(token: str, engine: sa.Engine | None = None) -> PrivateAccess | None:
    """The access of an active link as this process last read it, if nothing it depends on moved
    since (models/version_watch.py), without the database; None: ask `private_access`. A revoked
    token, a deactivated owner raise `accounts`, so what was remembered under the old versions is
    never given again."""
    if not token or len(token) > 100:
        return None
    found = _accesses.get(secret_digest(token))
    if found is None:
        return None
    versions = known_versions_of(_ACCESS_SCOPES, engine)
    return found[1] if versions is not None and versions == found[0] else None


def private_access(token: str) -> PrivateAccess | None:
    """The access of a private link from the database (None: unknown, revoked, or its owner
    deactivated), remembered for `private_access_in_memory`. Only active links are remembered:
    guessed tokens fill no memory."""
    versions = versions_of(_ACCESS_SCOPES)  # before the rows: a change meanwhile makes it a wasted entry
    row = active_feed_token(token)
    if row is None:
        return None
    if row.partner is not None:
        access = PrivateAccess(row.id, row.partner.name, row.partner.slug, False, None, None)
    else:
        own_partner_id, territory = private_feed_audience(row)
        access = PrivateAccess(row.id, row.user.name or row.user.email, None, True, own_partner_id, territory)
    with _accesses_lock:
        _accesses[row.token_hash] = (versions, access)
        _accesses.move_to_end(row.token_hash)
        while len(_accesses) > _ACCESS_KEPT:
            _accesses.popitem(last=False)
    return access


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
