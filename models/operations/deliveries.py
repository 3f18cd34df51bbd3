"""Reminder settings of a partner and the deliveries table: recorded once under a unique key."""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from models.actor import Actor
from models.base import db, dialect_insert, utcnow
from models.deliveries import MAX_DAYS_BEFORE, STATES, Delivery, PartnerReminderSettings, ReminderOffset
from models.errors import InvalidInput
from models.events import Event
from models.operations.audit import apply_changes, record
from models.operations.partners import require_partner
from models.operations.urls import outbound_url
from models.subscriptions import Subscription
from models.territory import Place


def settings_for(partner_id: int) -> PartnerReminderSettings | None:
    return db.session.get(PartnerReminderSettings, partner_id)


def set_reminder_settings(actor: Actor, partner, values: dict, allow_private: bool = False) -> PartnerReminderSettings:
    """Sets a partner's offsets ([{"days_before", "at"}]) and webhook URL; a webhook gets a secret.
    `allow_private`: the ALLOW_PRIVATE_URLS setting (models.operations.urls)."""
    require_partner(actor, partner)
    values = dict(values)
    if "offsets" in values:
        offsets = []
        for value in values["offsets"] or []:
            try:
                offset = ReminderOffset.parse(value)
            except (KeyError, TypeError, ValueError) as error:
                raise InvalidInput("Un rappel se décrit par un nombre de jours avant et une heure (HH:MM).",
                                   {"offsets": ['Format attendu : {"days_before": 2, "at": "09:00"}.']}) from error
            if not 0 <= offset.days_before <= MAX_DAYS_BEFORE:
                raise InvalidInput(f"Un rappel se place de 0 à {MAX_DAYS_BEFORE} jours avant.",
                                   {"offsets": [f"De 0 à {MAX_DAYS_BEFORE} jours."]})
            offsets.append(offset.as_dict())
        values["offsets"] = offsets
    if values.get("webhook_url"):
        values["webhook_url"] = outbound_url(values["webhook_url"], "webhook_url", allow_private)
    settings = settings_for(partner.id)
    if settings is None:
        settings = PartnerReminderSettings(partner_id=partner.id, offsets=[])
        db.session.add(settings)
    changes = apply_changes(settings, values)
    if settings.webhook_url and not settings.webhook_secret:
        settings.webhook_secret = secrets.token_hex(32)
    db.session.flush()
    changes.pop("webhook_secret", None)
    record(actor, "update_reminder_settings", partner, changes)
    return settings


_DELIVERY_DEFAULTS: dict[str, Any] = {"channel": "email", "partner_id": None, "subscription_id": None, "event_id": None,
                      "recurrence_start": None, "offset": None, "payload": {}, "state": "pending", "attempts": 0,
                      "next_attempt_at": None, "last_error": "", "sent_at": None}


def add_deliveries_if_new(rows: list[dict]) -> list[tuple[str, str, datetime]]:
    """Inserts the deliveries whose key does not exist yet, in batches; returns (key, state,
    due_at) of those inserted. Two scans racing on the same key leave exactly one row (the
    database's unique index decides)."""
    if not rows:
        return []
    insert = dialect_insert(db.session)
    now = utcnow()
    prepared = []
    for values in rows:
        row = {**_DELIVERY_DEFAULTS, "created_at": now, "updated_at": now, **values}
        if row["state"] == "pending" and row["next_attempt_at"] is None:
            row["next_attempt_at"] = row["due_at"]
        prepared.append(row)
    table = Delivery.__table__
    # RETURNING, not rowcount: psycopg reports -1 rows for an INSERT that returns its key.
    statement = (insert(table).on_conflict_do_nothing(index_elements=["key"])
                 .returning(table.c.key, table.c.state, table.c.due_at))
    inserted = []
    for i in range(0, len(prepared), 1000):
        inserted += [tuple(r) for r in db.session.execute(statement, prepared[i:i + 1000])]
    return inserted


def add_delivery_if_new(values: dict) -> bool:
    return bool(add_deliveries_if_new([values]))


def deliveries_seen_by(actor) -> sa.ColumnElement[bool]:
    """The deliveries a coordinator sees on /coordination/envois: all for a national one; for a
    territorial one, those about an event at a place of their territory, those to public
    subscribers of a quartier, place or event of it, and those addressed to them. Nothing else:
    not another territory's subscribers' addresses, nor its partners' webhooks (docs/security.md)."""
    territory = actor.territory_quartier_ids
    if not territory:
        return sa.true()
    places = sa.select(Place.id).where(Place.quartier_id.in_(territory))
    events = sa.select(Event.id).where(Event.place_id.in_(places))
    subscriptions = sa.select(Subscription.id).where(sa.or_(
        sa.and_(Subscription.target_type == "quartier", Subscription.target_id.in_(territory)),
        sa.and_(Subscription.target_type == "place", Subscription.target_id.in_(places)),
        sa.and_(Subscription.target_type == "event", Subscription.target_id.in_(events))))
    return sa.or_(Delivery.event_id.in_(events), Delivery.subscription_id.in_(subscriptions),
                  Delivery.recipient == actor.email)


def deliveries_by_state(actor, state: str | None = None, limit: int = 200) -> list[Delivery]:
    q = (sa.select(Delivery).where(deliveries_seen_by(actor))
         .order_by(Delivery.due_at.desc(), Delivery.id.desc()).limit(limit))
    if state:
        q = q.where(Delivery.state == state)
    return list(db.session.scalars(q))


def delivery_counts(actor) -> dict[str, int]:
    rows = db.session.execute(sa.select(Delivery.state, sa.func.count()).where(deliveries_seen_by(actor))
                              .group_by(Delivery.state))
    return dict.fromkeys(STATES, 0) | dict(rows.all())
