"""What falls due: reminders before each occurrence, weekly programmes, daily digests, and who is
told (`Recipients`). `scan(now)` records every delivery that fell due since the last scan, each
under a unique key, so that it exists once.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import cached_property
from typing import Protocol

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from models import Event, Partner, Person, Place, Subscription, db
from models.deliveries import (
    DEFAULT_OFFSETS,
    SUBSCRIBER_OFFSETS,
    PartnerReminderSettings,
    ReminderOffset,
)
from models.users import User
from scheduler.reports.attendance import ATTENDANCE_KINDS
from scheduler.time.calendar import CalendarFilter, rules_in_window
from scheduler.time.recurrence import (
    DAY,
    EPOCH_ORD,
    Occurrence,
    SeriesRule,
    expand,
    zone_offsets,
)

WEEKLY_PROGRAMME_AT = (4, time(10, 0))  # Friday 10:00 local: the programme of the week after
DAILY_DIGEST_AT = time(8, 0)
# The morning after an occurrence, on its wall clock: "how many people did you receive yesterday?"
# (a ReminderOffset one day *after*), for the kinds of event where partners receive people. At 9:30,
# not in the busiest minute (9:00: every partner's J-2 and every subscriber's reminders).
ATTENDANCE_REQUEST = ReminderOffset(-1, time(9, 30))
# --- when things fall due ------------------------------------------------------------------

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

class ToldEvent(Protocol):
    """What decides who hears about an event's occurrence: an Event, or the event as it was before
    a write (scheduler.notifications.notices.EventBefore)."""

    @property
    def id(self) -> int: ...

    @property
    def status(self) -> str: ...

    @property
    def visibility(self) -> str: ...

    @property
    def place_id(self) -> int | None: ...

    @property
    def place(self) -> Place | None: ...

    @property
    def organisers(self) -> Iterable[Partner]: ...


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
        settings = self.settings.get(partner_id) if partner_id is not None else None
        return settings.reminder_offsets if settings else DEFAULT_OFFSETS

    def offsets_in_use(self) -> set[ReminderOffset]:
        used = set(DEFAULT_OFFSETS) | set(SUBSCRIBER_OFFSETS)
        for settings in self.settings.values():
            used |= set(settings.reminder_offsets)
        return used

    def subscribers(self, event: ToldEvent, place_id: int | None) -> list[Subscription]:
        if event.visibility != "public" or event.status == "cancelled":
            return []
        place = event.place if place_id == event.place_id else db.session.get(Place, place_id)
        found = list(self.subscriptions.get(("event", event.id), []))
        if place_id is not None:
            found += self.subscriptions.get(("place", place_id), [])
        if place is not None and place.quartier_id is not None:
            found += self.subscriptions.get(("quartier", place.quartier_id), [])
        return found

    def staff_of(self, event: ToldEvent, occurrence: Occurrence) -> Iterator[dict]:
        """The partners' side of an occurrence, by email: the people named on it, and the contact
        address of each organiser none of whose people is named."""
        told_partners = set()
        for person_id in occurrence.person_ids:
            person = self.people.get(person_id)
            if person is None or not person.email:
                continue
            told_partners.add(person.partner_id)
            yield {"channel": "email", "recipient": person.email.lower(), "partner_id": person.partner_id}
        for partner in event.organisers:
            if partner.id not in told_partners and partner.contact_email:
                yield {"channel": "email", "recipient": partner.contact_email.lower(), "partner_id": partner.id}

    def of_occurrence(self, event: ToldEvent, occurrence: Occurrence) -> Iterator[dict]:
        """Each recipient of an occurrence: channel, recipient, partner, subscription, offsets."""
        for to in self.staff_of(event, occurrence):
            yield {**to, "offsets": self.offsets_of(to["partner_id"])}
        for partner in event.organisers:
            settings = self.settings.get(partner.id)
            if settings is not None and settings.webhook_url:
                yield {"channel": "webhook", "recipient": settings.webhook_url, "partner_id": partner.id,
                       "offsets": self.offsets_of(partner.id)}
        for subscription in self.subscribers(event, occurrence.place_id):
            yield {"channel": "email", "recipient": subscription.email, "subscription_id": subscription.id,
                   "offsets": SUBSCRIBER_OFFSETS}


def delivery_key(kind: str, channel: str, recipient: str, *parts) -> str:
    return ":".join([kind, *(str(p) for p in parts), channel, recipient])


def iso_instant(epoch: int) -> str:
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
                                       iso_instant(occurrence.recurrence_id), offset.key)}


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
            recipient = (place.contact_email or "").lower()  # the query keeps those with one
            yield {"kind": "weekly_programme", "channel": "email", "recipient": recipient,
                   "partner_id": place.host_partner_id, "due_at": datetime.fromtimestamp(due, UTC),
                   "payload": {"place_id": place.id, "week_start": monday.isoformat()},
                   "key": delivery_key("weekly_programme", "email", recipient, place.id, monday.isoformat())}


def plan_daily_digests(lo: int, hi: int) -> Iterator[dict]:
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


def plan_attendance_requests(lo: int, hi: int, recipients: Recipients) -> Iterator[dict]:
    """The next-morning question to each organiser of each occurrence held the day before (its
    people named on it, or its contact address): one delivery per address and occurrence."""
    zones = set(db.session.scalars(sa.select(Event.timezone).distinct()))
    if not any(wall_instants(zone, ATTENDANCE_REQUEST.at, lo, hi) for zone in zones):
        return
    window_start, window_end = datetime.fromtimestamp(lo - 3 * DAY, UTC), datetime.fromtimestamp(hi, UTC)
    rules = rules_in_window(CalendarFilter(include_private=True, include_cancelled_events=False,
                                           kinds=ATTENDANCE_KINDS), window_start, window_end)
    due = [(o, due_at) for o in expand(rules, window_start, window_end) if not o.is_cancelled
           and lo < (due_at := reminder_due(o, ATTENDANCE_REQUEST)) <= hi and due_at >= o.ends_at]
    if not due:
        return
    by_id = _events_by_id({o.event_id for o, _ in due})
    recipients.load_people(p for o, _ in due for p in o.person_ids)
    for occurrence, due_at in due:
        event = by_id[occurrence.event_id]
        organisers = {p.id for p in event.organisers}
        for to in recipients.staff_of(event, occurrence):
            if to["partner_id"] not in organisers:
                continue  # an interpreter named on the session: the organisers count
            yield {**to, "kind": "attendance_request", "event_id": event.id,
                   "recurrence_start": occurrence.recurrence_start, "due_at": datetime.fromtimestamp(due_at, UTC),
                   # The address is in the payload too: each recipient's message has its own link.
                   "payload": {"partner_id": to["partner_id"], "recipient": to["recipient"]},
                   "key": delivery_key("attendance_request", "email", to["recipient"], event.id,
                                       iso_instant(occurrence.recurrence_id))}
