"""Recording how many people came to an occurrence: by its organisers and their coordinators,
once it has started, counts only (a total, optionally split by age band)."""
from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from models import Attendance, Event, db, utcnow
from models.actor import Actor
from models.attendance import AGE_BANDS, MAX_PEOPLE
from models.errors import Forbidden, InvalidInput, NotFound
from models.events import EVENT_KINDS
from models.operations.audit import apply_changes, record
from scheduler.time.recurrence import epoch, gives_occurrence, rule_of

# Where partners receive people (asked the next morning, listed in /coordination/personnes-recues);
# not their own meetings, nor what "other" may be.
ATTENDANCE_KINDS = tuple(k for k in EVENT_KINDS if k not in ("coordination", "other"))
NOT_ORGANISER = ("Seuls les partenaires qui organisent cette occurrence, et leurs coordinateurs, "
                 "notent les personnes reçues.")


def occurrence_facts(event: Event, recurrence_start: datetime) -> tuple[int, bool]:
    """(its real start as epoch seconds, whether it is cancelled) of an occurrence the rule gives;
    NotFound otherwise."""
    if recurrence_start.tzinfo is None:
        raise InvalidInput.on("recurrence_id", "Indiquez l'heure de l'occurrence avec son décalage (ISO 8601).")
    rule = rule_of(event)
    rec = epoch(recurrence_start)
    if not gives_occurrence(rule, rec):
        raise NotFound("Cet événement n'a pas d'occurrence à cette date et cette heure.")
    spec = rule.exceptions.get(rec)
    starts = spec.starts_at if spec is not None and spec.starts_at is not None else rec
    return starts, rule.is_cancelled or (spec is not None and spec.is_cancelled)


def check_counts(total, by_age_band: dict | None) -> dict[str, int] | None:
    if not isinstance(total, int) or isinstance(total, bool) or not 0 <= total <= MAX_PEOPLE:
        raise InvalidInput.on("total", f"Un nombre de personnes entre 0 et {MAX_PEOPLE} est attendu.")
    if not by_age_band:
        return None
    unknown = [band for band in by_age_band if band not in AGE_BANDS]
    if unknown:
        raise InvalidInput.on("by_age_band", f"Tranche d'âge inconnue : {unknown[0]} ; tranches possibles : "
                                             f"{', '.join(AGE_BANDS)}.")
    if any(not isinstance(n, int) or isinstance(n, bool) or n < 0 for n in by_age_band.values()):
        raise InvalidInput.on("by_age_band", "Chaque tranche d'âge compte un nombre entier positif ou nul.")
    if sum(by_age_band.values()) > total:
        raise InvalidInput.on("by_age_band", "Les tranches d'âge comptent plus de personnes que le total.")
    return {band: by_age_band[band] for band in AGE_BANDS if by_age_band.get(band)}


def attendance_of(event: Event, recurrence_start: datetime) -> Attendance | None:
    return db.session.scalar(sa.select(Attendance).where(Attendance.event_id == event.id,
                                                         Attendance.recurrence_start == recurrence_start))


def record_attendance(actor: Actor, event: Event, recurrence_start: datetime, total, by_age_band=None,
                      now: datetime | None = None) -> Attendance:
    """Sets the count of one occurrence (again, if it was set): nothing written on bad input.
    A `LinkActor` (the next-morning message's link) is audited with the address it was sent to."""
    actor.require(actor.can_edit_event(event), NOT_ORGANISER)
    recurrence_start = recurrence_start.astimezone(UTC)
    starts, cancelled = occurrence_facts(event, recurrence_start)
    if cancelled:
        raise InvalidInput("Cette occurrence a été annulée : personne n'y a été reçu.")
    if starts > epoch(now or utcnow()):
        raise InvalidInput("Cette occurrence n'a pas encore eu lieu : notez les personnes reçues après.")
    bands = check_counts(total, by_age_band)
    attendance = attendance_of(event, recurrence_start)
    if attendance is None:
        attendance = Attendance(event_id=event.id, recurrence_start=recurrence_start, total=total)
        db.session.add(attendance)
        changes = {"total": [None, total], "by_age_band": [None, bands]}
        attendance.by_age_band = bands
    else:
        changes = apply_changes(attendance, {"total": total, "by_age_band": bands})
    attendance.recorded_by_id = actor.id
    attendance.updated_at = utcnow()
    db.session.flush()
    if isinstance(actor, LinkActor):
        changes["by_link_to"] = [None, actor.recipient]
    record(actor, "record_attendance", event, {"recurrence_start": [recurrence_start, recurrence_start], **changes})
    return attendance


def carry_attendance(event: Event, new_keys: dict[int, int | None]) -> None:
    """Re-keys the counts of a series whose rule changed (`new_keys` from `carried_over`: old
    instant -> new instant, None when the new rule has no occurrence that date). A count whose
    date is gone keeps its key: people were received that day, the review still counts them."""
    rows = list(db.session.scalars(sa.select(Attendance).where(Attendance.event_id == event.id)))
    kept = {epoch(a.recurrence_start) for a in rows if new_keys.get(epoch(a.recurrence_start)) is None}
    moves = [(a, key) for a in rows if (key := new_keys.get(epoch(a.recurrence_start))) is not None
             and key != epoch(a.recurrence_start) and key not in kept]
    if not moves:
        return
    # (event, recurrence_start) is unique: when keys shift into one another, each steps aside first.
    for i, (a, _) in enumerate(moves):
        a.recurrence_start = datetime(1, 1, 1, tzinfo=UTC).replace(microsecond=i)
    db.session.flush()
    for a, key in moves:
        a.recurrence_start = datetime.fromtimestamp(key, UTC)
    db.session.flush()


def hand_over_attendance(event: Event, second: Event, first_day) -> None:
    """A split ("this date and the following ones"): the counts of `first_day` and after go to the
    new series with their occurrences, as the exceptions do."""
    zone = ZoneInfo(event.timezone)
    for a in db.session.scalars(sa.select(Attendance).where(Attendance.event_id == event.id)):
        if a.recurrence_start.astimezone(zone).date() >= first_day:
            a.event_id = second.id
    db.session.flush()


def attendance_keys(event: Event) -> list[int]:
    """The recurrence instants (epoch seconds) of the counts of a series."""
    return [epoch(start) for start in db.session.scalars(
        sa.select(Attendance.recurrence_start).where(Attendance.event_id == event.id))]


def iso_z(instant: datetime) -> str:
    """An occurrence's identity in a path, as the occurrences give it (2027-05-03T12:00:00Z)."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def recurrence_instant(text: str) -> datetime:
    """The occurrence an `iso_z` path names; NotFound when it names none."""
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise NotFound("Identifiant d'occurrence attendu : l'instant UTC de l'occurrence "
                       "(recurrence_id des occurrences, par exemple 2027-05-03T12:00:00Z).") from None
    if instant.tzinfo is None:
        raise NotFound("Identifiant d'occurrence sans décalage horaire : ajoutez Z (UTC).")
    return instant


# --- the next-morning message's link ---------------------------------------------------------

def attendance_link_token(event_id: int, recurrence_start: datetime, partner_id: int, recipient: str,
                          secret_key: str) -> str:
    """The token of a next-morning link: one occurrence, one organiser partner, one address (a
    partner's contact address may have no account). `partner.address.mac`."""
    recipient = recipient.lower()
    who = base64.urlsafe_b64encode(recipient.encode()).rstrip(b"=").decode()
    signed = f"attendance:{event_id}:{epoch(recurrence_start)}:{partner_id}:{recipient}"
    mac = hmac.new(secret_key.encode(), signed.encode(), hashlib.sha256).digest()
    return f"{partner_id}.{who}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


class LinkActor:
    """Who records through a next-morning link: the organiser partner the message was sent for,
    audited with no user and the address the link went to."""

    id: int | None = None
    is_coordinator = False

    def __init__(self, partner_id: int, recipient: str):
        self.partner_id = partner_id
        self.recipient = recipient
        self.quartiers: list = []

    def can_edit_event(self, event) -> bool:
        # Checked again at each use: a partner no longer organising the series loses its links.
        return any(p.id == self.partner_id for p in event.organisers)

    def can_edit_place(self, place) -> bool:
        return False

    def can_edit_partner(self, partner) -> bool:
        return False

    def require(self, allowed: bool, message: str = NOT_ORGANISER) -> None:
        if not allowed:
            raise Forbidden(message)


def link_actor(event: Event, recurrence_start: datetime, token: str, secret_keys: Iterable[str]) -> LinkActor | None:
    """The actor of a next-morning link if `token` is one of ours for this occurrence (any of the
    keys: SECRET_KEY, then SECRET_KEY_FALLBACKS), else None."""
    partner, dot, rest = (token or "").partition(".")
    who, dot2, _ = rest.partition(".")
    if not (dot and dot2 and partner.isdigit()) or len(token) > 700:
        return None
    try:
        recipient = base64.urlsafe_b64decode(who + "=" * (-len(who) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    partner_id = int(partner)
    if any(hmac.compare_digest(attendance_link_token(event.id, recurrence_start, partner_id, recipient, key), token)
           for key in secret_keys):
        return LinkActor(partner_id, recipient)
    return None
