"""Notices of a change, recorded by the write that makes it: an occurrence cancelled or moved, a
whole event changed or deleted, a conflict opened or ended. Each becomes deliveries due now.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from models import Delivery, Event, Partner, Place, Subscription, db, utcnow
from models.conflicts import ConflictNotice, ScheduleConflict
from models.operations.deliveries import add_deliveries_if_new, add_delivery_if_new
from scheduler.french import french_datetime, summarise_dates, title_for
from scheduler.notifications.due import Recipients, delivery_key, iso_instant
from scheduler.time.recurrence import (
    Occurrence,
    SeriesRule,
    epoch,
    expand,
    local_day,
    rule_of,
)

# --- notices of a change, recorded by the write that makes it ------------------------------

CONFIRMATION_RESEND_AFTER = timedelta(hours=24)  # one confirmation message per address and scope
CONFLICT_NOTICE_KINDS = {"opened": "conflict_opened", "reopened": "conflict_opened",
                         "accepted": "conflict_resolved", "resolved": "conflict_resolved",
                         "closed": "conflict_resolved"}


def occurrence_of(event: Event, recurrence_start: datetime) -> Occurrence | None:
    """The occurrence a rule gives at `recurrence_start`, after its exception if any."""
    rule = rule_of(event)
    rec = epoch(recurrence_start)
    spec = rule.exceptions.get(rec)
    start = spec.starts_at if spec is not None and spec.starts_at is not None else rec
    window = (datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(start + 1, UTC))
    return next((o for o in expand([rule], *window) if o.recurrence_id == rec), None)


def notify_occurrence_change(event: Event, recurrence_start: datetime, now: datetime | None = None) -> int:
    """Records a notice to everyone involved in an occurrence just cancelled or moved (the
    clock sends it within a minute). Called by `scheduler.writes`; adds and flushes."""
    now = now or utcnow()
    occurrence = occurrence_of(event, recurrence_start)
    if occurrence is None or occurrence.ends_at <= epoch(now):
        return 0  # nothing to tell about the past
    exception = next((x for x in event.exceptions if x.recurrence_start == recurrence_start), None)
    version = exception.sequence if exception is not None else event.sequence
    kind = "occurrence_cancelled" if occurrence.is_cancelled else "occurrence_moved"
    payload = {"reason": exception.reason if exception is not None else "",
               "starts_at": iso_instant(occurrence.starts_at), "place_id": occurrence.place_id}
    recipients = Recipients.load()
    recipients.load_people(occurrence.person_ids)
    targets = list(recipients.of_occurrence(event, occurrence))
    place = db.session.get(Place, occurrence.place_id)
    if place is not None and place.contact_email:
        targets.append({"channel": "email", "recipient": place.contact_email.lower(),
                        "partner_id": place.host_partner_id})
    created = 0
    for to in targets:
        to.pop("offsets", None)
        created += add_delivery_if_new({
            **to, "kind": kind, "event_id": event.id, "recurrence_start": recurrence_start,
            "payload": payload, "due_at": now,
            "key": delivery_key(kind, to["channel"], to["recipient"], event.id,
                                iso_instant(occurrence.recurrence_id), f"v{version}")})
    return created


# Occurrences to come that a change to a whole event is told about: the weeks people plan in
# (the public pages show four, a partner's programme a term); past that, the feeds tell.
NOTICE_HORIZON_DAYS = 90
MAX_LISTED_DATES = 30


@dataclass
class EventBefore:
    """An event as people knew it before a write to the whole of it: its rule and what decides
    who hears about it (the write may change both, or delete the event). Duck-types the Event
    that `Recipients.of_occurrence` reads."""

    id: int
    uid: str
    title: str
    kind_label: str
    sequence: int
    rule: SeriesRule
    status: str
    visibility: str
    organisers: list[Partner]
    place_id: int | None
    place: Place
    removed: list[dict] = field(default_factory=list)  # exceptions the write dropped (audit form)

    @classmethod
    def of(cls, event: Event) -> EventBefore:
        return cls(event.id, event.uid, event.title, event.kind_label, event.sequence or 0, rule_of(event),
                   event.status, event.visibility, list(event.organisers), event.place_id, event.place)


def event_ref(event_id: int, uid: str) -> str:
    """An event in a delivery key: SQLite gives a deleted event's id to the next one, its UID is
    never reused."""
    return f"{event_id}-{hashlib.sha256(uid.encode()).hexdigest()[:12]}"


def _upcoming(rule: SeriesRule, now: datetime, days: int) -> dict[int, Occurrence]:
    """The occurrences of a rule not over yet within `days`, by the local date of their identity."""
    return {local_day(rule, o.recurrence_id): o for o in expand([rule], now, now + timedelta(days=days))}


def _as_seen(o: Occurrence | None):
    """What people see of an occurrence: a cancelled one is only cancelled."""
    if o is None or o.is_cancelled:
        return None if o is None else "cancelled"
    return (o.starts_at, o.ends_at, o.place_id, o.room)


def changed_dates(before: dict[int, Occurrence], after: dict[int, Occurrence], single: bool
                  ) -> list[tuple[Occurrence | None, Occurrence | None]]:
    """(before, after) of each date whose occurrence people would see differently, paired by
    local date (the exceptions followed the same pairing); a single event is one date whatever
    its day."""
    pairs: list[tuple[Occurrence | None, Occurrence | None]]
    if single and len(before) == 1 and len(after) == 1:
        pairs = [(next(iter(before.values())), next(iter(after.values())))]
    else:
        pairs = [(before.get(day), after.get(day)) for day in sorted(before.keys() | after.keys())]
    found = [(b, a) for b, a in pairs if _worth_telling(b, a)]
    return sorted(found, key=_first_start)


def _first_start(pair: tuple[Occurrence | None, Occurrence | None]) -> int:
    side = pair[0] if pair[0] is not None else pair[1]
    assert side is not None  # _worth_telling keeps no pair without a side
    return side.starts_at


def _worth_telling(b: Occurrence | None, a: Occurrence | None) -> bool:
    seen_before, seen_after = _as_seen(b), _as_seen(a)
    if seen_before == seen_after:
        return False
    # Nothing planned on either side (none, or cancelled): nobody would go, nobody would miss it.
    return seen_before not in (None, "cancelled") or seen_after not in (None, "cancelled")


def _side(o: Occurrence | None, places: dict[int | None, Place]) -> dict | None:
    if o is None:
        return None
    place = places.get(o.place_id)
    return {"starts_at": o.start.isoformat(), "ends_at": o.end.isoformat(), "place": place.name if place else "",
            "room": o.room, "is_cancelled": o.is_cancelled}


def notify_event_change(before: EventBefore, event: Event | None, now: datetime | None = None) -> int:
    """Records one notice to each person concerned by a write to a whole event (status
    cancelled, new timing, place or room, or `event` None: deleted), about its occurrences to
    come in the next NOTICE_HORIZON_DAYS that the write changed; said once per recipient, however
    many dates changed. Everything the message says is in the delivery (the event may be gone
    when it is sent). Nothing when nothing people would see has changed. Adds and flushes."""
    now = now or utcnow()
    days = current_app.config.get("NOTICE_HORIZON_DAYS", NOTICE_HORIZON_DAYS)
    old = _upcoming(before.rule, now, days)
    new = _upcoming(rule_of(event), now, days) if event is not None else {}
    pairs = changed_dates(old, new, before.rule.frequency == "once" and (event is None or event.frequency == "once"))
    removed = []  # (what the exception was, its occurrence as it was) for those still to come
    for x in before.removed:
        day = local_day(before.rule, epoch(datetime.fromisoformat(x["recurrence_start"])))
        if day in old:
            removed.append((x, old[day]))
    if not pairs and not removed:
        return 0
    if event is None:
        kind = "event_deleted"
    elif event.status == "cancelled" and before.status != "cancelled":
        kind = "event_cancelled"
    else:
        kind = "event_changed"

    shown = [o for pair in pairs for o in pair if o is not None] + [o for _, o in removed]
    places: dict[int | None, Place] = {
        p.id: p for p in db.session.scalars(sa.select(Place).where(Place.id.in_({o.place_id for o in shown})))}
    recipients = Recipients.load()
    recipients.load_people(p for o in shown for p in o.person_ids)
    targets: dict[tuple[str, str], dict] = {}
    for told, occurrence in [*((before, b) for b, _ in pairs), *((event, a) for _, a in pairs),
                             *((before, o) for _, o in removed)]:
        if told is None or occurrence is None:
            continue
        found = list(recipients.of_occurrence(told, occurrence))
        place = places.get(occurrence.place_id)
        if place is not None and place.contact_email:
            found.append({"channel": "email", "recipient": place.contact_email.lower(),
                          "partner_id": place.host_partner_id})
        for to in found:
            to.pop("offsets", None)
            targets.setdefault((to["channel"], to["recipient"]), to)
    if not targets:
        return 0

    current = event if event is not None else before
    payload = {
        "uid": before.uid, "title": current.title, "kind_label": current.kind_label,
        # Who may read the title (scheduler.french.title_for), the event being perhaps gone when sent.
        "visibility": current.visibility, "organiser_ids": sorted(p.id for p in current.organisers),
        "timezone": before.rule.timezone if event is None else event.timezone, "place": current.place.slug,
        "organisers": [p.name for p in current.organisers],
        "dates": [{"before": _side(b, places), "after": _side(a, places)} for b, a in pairs[:MAX_LISTED_DATES]],
        "more": max(0, len(pairs) - MAX_LISTED_DATES),
        "removed": [{"date": o.start.date().isoformat(), "was": "cancelled" if x["is_cancelled"] else "moved"}
                    for x, o in removed],
    }
    # What is said is part of the key: two writes racing on one event can read the same SEQUENCE.
    said = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]
    version = f"{'deleted' if event is None else f'v{event.sequence}'}-{said}"
    rows = [{**to, "kind": kind, "event_id": before.id, "payload": payload, "due_at": now,
             "key": delivery_key(kind, to["channel"], to["recipient"], event_ref(before.id, before.uid), version)}
            for to in targets.values()]
    return len(add_deliveries_if_new(rows))


def request_confirmation(subscription: Subscription, now: datetime | None = None) -> bool:
    """Records the double opt-in message of a subscription request (sent by the next tick), unless
    one went to the same address for the same scope less than CONFIRMATION_RESEND_AFTER ago:
    the public form must not let anyone make Maillage write to an address again and again.
    Returns whether a message was recorded."""
    now = now or utcnow()
    # The seed changes when someone subscribes again after unsubscribing: a new request then.
    generation = hashlib.sha256(subscription.link_seed.encode()).hexdigest()[:16]
    recent = db.session.scalars(sa.select(Delivery.payload).where(
        Delivery.kind == "subscription_confirm", Delivery.subscription_id == subscription.id,
        Delivery.due_at > now - CONFIRMATION_RESEND_AFTER))
    if any(payload.get("generation") == generation for payload in recent):
        return False
    # One key per period: two requests sent at once record one message.
    period = int(now.timestamp() // CONFIRMATION_RESEND_AFTER.total_seconds())
    return add_delivery_if_new({
        "kind": "subscription_confirm", "channel": "email", "recipient": subscription.email,
        "subscription_id": subscription.id, "due_at": now, "payload": {"generation": generation},
        "key": delivery_key("subscription_confirm", "email", subscription.email, subscription.id, generation,
                            f"p{period}")})



def plan_conflict_notices(recipients: Recipients, now: datetime, case_ids: Iterable[int] | None = None,
                          note: str | None = None) -> Iterator[dict]:
    """The deliveries of the notices the conflicts engine recorded (`models.conflicts.ConflictNotice`,
    one per case change and recipient): each email address gets ONE digest of every change
    pending for it, each webhook one event per case change. The notices are marked taken in the
    same transaction, so they become deliveries exactly once.

    With `case_ids`, only the notices of those cases, and each change carries what its message
    says (`facts`, and `note`): the cases are about to be deleted with their event, and the
    message is sent after."""
    q = sa.select(ConflictNotice).where(ConflictNotice.sent_at.is_(None)).order_by(ConflictNotice.id)
    if case_ids is not None:
        q = q.where(ConflictNotice.case_id.in_(list(case_ids)))
    digests: dict[str, dict] = {}
    facts: dict[int, dict | None] = {}  # a case told to several recipients is read once
    for notice in db.session.scalars(q):
        notice.sent_at = utcnow()
        change: dict[str, Any] = {"case_id": notice.case_id, "conflict_id": notice.conflict_id, "change": notice.change}
        if case_ids is not None and notice.case is not None:
            # Written once for every reader of the change: as a reader of no organiser reads it.
            if notice.case.id not in facts:
                facts[notice.case.id] = case_facts(notice.case)
            change.update(facts=facts[notice.case.id], note=note)
        targets = []
        if notice.user is not None and notice.user.email:
            targets.append({"channel": "email", "recipient": notice.user.email.lower()})
        if notice.partner is not None:
            if notice.partner.contact_email:
                targets.append({"channel": "email", "recipient": notice.partner.contact_email.lower(),
                                "partner_id": notice.partner_id})
            settings = recipients.settings.get(notice.partner.id)
            if settings is not None and settings.webhook_url:
                targets.append({"channel": "webhook", "recipient": settings.webhook_url,
                                "partner_id": notice.partner_id})
        for to in targets:
            if to["channel"] == "webhook":
                kind = CONFLICT_NOTICE_KINDS.get(notice.change, "conflict_opened")
                yield {**to, "kind": kind, "due_at": now, "payload": change,
                       "key": delivery_key(kind, to["channel"], to["recipient"], "notice", notice.id)}
                continue
            digest = digests.setdefault(to["recipient"], {**to, "first": notice.id, "changes": []})
            if change not in digest["changes"]:  # a coordinator who is also a partner's contact
                digest["changes"].append(change)
    for recipient, digest in digests.items():
        yield {"channel": "email", "recipient": recipient, "partner_id": digest.get("partner_id"),
               "kind": "conflict_digest", "due_at": now, "payload": {"changes": digest["changes"]},
               "key": delivery_key("conflict_digest", "email", recipient, "notice", digest["first"])}


def record_conflict_notices(now: datetime, case_ids: Iterable[int] | None = None, note: str | None = None) -> int:
    """Turns the pending notices (of these cases) into deliveries due now (see plan_conflict_notices)."""
    return len(add_deliveries_if_new(list(plan_conflict_notices(Recipients.load(), now, case_ids, note))))


# Everything a run may tell a partner's or a coordinator's address (public subscribers' messages each
# carry their own unsubscribe link and stay apart): one message per address and run.
GROUPED_KINDS = ("reminder", "weekly_programme", "daily_digest", "attendance_request",
                 "occurrence_cancelled", "occurrence_moved", "event_cancelled", "event_changed", "event_deleted",
                 "conflict_digest")


def group_pending_notices(now: datetime) -> int:
    """Every address with several notices waiting (never tried) gets them as ONE message, a
    `notice_digest` listing them; the parts are marked `grouped`. Returns the digests recorded."""
    rows = db.session.execute(sa.select(Delivery.id, Delivery.recipient).where(
        Delivery.state == "pending", Delivery.attempts == 0, Delivery.channel == "email",
        Delivery.subscription_id.is_(None), Delivery.kind.in_(GROUPED_KINDS), Delivery.due_at <= now)
        .order_by(Delivery.id)).all()
    parts: dict[str, list[int]] = {}
    for delivery_id, recipient in rows:
        parts.setdefault(recipient, []).append(delivery_id)
    several = {recipient: ids for recipient, ids in parts.items() if len(ids) > 1}
    digests = [{"kind": "notice_digest", "channel": "email", "recipient": recipient, "due_at": now,
                "payload": {"parts": ids}, "key": delivery_key("notice_digest", "email", recipient, "parts", ids[0])}
               for recipient, ids in several.items()]
    inserted = add_deliveries_if_new(digests)
    grouped = [i for ids in several.values() for i in ids]
    for i in range(0, len(grouped), 5000):
        db.session.execute(sa.update(Delivery).where(Delivery.id.in_(grouped[i:i + 5000]), Delivery.state == "pending")
                           .values(state="grouped", next_attempt_at=None, updated_at=utcnow(),
                                   last_error="Envoyé avec les autres avis du même passage.")
                           .execution_options(synchronize_session=False))
    return len(inserted)


def two_sides(a, b, reader_partner_id: int | None) -> str:
    """« A » et « B » of a conflict or case, each title as the reader may read it (`title_for`)."""
    sides = f"« {title_for(a, reader_partner_id)} »"
    return sides + (f" et « {title_for(b, reader_partner_id)} »" if b is not None and b.id != a.id else "")


def describe_conflict(conflict, reader_partner_id: int | None = None) -> str:
    a, b = conflict.a_event, conflict.b_event
    start = conflict.starts_at.astimezone(ZoneInfo(a.timezone if a else current_app.config["DEFAULT_TIMEZONE"]))
    severity = "bloquant" if conflict.is_hard else "avertissement"
    sides = two_sides(a, b, reader_partner_id)
    return f"{conflict.kind_label} ({severity}) : {sides}, {french_datetime(start)}"


def conflict_facts(conflict, reader_partner_id: int | None = None) -> dict | None:
    """What a conflict's notice says about it to a reader of that partner (None when a side is gone)."""
    if conflict.a_event is None or conflict.b_event is None:
        return None
    return {"description": describe_conflict(conflict, reader_partner_id), "kind_label": conflict.kind_label,
            "reason": conflict.reason,
            "data": {"id": conflict.id, "kind": conflict.kind, "status": conflict.status,
                     "events": [conflict.a_event_id, conflict.b_event_id],
                     "starts_at": conflict.starts_at.isoformat()}}


def case_facts(case, reader_partner_id: int | None = None) -> dict | None:
    """What a case's notice says about it to a reader of that partner (None when a series is
    gone): its two series (`two_sides`), its kind, and its dates summarised ("les mardis du 8
    déc. au 30 mars, 17 dates")."""
    if case.a_event is None or case.b_event is None:
        return None
    a, b = case.a_event, case.b_event
    zone = ZoneInfo(a.timezone)
    now = utcnow()
    # Only what the summary reads: a case of a series deleted may have thousands of dates.
    dates = db.session.execute(sa.select(ScheduleConflict.starts_at, ScheduleConflict.ends_at, ScheduleConflict.status)
                               .where(ScheduleConflict.case_id == case.id)
                               .order_by(ScheduleConflict.starts_at, ScheduleConflict.id)).all()
    shown = [c for c in dates if c.ends_at > now and c.status in ("open", "accepted")] or \
        [c for c in dates if c.ends_at > now] or dates
    sides = two_sides(a, b, reader_partner_id)
    severity = "bloquant" if case.is_hard else "avertissement"
    return {"description": f"{case.kind_label} ({severity}) : {sides}",
            "dates": summarise_dates([c.starts_at.astimezone(zone) for c in shown]),
            "kind_label": case.kind_label, "reason": case.reason,
            "data": {"id": case.id, "kind": case.kind, "status": case.status, "events": [a.id, b.id],
                     "dates": {"open": case.open_count, "accepted": case.accepted_count, "ended": case.ended_count},
                     "first_starts_at": case.first_starts_at.isoformat() if case.first_starts_at else None}}
