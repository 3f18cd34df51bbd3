"""What a message says: the French text (and the webhook's JSON) of every kind of delivery.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, render_template
from sqlalchemy.orm import selectinload

from models import Delivery, Event, Place, Quartier, Subscription, db
from models.conflicts import ConflictCase, ScheduleConflict
from models.operations.cases import case_link_token
from models.operations.conflicts import conflicts_query
from models.operations.subscriptions import link_token
from models.users import User
from scheduler.french import (
    PARTNERS_ONLY_DETAIL,
    french_date,
    french_datetime,
    french_time,
    partners_only_title,
    title_for,
)
from scheduler.ical.feeds import FeedSpec, build_feed
from scheduler.ical.render import render_occurrence
from scheduler.notifications.mail import build_message
from scheduler.notifications.notices import (
    case_facts,
    conflict_facts,
    describe_conflict,
    occurrence_of,
)
from scheduler.reports.attendance import attendance_link_token, attendance_of, iso_z
from scheduler.time.calendar import CalendarFilter, occurrences_between
from scheduler.time.recurrence import Occurrence, epoch

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
    more_ics: list[tuple[str, bytes]] = field(default_factory=list)  # a digest's other parts' calendars, by file name
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
    # By primary key: a sender's batch finds it in the session (`preload`).
    place = db.session.get(Place, occurrence.place_id) if occurrence.place_id is not None else None
    places = {place.id: place} if place is not None else {}
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
    assert delivery.recurrence_start is not None  # every delivery about an event names its date
    occurrence = occurrence_of(event, delivery.recurrence_start)
    if occurrence is None:
        raise Skip("Cette occurrence n'existe plus.")
    return event, occurrence


class _ReadByOthers:
    """An event as a reader outside its organising partners reads it in a message and its
    attachment: `title_for`'s title, no description (they may name a young person)."""

    def __init__(self, event: Event):
        self._event = event
        self.title = title_for(event, None)
        self.description = PARTNERS_ONLY_DETAIL

    def __getattr__(self, name: str):
        return getattr(self._event, name)


def hides_title(event: Event, reader_partner_id: int | None) -> bool:
    return title_for(event, reader_partner_id) != event.title


def as_read_by(event: Event, delivery: Delivery) -> Event:
    """The event as the delivery's reader (of `delivery.partner_id`) may read it."""
    return cast(Event, _ReadByOthers(event)) if hides_title(event, delivery.partner_id) else event


def render_reminder(delivery: Delivery, now: datetime) -> Message:
    event, occurrence = _event_and_occurrence(delivery)
    event = as_read_by(event, delivery)
    if occurrence.is_cancelled or event.status == "cancelled":
        raise Skip("Occurrence annulée : pas de rappel.")
    if occurrence.starts_at <= epoch(now):
        raise Skip("Trop tard : l'occurrence a commencé.")
    start = occurrence.start
    today = now.astimezone(start.tzinfo).date()
    when = {0: "aujourd'hui", 1: "demain"}.get((start.date() - today).days, f"le {french_date(start.date())}")
    return Message(
        subject=f"Rappel : {event.title}, {when} à {french_time(start)}",
        paragraphs=[(f"Pour rappel, « {event.title} » ({event.kind_label.lower()}) a lieu {when} "
                    f"à {french_time(start)}.")],
        facts=_occurrence_facts(event, occurrence),
        links=[("Voir l'événement", f"{_base_url()}/evenements/{event.id}")],
        ics=_attachment(event, occurrence, delivery.subscription_id is not None),
        data=_occurrence_data(event, occurrence))


def render_change(delivery: Delivery, now: datetime) -> Message:
    event, occurrence = _event_and_occurrence(delivery)
    event = as_read_by(event, delivery)
    assert delivery.recurrence_start is not None  # checked by _event_and_occurrence
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
        assert before is not None  # a changed date has a side before, after, or both
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
    # A partners-only event's title only for its organisers' people (scheduler.french.title_for);
    # a delivery recorded before the payload said who they are keeps what it said.
    hidden = p.get("visibility", "public") != "public" and delivery.partner_id not in p.get("organiser_ids", ())
    title = partners_only_title(p["kind_label"], p["organisers"]) if hidden else p["title"]
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
    paragraphs = [f"« {title} » ({p['kind_label'].lower()}) {happened}.{concerned}"]
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
        ics = build_feed(FeedSpec("event", str(event.id), private=delivery.subscription_id is None,
                                  for_person=hidden, own_partner_id=delivery.partner_id),
                         now.date(), _base_url(), current_app.config["DEFAULT_TIMEZONE"])
    links = ([("Voir l'événement", f"{_base_url()}/evenements/{delivery.event_id}")] if event is not None
             else [("Le calendrier du lieu", f"{_base_url()}/lieux/{p['place']}")])
    return Message(
        subject=f"{word} : {title}, {when}", paragraphs=paragraphs, facts=facts, items=items, links=links,
        ics=ics, ics_note="L'événement, tel qu'il est désormais, est joint à ce message (evenement.ics) : "
                          "ouvrez-le pour mettre votre agenda à jour.",
        data={"event": {"id": delivery.event_id, "uid": p["uid"], "title": title},
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
                f"{french_time(occurrence.end)} : {title_for(event, delivery.partner_id)}")
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
    model = {"quartier": Quartier, "place": Place, "event": Event}[subscription.target_type]
    target = db.session.get(model, subscription.target_id)
    if target is None:
        return "cet élément"
    name = getattr(target, "name", None) or getattr(target, "title", "")
    return {"quartier": f"quartier {name}", "place": f"lieu {name}", "event": f"« {name} »"}[subscription.target_type]


def render(delivery: Delivery, now: datetime, cache: dict | None = None) -> Message:
    """The message of a delivery. The same reminder to a thousand advisers is rendered once per
    run (`cache`): only the address and the unsubscribe link differ."""
    subscription = None
    if delivery.kind != "subscription_confirm":
        subscription = _subscription(delivery)
    # Who reads it: a partners-only title is written only for its organisers' people.
    if delivery.kind in ("reminder", "occurrence_cancelled", "occurrence_moved") and delivery.event_id:
        event = db.session.get(Event, delivery.event_id)
        reader: object = event is not None and hides_title(event, delivery.partner_id)
    else:
        reader = delivery.partner_id
    key = (delivery.kind, delivery.event_id, delivery.recurrence_start, subscription is not None, reader,
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


def preload(deliveries: list[Delivery]) -> list:
    """Reads, in a few statements, what rendering these deliveries asks the session for by
    primary key (a digest's parts; events with their organisers, people, exceptions and place;
    the places occurrences moved to; subscriptions), so that `render` finds it in the session
    instead of a round trip each. The caller keeps the transaction open while it renders, and
    what this returns: the session holds its objects only as long as someone else does."""
    parts = _by_id(Delivery, {i for d in deliveries if d.kind == "notice_digest" for i in d.payload.get("parts", [])})
    every = [*deliveries, *parts]
    events = _by_id(Event, {d.event_id for d in every if d.event_id is not None},
                    selectinload(Event.organisers), selectinload(Event.people), selectinload(Event.exceptions),
                    selectinload(Event.place))
    moved_to = {x.place_id for e in events for x in e.exceptions if x.place_id is not None}
    return [*parts, *events, *_by_id(Place, moved_to - {e.place_id for e in events}),
            *_by_id(Subscription, {d.subscription_id for d in every if d.subscription_id is not None})]


def _by_id(model, ids: set, *options) -> list:
    found: list = []
    ordered = sorted(ids)
    for i in range(0, len(ordered), 1000):
        found += db.session.scalars(sa.select(model).where(model.id.in_(ordered[i:i + 1000])).options(*options))
    return found


def email_of(delivery: Delivery, message: Message):
    context = {"message": message}
    headers = {"X-Maillage-Delivery": delivery.key[:200]}
    if message.unsubscribe_url:
        # RFC 8058: mail clients show a one-click "unsubscribe" that POSTs to this address.
        headers["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    attachments = [("evenement.ics", "text/calendar", message.ics)] if message.ics else []
    attachments += [(name, "text/calendar", body) for name, body in message.more_ics]
    return build_message(to=delivery.recipient, subject=message.subject,
                         text=render_template("mail/message.txt", **context),
                         html=render_template("mail/message.html", **context),
                         headers=headers, attachments=attachments)


# --- conflicts: the notices the engine records, and the coordinators' morning digest ------------

CHANGE_WORDS = {"opened": "signalé", "reopened": "rouvert", "accepted": "accepté", "resolved": "résolu",
                "closed": "clos (il n'est plus vrai)"}

def case_link(case_id: int, recipient: str) -> str:
    """The case's page, opened for `recipient` by a signed link (no account needed)."""
    token = case_link_token(case_id, recipient, current_app.config["SECRET_KEY"])
    return f"{_base_url()}/coordination/cas/{case_id}?jeton={token}"


def _change_facts(change: dict, reader_partner_id: int | None) -> dict | None:
    """What a message says of one case change to a reader of that partner: written in the change
    when the case went with its event, else read now (None: gone)."""
    if change.get("facts") is not None:
        return change["facts"]
    if change.get("case_id") is not None:
        case = db.session.get(ConflictCase, change["case_id"])
        return case_facts(case, reader_partner_id) if case is not None else None
    conflict = db.session.get(ScheduleConflict, change.get("conflict_id") or 0)  # a notice from before cases
    facts = conflict_facts(conflict, reader_partner_id) if conflict is not None else None
    return facts and {**facts, "dates": ""}


def render_conflict_change(delivery: Delivery, now: datetime) -> Message:
    """A webhook's event: one case change."""
    facts = _change_facts(delivery.payload, delivery.partner_id)
    if facts is None:
        raise Skip("Chevauchement supprimé avec son événement.")
    change = delivery.payload.get("change", "opened")
    paragraphs = [f"Un chevauchement vous concernant est {CHANGE_WORDS.get(change, change)} :",
                  facts["description"] + (f", {facts['dates']}" if facts.get("dates") else "")]
    if delivery.payload.get("note"):
        paragraphs.append(delivery.payload["note"])
    if facts["reason"] and change in ("accepted", "resolved"):
        paragraphs.append(f"Motif : {facts['reason']}")
    return Message(
        subject=f"Chevauchement {CHANGE_WORDS.get(change, change).split(' ')[0]} : {facts['kind_label']}",
        paragraphs=paragraphs, links=[("Voir les chevauchements", f"{_base_url()}/coordination/")],
        data={"case" if delivery.payload.get("case_id") else "conflict": {**facts["data"], "change": change}})


DIGEST_HEADINGS = {"opened": "Nouveau", "reopened": "Rouvert", "resolved": "Résolu", "closed": "Clos"}
DIGEST_COUNTED = {"opened": ("nouveau", "nouveaux"), "reopened": ("rouvert", "rouverts"),
                  "resolved": ("résolu", "résolus"), "closed": ("clos", "clos")}


def render_conflict_digest(delivery: Delivery, now: datetime) -> Message:
    """Every case change pending for one address, in one message: what changed, its dates in a
    few words, and the case's page."""
    counts: dict[str, int] = {}
    items, links = [], []
    for change in delivery.payload.get("changes", []):
        facts = _change_facts(change, delivery.partner_id)
        if facts is None:
            continue
        what = change.get("change", "opened")
        counts[what] = counts.get(what, 0) + 1
        line = f"{DIGEST_HEADINGS.get(what, what)} — {facts['description']}"
        if facts.get("dates"):
            line += f" : {facts['dates']}"
        if change.get("note"):
            line += f". {change['note']}"
        elif facts.get("reason") and what == "resolved":
            line += f". Motif : {facts['reason']}"
        items.append(line)
        if change.get("case_id") is not None and change.get("facts") is None:
            links.append((f"Chevauchement n° {change['case_id']} ({DIGEST_HEADINGS.get(what, what).lower()})",
                          case_link(change["case_id"], delivery.recipient)))
    if not items:
        raise Skip("Chevauchements supprimés avec leurs événements.")
    summary = ", ".join(f"{n} {DIGEST_COUNTED[k][n > 1]}" for k, n in counts.items() if k in DIGEST_COUNTED)
    return Message(
        subject=f"Chevauchements : {summary}",
        paragraphs=["Les chevauchements qui vous concernent ont changé :"],
        items=items, links=links[:50] + [("Tous les chevauchements", f"{_base_url()}/coordination/")],
        data={"changes": delivery.payload.get("changes", [])})


def render_daily_digest(delivery: Delivery, now: datetime) -> Message:
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
        paragraphs=[(f"Dans votre territoire, {len(open_ones)} chevauchement(s) restent ouverts, "
                    f"dont {len(new)} apparu(s) depuis hier.")],
        items=items, links=[("Les traiter dans la vue de coordination", f"{_base_url()}/coordination/")],
        data={"open": len(open_ones), "new": len(new)})


def render_notice_digest(delivery: Delivery, now: datetime) -> Message:
    """What one run tells one address (`group_pending_notices`): reminders, notices, digests and
    questions, one section each; each part's calendar attached (evenement-1.ics, …)."""
    # By primary key: a sender's batch finds them in the session (`preload`).
    parts = [d for d in (db.session.get(Delivery, i) for i in sorted(delivery.payload.get("parts", [])))
             if d is not None]
    paragraphs: list[str] = []
    links: list[tuple[str, str]] = []
    subjects = []
    data = []
    calendars: list[bytes] = []
    single: Message | None = None
    for part in parts:
        try:
            message = RENDERERS[part.kind](part, now)
        except Skip:
            continue
        single = message
        subjects.append(message.subject)
        paragraphs += [f"— {message.subject} —", *message.paragraphs,
                       *(f"{label} : {value}" for label, value in message.facts),
                       *(f"• {item}" for item in message.items)]
        links += [link for link in message.links if link not in links]
        data.append({"kind": part.kind, **message.data})
        if message.ics:
            calendars.append(message.ics)
    if single is None:
        raise Skip("Plus rien à dire : les avis regroupés sont devenus sans objet.")
    if len(subjects) == 1:
        return single
    return Message(subject=f"Maillage : {len(subjects)} avis vous concernent", paragraphs=paragraphs,
                   links=links, data={"parts": data},
                   ics=calendars[0] if len(calendars) == 1 else None,
                   ics_note=("L'événement d'un des avis est joint à ce message (evenement.ics)." if len(calendars) == 1
                             else f"Les {len(calendars)} événements de ces avis sont joints à ce message "
                                  "(evenement-1.ics, …) : ouvrez-les pour les ajouter à votre agenda."),
                   more_ics=[(f"evenement-{n}.ics", body) for n, body in enumerate(calendars, start=1)]
                   if len(calendars) > 1 else [])


def attendance_link(event_id: int, recurrence_start: datetime, partner_id: int, recipient: str) -> str:
    """The one-click link of the next-morning question: its small form, no account needed."""
    token = attendance_link_token(event_id, recurrence_start, partner_id, recipient, current_app.config["SECRET_KEY"])
    return f"{_base_url()}/coordination/personnes-recues/{event_id}/{iso_z(recurrence_start)}?jeton={token}"


def render_attendance_request(delivery: Delivery, now: datetime) -> Message:
    """The morning after: how many people came? Not asked again once someone has answered."""
    event, occurrence = _event_and_occurrence(delivery)
    assert delivery.recurrence_start is not None  # checked by _event_and_occurrence
    if occurrence.is_cancelled or event.status == "cancelled":
        raise Skip("Occurrence annulée : personne à compter.")
    if attendance_of(event, delivery.recurrence_start) is not None:
        raise Skip("Les personnes reçues sont déjà notées.")
    start = occurrence.start
    days = (now.astimezone(start.tzinfo).date() - start.date()).days
    when = {0: "aujourd'hui", 1: "hier"}.get(days, f"le {french_date(start.date())}")
    place = db.session.get(Place, occurrence.place_id) if occurrence.place_id else None
    at = f"à « {event.title} »" + (f" ({place.name})" if place else "")
    return Message(
        subject=f"Personnes reçues {when} : {event.title}",
        paragraphs=[f"Combien de personnes avez-vous reçues {when} {at} ?",
                    ("Le lien ci-dessous ouvre un petit formulaire : un nombre suffit, la répartition par tranche "
                     "d'âge est facultative. Maillage ne garde que des nombres, jamais de noms ; ils servent au "
                     "bilan que les partenaires présentent ensemble.")],
        facts=_occurrence_facts(event, occurrence),
        links=[("Noter les personnes reçues", attendance_link(
            event.id, delivery.recurrence_start, delivery.payload["partner_id"], delivery.recipient))],
        data=_occurrence_data(event, occurrence))


# Every kind of delivery and what writes its message (models.deliveries.KINDS).
RENDERERS = {
    "reminder": render_reminder,
    "occurrence_cancelled": render_change,
    "occurrence_moved": render_change,
    "weekly_programme": render_weekly_programme,
    "subscription_confirm": render_confirmation,
    "event_cancelled": render_event_change,
    "event_changed": render_event_change,
    "event_deleted": render_event_change,
    "conflict_opened": render_conflict_change,
    "conflict_resolved": render_conflict_change,
    "conflict_digest": render_conflict_digest,
    "notice_digest": render_notice_digest,
    "daily_digest": render_daily_digest,
    "attendance_request": render_attendance_request,
}
