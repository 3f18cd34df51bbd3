"""Reminders, notices and digests: what is due, recorded once, sent once.

`run_due(now)` is what the clock runs every minute and what `flask reminders run-due --now`
runs by hand: (1) the scan looks at the instants since the last scan and records every delivery
that fell due then, each under a unique key (what, to whom, which occurrence, which offset);
(2) the sender sends the recorded deliveries that are due, one by one, each claimed in the
database first so that two runners never send the same one.

Why the scan is cheap: a reminder is due at a fixed wall-clock time ("two days before at 9:00"),
so a tick whose interval contains none of those times in any zone in use expands nothing, and a
tick that does contains one expands only the few days of occurrences whose reminders it can hold
— never the whole year of every series (bench/reminders.py measures both).

After a downtime, the scan covers the missed interval: what fell due within the grace period
(`REMINDER_GRACE_MINUTES`, default 180) is sent late; what is older is recorded as skipped and
logged, so the web view shows it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time as time_module
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from functools import cached_property
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, render_template
from sqlalchemy.orm import selectinload

from models import Delivery, Event, Person, Place, ScanMark, Subscription, db, utcnow
from models.deliveries import (DEFAULT_OFFSETS, SUBSCRIBER_OFFSETS, PartnerReminderSettings,
                               ReminderOffset, add_deliveries_if_new, add_delivery_if_new)
from models.events import WEEKDAYS
from models.subscriptions import link_token
from scheduler.calendar import CalendarFilter, occurrences_between, rules_in_window
from scheduler.mail import SmtpSender, SmtpSettings, SmtpUnavailable, build_message
from scheduler.outbound import failure_reason, open_url
from scheduler.recurrence import DAY, EPOCH_ORD, Occurrence, SeriesRule, expand, local_day, rule_of, zone_offsets

log = logging.getLogger("maillage.reminders")
UTC = timezone.utc
SCAN_MARK = "due-scan"
MAX_LOOKBACK = timedelta(days=2)  # a longer downtime is logged as such, not replayed
MAX_ATTEMPTS = 12  # with the backoff below: about nine hours of trying
CONFIRMATION_RESEND_AFTER = timedelta(hours=24)  # one confirmation message per address and scope
WEEKLY_PROGRAMME_AT = (4, time(10, 0))  # Friday 10:00 local: the programme of the week after
DAILY_DIGEST_AT = time(8, 0)
MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
          "octobre", "novembre", "décembre"]


# --- French dates --------------------------------------------------------------------------

def french_date(day: date) -> str:
    return f"{WEEKDAYS[day.weekday()]} {day.day}{'er' if day.day == 1 else ''} {MONTHS[day.month - 1]} {day.year}"


def french_time(moment: datetime | time) -> str:
    return f"{moment.hour} h {moment.minute:02d}"


def french_datetime(moment: datetime) -> str:
    return f"{french_date(moment.date())} à {french_time(moment)}"


# --- when things fall due ------------------------------------------------------------------

def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def wall_instants(zone_name: str, at: time, lo: int, hi: int, weekday: int | None = None) -> list[tuple[int, int]]:
    """The (local day ordinal, UTC instant) of each `at` on the zone's wall clock in (lo, hi],
    on one weekday only if given."""
    offsets = zone_offsets(zone_name)
    at_seconds = at.hour * 3600 + at.minute * 60
    found = []
    for day in range((lo - 14 * 3600) // DAY + EPOCH_ORD, (hi + 14 * 3600) // DAY + EPOCH_ORD + 1):
        if weekday is not None and (day - 1) % 7 != weekday:  # ordinal 1 is a Monday
            continue
        local = (day - EPOCH_ORD) * DAY + at_seconds
        instant = local - offsets.offset(local)
        if lo < instant <= hi:
            found.append((day, instant))
    return found


def reminder_due(occurrence: Occurrence, offset: ReminderOffset) -> int:
    """The instant of a reminder: `days_before` the occurrence's local date, at `at` local."""
    offsets = zone_offsets(occurrence.timezone)
    day = datetime.fromtimestamp(occurrence.starts_at, offsets.zone).toordinal()
    local = (day - offset.days_before - EPOCH_ORD) * DAY + offset.at.hour * 3600 + offset.at.minute * 60
    return local - offsets.offset(local)


def due_reminders(rules: Iterable[SeriesRule], offsets: Iterable[ReminderOffset], lo: int, hi: int
                  ) -> Iterator[tuple[Occurrence, ReminderOffset, int]]:
    """(occurrence, offset, due instant) for each reminder due in (lo, hi], expanding only the
    occurrences such a reminder can belong to. Cancelled occurrences have none; nor does an
    offset that would fall at or after the start."""
    offsets = sorted(set(offsets))
    if not offsets:
        return
    first = min(o.days_before for o in offsets)
    last = max(o.days_before for o in offsets)
    window_start = datetime.fromtimestamp(lo + (first - 2) * DAY, UTC)
    window_end = datetime.fromtimestamp(hi + (last + 2) * DAY, UTC)
    for occurrence in expand(rules, window_start, window_end):
        if occurrence.is_cancelled:
            continue
        for offset in offsets:
            due = reminder_due(occurrence, offset)
            if lo < due <= hi and due < occurrence.starts_at:
                yield occurrence, offset, due


def anything_due(zones: Iterable[str], offsets: Iterable[ReminderOffset], lo: int, hi: int) -> bool:
    """Does any reminder time of any zone fall in (lo, hi]? Most minutes of a day, none does."""
    ats = {o.at for o in offsets}
    return any(wall_instants(zone, at, lo, hi) for zone in zones for at in ats)


# --- who is told ---------------------------------------------------------------------------

@dataclass
class Recipients:
    """Everything the scan needs to know about people, read once per scan."""

    settings: dict[int, PartnerReminderSettings]
    people: dict[int, Person]

    @classmethod
    def load(cls) -> Recipients:
        settings = {s.partner_id: s for s in db.session.scalars(sa.select(PartnerReminderSettings))}
        return cls(settings, {})

    @cached_property
    def subscriptions(self) -> dict[tuple[str, int], list[Subscription]]:
        """Confirmed public subscriptions by target, read only when someone is to be told."""
        found: dict[tuple[str, int], list[Subscription]] = {}
        for s in db.session.scalars(sa.select(Subscription).where(
                Subscription.confirmed_at.is_not(None), Subscription.unsubscribed_at.is_(None))):
            found.setdefault((s.target_type, s.target_id), []).append(s)
        return found

    def load_people(self, person_ids: Iterable[int]) -> None:
        """Reads the people named on the occurrences about to be told (not all 15,000)."""
        wanted = list(set(person_ids) - self.people.keys())
        for i in range(0, len(wanted), 5000):
            for person in db.session.scalars(sa.select(Person).where(Person.id.in_(wanted[i:i + 5000]))):
                self.people[person.id] = person

    def offsets_of(self, partner_id: int | None) -> tuple[ReminderOffset, ...]:
        settings = self.settings.get(partner_id)
        return settings.reminder_offsets if settings else DEFAULT_OFFSETS

    def offsets_in_use(self) -> set[ReminderOffset]:
        used = set(DEFAULT_OFFSETS) | set(SUBSCRIBER_OFFSETS)
        for settings in self.settings.values():
            used |= set(settings.reminder_offsets)
        return used

    def subscribers(self, event: Event, place_id: int | None) -> list[Subscription]:
        if event.visibility != "public" or event.status == "cancelled":
            return []
        place = event.place if place_id == event.place_id else db.session.get(Place, place_id)
        found = list(self.subscriptions.get(("event", event.id), []))
        found += self.subscriptions.get(("place", place_id), [])
        if place is not None and place.quartier_id is not None:
            found += self.subscriptions.get(("quartier", place.quartier_id), [])
        return found

    def of_occurrence(self, event: Event, occurrence: Occurrence) -> Iterator[dict]:
        """Each recipient of an occurrence: channel, recipient, partner, subscription, offsets."""
        told_partners = set()
        for person_id in occurrence.person_ids:
            person = self.people.get(person_id)
            if person is None or not person.email:
                continue
            told_partners.add(person.partner_id)
            yield {"channel": "email", "recipient": person.email.lower(), "partner_id": person.partner_id,
                   "offsets": self.offsets_of(person.partner_id)}
        for partner in event.organisers:
            offsets = self.offsets_of(partner.id)
            if partner.id not in told_partners and partner.contact_email:
                yield {"channel": "email", "recipient": partner.contact_email.lower(), "partner_id": partner.id,
                       "offsets": offsets}
            settings = self.settings.get(partner.id)
            if settings is not None and settings.webhook_url:
                yield {"channel": "webhook", "recipient": settings.webhook_url, "partner_id": partner.id,
                       "offsets": offsets}
        for subscription in self.subscribers(event, occurrence.place_id):
            yield {"channel": "email", "recipient": subscription.email, "subscription_id": subscription.id,
                   "offsets": SUBSCRIBER_OFFSETS}


def delivery_key(kind: str, channel: str, recipient: str, *parts) -> str:
    return ":".join([kind, *(str(p) for p in parts), channel, recipient])


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


# --- the scan ------------------------------------------------------------------------------

def plan_reminders(lo: int, hi: int, recipients: Recipients) -> Iterator[dict]:
    offsets = recipients.offsets_in_use()
    zones = set(db.session.scalars(sa.select(Event.timezone).distinct()))
    if not anything_due(zones, offsets, lo, hi):
        return
    first = min(o.days_before for o in offsets)
    last = max(o.days_before for o in offsets)
    # The series' timing as plain rows; Event objects only for those with a reminder due.
    rules = rules_in_window(CalendarFilter(include_private=True, include_cancelled_events=False),
                            datetime.fromtimestamp(lo + (first - 2) * DAY, UTC),
                            datetime.fromtimestamp(hi + (last + 2) * DAY, UTC))
    due = list(due_reminders(rules, offsets, lo, hi))
    if not due:
        return
    by_id = _events_by_id({o.event_id for o, _, _ in due})
    recipients.load_people(p for o, _, _ in due for p in o.person_ids)
    for occurrence, offset, due_at in due:
        event = by_id[occurrence.event_id]
        for to in recipients.of_occurrence(event, occurrence):
            if offset not in to.pop("offsets"):
                continue
            yield {**to, "kind": "reminder", "event_id": event.id,
                   "recurrence_start": occurrence.recurrence_start, "offset": offset.key,
                   "due_at": datetime.fromtimestamp(due_at, UTC),
                   "key": delivery_key("reminder", to["channel"], to["recipient"], event.id,
                                       _iso(occurrence.recurrence_id), offset.key)}


def _events_by_id(ids: set[int]) -> dict[int, Event]:
    found: dict[int, Event] = {}
    ordered = sorted(ids)
    for i in range(0, len(ordered), 5000):
        found.update((e.id, e) for e in db.session.scalars(
            sa.select(Event).where(Event.id.in_(ordered[i:i + 5000]))
            .options(selectinload(Event.organisers), selectinload(Event.place))))
    return found


def plan_weekly_programmes(lo: int, hi: int) -> Iterator[dict]:
    weekday, at = WEEKLY_PROGRAMME_AT
    places = db.session.scalars(sa.select(Place).where(Place.contact_email.is_not(None)))
    for place in places:
        for day, due in wall_instants(place.timezone, at, lo, hi, weekday=weekday):
            monday = date.fromordinal(day + 7 - weekday)
            recipient = place.contact_email.lower()
            yield {"kind": "weekly_programme", "channel": "email", "recipient": recipient,
                   "partner_id": place.host_partner_id, "due_at": datetime.fromtimestamp(due, UTC),
                   "payload": {"place_id": place.id, "week_start": monday.isoformat()},
                   "key": delivery_key("weekly_programme", "email", recipient, place.id, monday.isoformat())}


def scan(now: datetime) -> dict[str, int]:
    """Records every delivery that fell due since the last scan, up to `now`; returns counts."""
    grace = timedelta(minutes=current_app.config.get("REMINDER_GRACE_MINUTES", 180))
    mark = db.session.get(ScanMark, SCAN_MARK)
    if mark is None or mark.scanned_until > now:  # first scan, or someone ran the clock ahead
        since = now - grace
    else:
        since = max(mark.scanned_until, now - MAX_LOOKBACK)
    lo, hi = _epoch(since), _epoch(now)
    late_limit = now - grace
    counts = {"pending": 0, "skipped": 0}
    if hi > lo:
        recipients = Recipients.load()
        planned = [*plan_reminders(lo, hi, recipients), *plan_weekly_programmes(lo, hi),
                   *plan_daily_digests(lo, hi)]
        for values in planned:
            if values["due_at"] <= late_limit:
                values["state"] = "skipped"
                values["last_error"] = "Échéance manquée pendant un arrêt de l'horloge, hors délai de grâce."
        for key, state, due_at in add_deliveries_if_new(planned):
            counts[state] += 1
            if state == "skipped":
                log.warning("non envoyé (échéance %s manquée) : %s", due_at.isoformat(), key)
    # Notices the conflicts engine recorded are due as soon as they exist, whatever the interval.
    counts["pending"] += record_conflict_notices(now)
    if mark is None:
        db.session.add(ScanMark(name=SCAN_MARK, scanned_until=now))
    elif now > mark.scanned_until:
        mark.scanned_until = now
    db.session.flush()
    return counts


# --- notices of a change, recorded by the write that makes it ------------------------------

def occurrence_of(event: Event, recurrence_start: datetime) -> Occurrence | None:
    """The occurrence a rule gives at `recurrence_start`, after its exception if any."""
    rule = rule_of(event)
    rec = _epoch(recurrence_start)
    spec = rule.exceptions.get(rec)
    start = spec.starts_at if spec is not None and spec.starts_at is not None else rec
    window = (datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(start + 1, UTC))
    return next((o for o in expand([rule], *window) if o.recurrence_id == rec), None)


def notify_occurrence_change(event: Event, recurrence_start: datetime, now: datetime | None = None) -> int:
    """Records a notice to everyone involved in an occurrence just cancelled or moved (the
    clock sends it within a minute). Called by `scheduler.series`; adds and flushes."""
    now = now or utcnow()
    occurrence = occurrence_of(event, recurrence_start)
    if occurrence is None or occurrence.ends_at <= _epoch(now):
        return 0  # nothing to tell about the past
    exception = next((x for x in event.exceptions if x.recurrence_start == recurrence_start), None)
    version = exception.sequence if exception is not None else event.sequence
    kind = "occurrence_cancelled" if occurrence.is_cancelled else "occurrence_moved"
    payload = {"reason": exception.reason if exception is not None else "",
               "starts_at": _iso(occurrence.starts_at), "place_id": occurrence.place_id}
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
                                _iso(occurrence.recurrence_id), f"v{version}")})
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
    organisers: list
    place_id: int
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
    if single and len(before) == 1 and len(after) == 1:
        pairs = [(next(iter(before.values())), next(iter(after.values())))]
    else:
        pairs = [(before.get(day), after.get(day)) for day in sorted(before.keys() | after.keys())]
    found = [(b, a) for b, a in pairs if _worth_telling(b, a)]
    return sorted(found, key=lambda pair: (pair[0] or pair[1]).starts_at)


def _worth_telling(b: Occurrence | None, a: Occurrence | None) -> bool:
    seen_before, seen_after = _as_seen(b), _as_seen(a)
    if seen_before == seen_after:
        return False
    # Nothing planned on either side (none, or cancelled): nobody would go, nobody would miss it.
    return seen_before not in (None, "cancelled") or seen_after not in (None, "cancelled")


def _side(o: Occurrence | None, places: dict[int, Place]) -> dict | None:
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
        day = local_day(before.rule, _epoch(datetime.fromisoformat(x["recurrence_start"])))
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
    places = {p.id: p for p in db.session.scalars(sa.select(Place).where(Place.id.in_({o.place_id for o in shown})))}
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


# --- what a message says --------------------------------------------------------------------

@dataclass
class Message:
    subject: str
    paragraphs: list[str]
    facts: list[tuple[str, str]] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    unsubscribe_url: str | None = None
    ics: bytes | None = None
    ics_note: str = "L'occurrence est jointe à ce message (evenement.ics) : ouvrez-la pour l'ajouter à votre agenda."
    data: dict = field(default_factory=dict)  # the webhook's JSON


class Skip(Exception):
    """The delivery must not be sent any more (cancelled, unsubscribed, too late)."""


def _base_url() -> str:
    return current_app.config["BASE_URL"]


def subscription_link(action: str, subscription: Subscription) -> str:
    """The address of a subscriber's confirmation ("confirmer") or unsubscribe ("desabonner") link."""
    return f"{_base_url()}/abonnement/{action}/{link_token(subscription, current_app.config['SECRET_KEY'])}"


def _occurrence_facts(event: Event, occurrence: Occurrence) -> list[tuple[str, str]]:
    place = db.session.get(Place, occurrence.place_id) if occurrence.place_id else None
    start, end = occurrence.start, occurrence.end
    where = place.name if place else ""
    if place and place.address:
        where += f", {place.address}" + (f", {place.postcode} {place.city}" if place.city else "")
    facts = [("Quand", f"{french_date(start.date())}, de {french_time(start)} à {french_time(end)}"),
             ("Où", where + (f" (salle {occurrence.room})" if occurrence.room else ""))]
    if event.organisers:
        facts.append(("Organisé par", ", ".join(p.name for p in event.organisers)))
    if occurrence.timezone != current_app.config["DEFAULT_TIMEZONE"]:
        facts.append(("Heure locale", occurrence.timezone))
    return facts


def _occurrence_data(event: Event, occurrence: Occurrence) -> dict:
    return {"event": {"id": event.id, "uid": event.uid, "title": event.title, "kind": event.kind},
            "occurrence": {"recurrence_id": occurrence.recurrence_start.isoformat(),
                           "starts_at": occurrence.start.isoformat(), "ends_at": occurrence.end.isoformat(),
                           "place_id": occurrence.place_id, "room": occurrence.room,
                           "is_cancelled": occurrence.is_cancelled, "is_moved": occurrence.is_moved}}


def _attachment(event: Event, occurrence: Occurrence, for_public: bool) -> bytes:
    from scheduler.ical import render_occurrence

    places = {p.id: p for p in db.session.scalars(sa.select(Place).where(Place.id == occurrence.place_id))}
    return render_occurrence(event, occurrence, _base_url(), include_people=not for_public, places=places)


def _subscription(delivery: Delivery) -> Subscription | None:
    if delivery.subscription_id is None:
        return None
    subscription = db.session.get(Subscription, delivery.subscription_id)
    if subscription is None or subscription.unsubscribed_at is not None:
        raise Skip("Désabonné·e.")
    return subscription


def _event_and_occurrence(delivery: Delivery) -> tuple[Event, Occurrence]:
    event = db.session.get(Event, delivery.event_id) if delivery.event_id else None
    if event is None:
        raise Skip("Événement supprimé.")
    occurrence = occurrence_of(event, delivery.recurrence_start)
    if occurrence is None:
        raise Skip("Cette occurrence n'existe plus.")
    return event, occurrence


def render_reminder(delivery: Delivery, now: datetime) -> Message:
    event, occurrence = _event_and_occurrence(delivery)
    if occurrence.is_cancelled or event.status == "cancelled":
        raise Skip("Occurrence annulée : pas de rappel.")
    if occurrence.starts_at <= _epoch(now):
        raise Skip("Trop tard : l'occurrence a commencé.")
    start = occurrence.start
    today = now.astimezone(start.tzinfo).date()
    when = {0: "aujourd'hui", 1: "demain"}.get((start.date() - today).days, f"le {french_date(start.date())}")
    return Message(
        subject=f"Rappel : {event.title}, {when} à {french_time(start)}",
        paragraphs=[f"Pour rappel, « {event.title} » ({event.kind_label.lower()}) a lieu {when} "
                    f"à {french_time(start)}."],
        facts=_occurrence_facts(event, occurrence),
        links=[("Voir l'événement", f"{_base_url()}/evenements/{event.id}")],
        ics=_attachment(event, occurrence, delivery.subscription_id is not None),
        data=_occurrence_data(event, occurrence))


def render_change(delivery: Delivery, now: datetime) -> Message:
    event, occurrence = _event_and_occurrence(delivery)
    planned = french_datetime(delivery.recurrence_start.astimezone(ZoneInfo(occurrence.timezone)))
    reason = (delivery.payload or {}).get("reason")
    if delivery.kind == "occurrence_cancelled":
        subject = f"Annulé : {event.title}, {planned}"
        paragraphs = [f"« {event.title} », prévu le {planned}, est annulé."]
    else:
        subject = f"Changement : {event.title}, {planned}"
        paragraphs = [f"« {event.title} », prévu le {planned}, change : voici ce qui vaut désormais."]
    if reason:
        paragraphs.append(f"Motif : {reason}")
    return Message(subject=subject, paragraphs=paragraphs, facts=_occurrence_facts(event, occurrence),
                   links=[("Voir l'événement", f"{_base_url()}/evenements/{event.id}")],
                   ics=_attachment(event, occurrence, delivery.subscription_id is not None),
                   data=_occurrence_data(event, occurrence))


def _when_where(side: dict) -> tuple[str, str, str]:
    start, end = datetime.fromisoformat(side["starts_at"]), datetime.fromisoformat(side["ends_at"])
    where = side["place"] + (f" (salle {side['room']})" if side["room"] else "")
    return french_date(start.date()), f"{french_time(start)}–{french_time(end)}", where


def date_line(before: dict | None, after: dict | None) -> str:
    """One date of a change to a whole event, in French: what holds now, and what it replaces."""
    if after is None or after["is_cancelled"]:
        return ", ".join(_when_where(before)) + (" : annulé" if after is not None else " : n'a plus lieu")
    now_parts = _when_where(after)
    if before is None or before["is_cancelled"]:
        return ", ".join(now_parts) + (" : nouvelle date" if before is None else " : de nouveau prévu")
    was = _when_where(before)
    if was[0] != now_parts[0]:
        replaced = [was[0], was[1]] + ([was[2]] if was[2] != now_parts[2] else [])
    else:
        replaced = [part for part, new in zip(was[1:], now_parts[1:]) if part != new]
    return f"{', '.join(now_parts)} (au lieu de {', '.join(replaced)})"


EVENT_CHANGE_WORDS = {  # kind: (subject word, what happened)
    "event_cancelled": ("Annulé", "est annulé"),
    "event_deleted": ("Supprimé", "a été retiré du calendrier"),
    "event_changed": ("Changement", "change"),
}


def render_event_change(delivery: Delivery, now: datetime) -> Message:
    """A change to a whole event, from what the write recorded (the event may be gone since)."""
    p = delivery.payload
    word, happened = EVENT_CHANGE_WORDS[delivery.kind]
    dates, removed = p["dates"], p["removed"]
    items = [date_line(d["before"], d["after"]) for d in dates]
    if p["more"]:
        items.append(f"… et {p['more']} autre(s) date(s), dans le calendrier.")
    if len(dates) == 1 and not p["more"]:
        first = datetime.fromisoformat((dates[0]["before"] or dates[0]["after"])["starts_at"])
        when = french_datetime(first)
    else:
        first_day = (datetime.fromisoformat((dates[0]["before"] or dates[0]["after"])["starts_at"]).date() if dates
                     else date.fromisoformat(removed[0]["date"]))
        when = f"à partir du {french_date(first_day)}"
    concerned = "" if not dates else (" Voici la date concernée :" if len(items) == 1
                                      else " Voici les dates à venir concernées :")
    paragraphs = [f"« {p['title']} » ({p['kind_label'].lower()}) {happened}.{concerned}"]
    if removed:
        dropped = " ; ".join(("l'annulation du " if x["was"] == "cancelled" else "le déplacement de la date du ")
                             + french_date(date.fromisoformat(x["date"])) for x in removed)
        paragraphs.append(f"Ne valent plus, la série n'ayant plus de date ces jours-là : {dropped}.")
    facts = [("Organisé par", ", ".join(p["organisers"]))] if p["organisers"] else []
    if p["timezone"] != current_app.config["DEFAULT_TIMEZONE"]:
        facts.append(("Heure locale", p["timezone"]))
    event = db.session.get(Event, delivery.event_id) if delivery.kind != "event_deleted" else None
    if event is not None and event.uid != p["uid"]:
        event = None  # that id now names another event
    ics = None
    if event is not None:
        from scheduler.feeds import FeedSpec, build_feed

        ics = build_feed(FeedSpec("event", str(event.id), private=delivery.subscription_id is None),
                         now.date(), _base_url(), current_app.config["DEFAULT_TIMEZONE"])
    links = ([("Voir l'événement", f"{_base_url()}/evenements/{delivery.event_id}")] if event is not None
             else [("Le calendrier du lieu", f"{_base_url()}/lieux/{p['place']}")])
    return Message(
        subject=f"{word} : {p['title']}, {when}", paragraphs=paragraphs, facts=facts, items=items, links=links,
        ics=ics, ics_note="L'événement, tel qu'il est désormais, est joint à ce message (evenement.ics) : "
                          "ouvrez-le pour mettre votre agenda à jour.",
        data={"event": {"id": delivery.event_id, "uid": p["uid"], "title": p["title"]},
              "change": delivery.kind.removeprefix("event_"), "dates": dates, "more": p["more"], "removed": removed})


def render_weekly_programme(delivery: Delivery, now: datetime) -> Message:
    place = db.session.get(Place, delivery.payload["place_id"])
    if place is None:
        raise Skip("Lieu supprimé.")
    monday = date.fromisoformat(delivery.payload["week_start"])
    zone = ZoneInfo(place.timezone)
    start = datetime.combine(monday, time(0), zone)
    end = datetime.combine(monday + timedelta(days=7), time(0), zone)
    rows = occurrences_between(CalendarFilter(place=place.slug, include_private=True), start, end)
    if not rows:
        raise Skip("Rien de prévu dans ce lieu cette semaine.")
    items = []
    for occurrence, event in rows:
        line = (f"{french_date(occurrence.start.date())}, {french_time(occurrence.start)}–"
                f"{french_time(occurrence.end)} : {event.title}")
        if event.organisers:
            line += f" ({', '.join(p.name for p in event.organisers)})"
        if occurrence.room:
            line += f", salle {occurrence.room}"
        if occurrence.is_cancelled:
            line += " — ANNULÉ"
        items.append(line)
    return Message(
        subject=f"{place.name} : le programme de la semaine du {french_date(monday)}",
        paragraphs=[f"Voici ce qui est prévu à {place.name} la semaine du {french_date(monday)}."],
        items=items, links=[("Le calendrier du lieu", f"{_base_url()}/lieux/{place.slug}")],
        data={"place": place.slug, "week_start": monday.isoformat(), "occurrences": len(items)})


def render_confirmation(delivery: Delivery, now: datetime) -> Message:
    subscription = db.session.get(Subscription, delivery.subscription_id)
    if subscription is None or subscription.confirmed_at is not None or subscription.unsubscribed_at is not None:
        raise Skip("Abonnement déjà confirmé ou résilié.")
    return Message(
        subject="Confirmez votre abonnement aux rappels Maillage",
        paragraphs=[f"Vous avez demandé à recevoir les rappels et les changements de {target_label(subscription)}.",
                    "Pour confirmer, cliquez sur le lien ci-dessous. Sans confirmation, vous ne recevrez rien.",
                    "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message."],
        links=[("Confirmer mon abonnement", subscription_link("confirmer", subscription))])


def target_label(subscription: Subscription) -> str:
    from models import Quartier

    model = {"quartier": Quartier, "place": Place, "event": Event}[subscription.target_type]
    target = db.session.get(model, subscription.target_id)
    if target is None:
        return "cet élément"
    name = getattr(target, "name", None) or getattr(target, "title", "")
    return {"quartier": f"quartier {name}", "place": f"lieu {name}", "event": f"« {name} »"}[subscription.target_type]


RENDERERS = {
    "reminder": render_reminder,
    "occurrence_cancelled": render_change,
    "occurrence_moved": render_change,
    "weekly_programme": render_weekly_programme,
    "subscription_confirm": render_confirmation,
    "event_cancelled": render_event_change,
    "event_changed": render_event_change,
    "event_deleted": render_event_change,
}


def render(delivery: Delivery, now: datetime, cache: dict | None = None) -> Message:
    """The message of a delivery. The same reminder to a thousand advisers is rendered once per
    run (`cache`): only the address and the unsubscribe link differ."""
    subscription = None
    if delivery.kind != "subscription_confirm":
        subscription = _subscription(delivery)
    key = (delivery.kind, delivery.event_id, delivery.recurrence_start, subscription is not None,
           json.dumps(delivery.payload, sort_keys=True),
           delivery.subscription_id if delivery.kind == "subscription_confirm" else None)
    cache = {} if cache is None else cache
    if key not in cache:
        try:
            cache[key] = RENDERERS[delivery.kind](delivery, now)
        except Skip as reason:
            cache[key] = reason
    if isinstance(cache[key], Skip):
        raise cache[key]
    message = replace(cache[key])
    if subscription is not None:
        message.unsubscribe_url = subscription_link("desabonner", subscription)
    return message


def email_of(delivery: Delivery, message: Message):
    context = {"message": message}
    headers = {"X-Maillage-Delivery": delivery.key[:200]}
    if message.unsubscribe_url:
        # RFC 8058: mail clients show a one-click "unsubscribe" that POSTs to this address.
        headers["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    attachments = [("evenement.ics", "text/calendar", message.ics)] if message.ics else []
    return build_message(to=delivery.recipient, subject=message.subject,
                         text=render_template("mail/message.txt", **context),
                         html=render_template("mail/message.html", **context),
                         headers=headers, attachments=attachments)


# --- conflicts: the notices the engine records, and the coordinators' morning digest ------------

CONFLICT_NOTICE_KINDS = {"opened": "conflict_opened", "reopened": "conflict_opened",
                         "accepted": "conflict_resolved", "resolved": "conflict_resolved",
                         "closed": "conflict_resolved"}
CHANGE_WORDS = {"opened": "signalé", "reopened": "rouvert", "accepted": "accepté", "resolved": "résolu",
                "closed": "clos (il n'est plus vrai)"}


def plan_conflict_notices(recipients: Recipients, now: datetime, conflict_ids: Iterable[int] | None = None,
                          note: str | None = None) -> Iterator[dict]:
    """One delivery per notice the conflicts engine recorded (`models.conflicts.ConflictNotice`);
    the notice is marked taken in the same transaction, so it becomes deliveries exactly once.

    With `conflict_ids`, only the notices of those conflicts, and each delivery carries what its
    message says (`facts`, and `note`): they are about to be deleted with their event, and the
    message is sent after."""
    from models.conflicts import ConflictNotice

    q = sa.select(ConflictNotice).where(ConflictNotice.sent_at.is_(None)).order_by(ConflictNotice.id)
    if conflict_ids is not None:
        q = q.where(ConflictNotice.conflict_id.in_(list(conflict_ids)))
    for notice in db.session.scalars(q):
        notice.sent_at = utcnow()
        kind = CONFLICT_NOTICE_KINDS.get(notice.change, "conflict_opened")
        payload = {"conflict_id": notice.conflict_id, "change": notice.change}
        if conflict_ids is not None:
            payload.update(facts=conflict_facts(notice.conflict), note=note)
        targets = []
        if notice.user is not None and notice.user.email:
            targets.append({"channel": "email", "recipient": notice.user.email.lower()})
        if notice.partner is not None:
            if notice.partner.contact_email:
                targets.append({"channel": "email", "recipient": notice.partner.contact_email.lower(),
                                "partner_id": notice.partner_id})
            settings = recipients.settings.get(notice.partner_id)
            if settings is not None and settings.webhook_url:
                targets.append({"channel": "webhook", "recipient": settings.webhook_url,
                                "partner_id": notice.partner_id})
        for to in targets:
            yield {**to, "kind": kind, "due_at": now, "payload": payload,
                   "key": delivery_key(kind, to["channel"], to["recipient"], "notice", notice.id)}


def record_conflict_notices(now: datetime, conflict_ids: Iterable[int] | None = None, note: str | None = None) -> int:
    """Turns the pending notices (of these conflicts) into deliveries due now (see plan_conflict_notices)."""
    return len(add_deliveries_if_new(list(plan_conflict_notices(Recipients.load(), now, conflict_ids, note))))


def plan_daily_digests(lo: int, hi: int) -> Iterator[dict]:
    from models.users import User

    zone = current_app.config["DEFAULT_TIMEZONE"]
    instants = wall_instants(zone, DAILY_DIGEST_AT, lo, hi)
    if not instants:
        return
    coordinators = list(db.session.scalars(sa.select(User).where(
        User.role == "coordinator", User.is_active_account.is_(True))))
    for day, due in instants:
        for user in coordinators:
            day_iso = date.fromordinal(day).isoformat()
            yield {"kind": "daily_digest", "channel": "email", "recipient": user.email.lower(),
                   "due_at": datetime.fromtimestamp(due, UTC), "payload": {"user_id": user.id, "day": day_iso},
                   "key": delivery_key("daily_digest", "email", user.email.lower(), day_iso)}


def describe_conflict(conflict) -> str:
    a, b = conflict.a_event, conflict.b_event
    start = conflict.starts_at.astimezone(ZoneInfo(a.timezone if a else current_app.config["DEFAULT_TIMEZONE"]))
    severity = "bloquant" if conflict.is_hard else "avertissement"
    sides = f"« {a.title} »" + (f" et « {b.title} »" if b is not None and b.id != a.id else "")
    return f"{conflict.kind_label} ({severity}) : {sides}, {french_datetime(start)}"


def conflict_facts(conflict) -> dict | None:
    """What a conflict's notice says about it (None when a side is gone)."""
    if conflict.a_event is None or conflict.b_event is None:
        return None
    return {"description": describe_conflict(conflict), "kind_label": conflict.kind_label, "reason": conflict.reason,
            "data": {"id": conflict.id, "kind": conflict.kind, "status": conflict.status,
                     "events": [conflict.a_event_id, conflict.b_event_id],
                     "starts_at": conflict.starts_at.isoformat()}}


def render_conflict_change(delivery: Delivery, now: datetime) -> Message:
    from models.conflicts import ScheduleConflict

    facts = delivery.payload.get("facts")  # written when the conflict went with its event
    if facts is None:
        conflict = db.session.get(ScheduleConflict, delivery.payload["conflict_id"])
        facts = conflict_facts(conflict) if conflict is not None else None
    if facts is None:
        raise Skip("Chevauchement supprimé avec son événement.")
    change = delivery.payload.get("change", "opened")
    paragraphs = [f"Un chevauchement vous concernant est {CHANGE_WORDS.get(change, change)} :", facts["description"]]
    if delivery.payload.get("note"):
        paragraphs.append(delivery.payload["note"])
    if facts["reason"] and change in ("accepted", "resolved"):
        paragraphs.append(f"Motif : {facts['reason']}")
    return Message(
        subject=f"Chevauchement {CHANGE_WORDS.get(change, change).split(' ')[0]} : {facts['kind_label']}",
        paragraphs=paragraphs, links=[("Voir les chevauchements", f"{_base_url()}/coordination/")],
        data={"conflict": {**facts["data"], "change": change}})


def render_daily_digest(delivery: Delivery, now: datetime) -> Message:
    from models.conflicts import conflicts_query
    from models.users import User

    user = db.session.get(User, delivery.payload["user_id"])
    if user is None or not user.is_active:
        raise Skip("Compte désactivé.")
    open_ones = list(db.session.scalars(conflicts_query(user, status="open", start=now)))
    if not open_ones:
        raise Skip("Aucun chevauchement ouvert : rien à signaler.")
    since = delivery.due_at - timedelta(days=1)
    new = [c for c in open_ones if c.opened_at >= since]
    items = [("Nouveau — " if c.opened_at >= since else "") + describe_conflict(c) for c in open_ones[:50]]
    if len(open_ones) > 50:
        items.append(f"… et {len(open_ones) - 50} autre(s), dans la vue de coordination.")
    return Message(
        subject=f"Chevauchements : {len(new)} nouveau(x), {len(open_ones)} ouvert(s)",
        paragraphs=[f"Dans votre territoire, {len(open_ones)} chevauchement(s) restent ouverts, "
                    f"dont {len(new)} apparu(s) depuis hier."],
        items=items, links=[("Les traiter dans la vue de coordination", f"{_base_url()}/coordination/")],
        data={"open": len(open_ones), "new": len(new)})


RENDERERS.update({"conflict_opened": render_conflict_change, "conflict_resolved": render_conflict_change,
                  "daily_digest": render_daily_digest})


# --- sending --------------------------------------------------------------------------------

def backoff(attempts: int) -> timedelta:
    """1, 2, 4 … minutes between tries, at most an hour."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


def _claim(delivery_id: int, now: datetime) -> bool:
    """Marks the delivery sent, in a transaction the caller commits only when the message is
    about to be handed over. Another runner's claim on the same row waits for that transaction
    (row lock on PostgreSQL, the write lock on SQLite), then finds it sent and moves on."""
    result = db.session.execute(
        sa.update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.state.in_(("pending", "failed")),
               Delivery.next_attempt_at <= now)
        .values(state="sent", sent_at=utcnow(), attempts=Delivery.attempts + 1, updated_at=utcnow(),
                last_error="")
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def _record_failure(delivery_id: int, now: datetime, error: str) -> None:
    delivery = db.session.get(Delivery, delivery_id)
    attempts = delivery.attempts + 1  # the claim's own count was rolled back with it
    delivery.state = "failed"
    delivery.attempts = attempts
    delivery.sent_at = None
    delivery.last_error = error[:2000]
    delivery.updated_at = utcnow()
    delivery.next_attempt_at = None if attempts >= MAX_ATTEMPTS else now + backoff(attempts)
    log.warning("échec de l'envoi %s (essai %d) : %s", delivery.key, attempts, error)


def _record_skip(delivery_id: int, reason: str) -> None:
    db.session.execute(sa.update(Delivery).where(Delivery.id == delivery_id, Delivery.state.in_(("pending", "failed")))
                       .values(state="skipped", last_error=reason, next_attempt_at=None, updated_at=utcnow())
                       .execution_options(synchronize_session=False))


def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def post_webhook(delivery: Delivery, message: Message) -> None:
    """POSTs the signed JSON; any non-2xx answer or network error is a failure to retry.
    Receivers deduplicate on X-Maillage-Delivery (a webhook cannot be made exactly-once)."""
    settings = db.session.get(PartnerReminderSettings, delivery.partner_id)
    secret = settings.webhook_secret if settings else ""
    body = json.dumps({"type": delivery.kind, "delivery": delivery.key, "subject": message.subject,
                       **message.data}, ensure_ascii=False, sort_keys=True).encode()
    timestamp = str(int(time_module.time()))
    request = urllib.request.Request(delivery.recipient, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "Maillage", "X-Maillage-Event": delivery.kind,
        "X-Maillage-Delivery": hashlib.sha256(delivery.key.encode()).hexdigest(),
        "X-Maillage-Timestamp": timestamp, "X-Maillage-Signature": sign_webhook(secret or "", timestamp, body)})
    try:
        with open_url(request, 10, current_app.config["ALLOW_PRIVATE_URLS"]) as response:
            if not 200 <= response.status < 300:
                raise SmtpUnavailable(f"webhook : réponse {response.status}")
    except (urllib.error.URLError, OSError) as error:
        raise SmtpUnavailable(f"webhook injoignable : {failure_reason(error)}") from error


def send_due(now: datetime, limit: int | None = None) -> dict[str, int]:
    """Sends the recorded deliveries due at `now`; commits after each one."""
    counts = {"sent": 0, "failed": 0, "skipped": 0}
    db.session.commit()
    ids = list(db.session.scalars(
        sa.select(Delivery.id).where(Delivery.state.in_(("pending", "failed")), Delivery.next_attempt_at <= now)
        .order_by(Delivery.due_at, Delivery.id).limit(limit)))
    db.session.rollback()  # end the read: SQLite must not hold a shared lock while we wait for the write one
    smtp_down = False
    rendered: dict = {}
    with SmtpSender(SmtpSettings.from_url(current_app.config["SMTP_URL"])) as smtp:
        for delivery_id in ids:
            delivery = db.session.get(Delivery, delivery_id)
            if delivery is None or delivery.state not in ("pending", "failed"):
                db.session.rollback()
                continue
            if delivery.channel == "email" and smtp_down:
                db.session.rollback()
                continue  # tried this tick already: the next tick tries again
            try:
                message = render(delivery, now, rendered)
            except Skip as reason:
                _record_skip(delivery_id, str(reason))
                db.session.commit()
                counts["skipped"] += 1
                continue
            email = email_of(delivery, message) if delivery.channel == "email" else None
            db.session.rollback()
            if not _claim(delivery_id, now):
                db.session.rollback()
                continue
            try:
                if email is not None:
                    smtp.send(email, before_final_dot=db.session.commit)
                else:
                    post_webhook(delivery, message)
                    db.session.commit()
            except SmtpUnavailable as error:
                db.session.rollback()
                _record_failure(delivery_id, now, str(error))
                db.session.commit()
                counts["failed"] += 1
                smtp_down = smtp_down or (email is not None and smtp.connection is None)
                continue
            counts["sent"] += 1
    return counts


def run_due(now: datetime) -> dict[str, int]:
    """What the clock runs every minute: scan, then send. Commits."""
    if now.tzinfo is None:
        raise ValueError("run_due needs an aware instant")
    scanned = scan(now)
    db.session.commit()
    sent = send_due(now)
    return {"recorded": scanned["pending"], "missed": scanned["skipped"], **sent}


def register(scheduler, app) -> None:
    """The clock's minute job (see scheduler/clock.py)."""
    from scheduler.clock import job

    scheduler.add_job(job(app, lambda: run_due(utcnow())), "cron", second=0, id="reminders.run_due",
                      name="reminders.run_due", max_instances=1, coalesce=True, misfire_grace_time=50)
