"""Overlap cases: one kind of overlap between two series, with its dates. Keeping them in step
with their dates (`refresh_cases`, called by every reconciliation of conflicts: the nightly run
and the check after each write), who sees them, the lists, and the decisions taken for a whole
case or one date.

A case speaks for its dates: its status and counts are computed from them, and its changes
(opened, reopened, resolved, closed) are what people are told, once per case and recipient.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from models.actor import Actor
from models.base import db, insert_rows, utcnow
from models.conflicts import ConflictCase, ScheduleConflict, severity_of
from models.errors import Conflict as ConflictError
from models.errors import Forbidden, InvalidInput, NotFound
from models.events import Event, event_organisers
from models.operations.audit import record
from models.operations.conflicts import add_notices, add_notices_in_bulk, can_act_on_conflict, set_status
from models.partners import Partner
from models.territory import Place, Quartier
from models.users import User

CHUNK = 5000  # ids per IN (...): PostgreSQL takes at most 65,535 parameters a statement


def _chunks(ids: Iterable[int]):
    ordered = sorted(ids)
    for i in range(0, len(ordered), CHUNK):
        yield ordered[i:i + CHUNK]


def case_versions(case: ConflictCase) -> str:
    """The versions (iCal SEQUENCE) of both series: a whole-case acceptance holds while they stand."""
    return f"{case.a_event.sequence or 0}:{case.b_event.sequence or 0}"


def attach_cases(conflicts: list[ScheduleConflict], now: datetime) -> None:
    """Gives each conflict without a case its case, creating the cases that do not exist yet."""
    loose = [c for c in conflicts if c.case_id is None]
    if not loose:
        return
    keys = {c.case_identity for c in loose}
    found: dict[tuple, ConflictCase] = {}
    event_ids = {k[1] for k in keys}
    for chunk in _chunks(event_ids):
        for case in db.session.scalars(sa.select(ConflictCase).where(ConflictCase.a_event_id.in_(chunk))):
            if case.identity in keys:
                found[case.identity] = case
    new = [ConflictCase(kind=k[0], severity=severity_of(k[0]), status="new", a_event_id=k[1], b_event_id=k[2],
                        open_count=0, accepted_count=0, ended_count=0, reason="", opened_at=now, updated_at=now)
           for k in keys - found.keys()]
    if new:
        db.session.add_all(new)
        db.session.flush()
        found.update((c.identity, c) for c in new)
    for c in loose:
        c.case_id = found[c.case_identity].id


def _accept_new_dates(cases: dict[int, ConflictCase], conflicts: list[ScheduleConflict], now: datetime) -> None:
    """A case accepted whole accepts the dates the rules add later, while neither series has
    changed since; once one has, the acceptance lapses and its new dates stay open."""
    accepted = {i: c for i, c in cases.items() if c.accepted_versions is not None}
    if not accepted:
        return
    holding = set()
    for case_id, case in accepted.items():
        if case.accepted_versions == case_versions(case):
            holding.add(case_id)
        else:
            case.accepted_versions = None
    for c in conflicts:
        if c.case_id in holding and c.status == "open" and c.ends_at > now:
            case = cases[c.case_id]
            c.accepted_signature = c.signature
            c.decided_by_id = case.decided_by_id
            set_status(None, c, "accepted", "accept", case.reason)


def _change_told(before: str, after: str) -> str | None:
    """What people hear of a case moving from `before` to `after` (None: nothing)."""
    if after == "open":
        return "opened" if before == "new" else ("reopened" if before != "open" else None)
    if after in ("resolved", "closed") and before in ("open", "accepted"):
        return after
    return None


def refresh_cases(conflicts: Iterable[ScheduleConflict], actor: Actor | None = None,
                  resolved: Iterable[ScheduleConflict] = (), now: datetime | None = None) -> list[ConflictCase]:
    """Keeps the cases of these conflicts (just reconciled, flushed) in step with their dates:
    attaches new dates to their case, applies a whole-case acceptance to them, recomputes each
    case's counts and status, and records the notices of the cases whose status changed.
    `resolved`: the dates an action has just resolved (their case is then resolved, not closed)."""
    conflicts = list(conflicts)
    if not conflicts:
        return []
    now = now or utcnow()
    attach_cases(conflicts, now)
    case_ids = {c.case_id for c in conflicts if c.case_id is not None}
    cases: dict[int, ConflictCase] = {}
    for chunk in _chunks(case_ids):
        cases.update((c.id, c) for c in db.session.scalars(sa.select(ConflictCase).where(ConflictCase.id.in_(chunk))))
    _accept_new_dates(cases, conflicts, now)
    db.session.flush()
    recount(cases, now, {c.case_id for c in resolved if c.case_id is not None}, actor)
    return list(cases.values())


def _date_counts(case_ids: Iterable[int], now: datetime) -> dict[int, dict]:
    """Each case's counts from its dates (a case without any: zeros). A date over is neither open
    nor accepted any more: it counts as ended."""
    counts: dict[int, dict] = {i: {"open": 0, "accepted": 0, "ended": 0, "first": None, "last": None, "next": None}
                               for i in case_ids}
    to_come = ScheduleConflict.ends_at > now
    status = ScheduleConflict.status
    for chunk in _chunks(counts):
        rows = db.session.execute(
            sa.select(ScheduleConflict.case_id,
                      sa.func.sum(sa.case((sa.and_(status == "open", to_come), 1), else_=0)),
                      sa.func.sum(sa.case((sa.and_(status == "accepted", to_come), 1), else_=0)),
                      sa.func.count(), sa.func.min(ScheduleConflict.starts_at), sa.func.max(ScheduleConflict.ends_at),
                      sa.func.min(sa.case((sa.and_(status.in_(["open", "accepted"]), to_come),
                                           ScheduleConflict.starts_at))))
            .where(ScheduleConflict.case_id.in_(chunk)).group_by(ScheduleConflict.case_id))
        for case_id, open_, accepted, total, first, last, next_live in rows:
            counts[case_id] = {"open": int(open_ or 0), "accepted": int(accepted or 0),
                               "ended": total - int(open_ or 0) - int(accepted or 0),
                               "first": first, "last": last, "next": next_live}
    return counts


def _status_after(before: str, seen: dict, resolved: bool) -> str:
    """A case's status from its counts: open while a date is, else accepted while one is, else
    resolved (an action just ended it), else as it was if already over, else closed."""
    if seen["open"]:
        return "open"
    if seen["accepted"]:
        return "accepted"
    if resolved:
        return "resolved"
    return before if before in ("resolved", "closed") else "closed"


def recount(cases: dict[int, ConflictCase], now: datetime, resolved_case_ids: frozenset[int] | set[int] = frozenset(),
            actor=None) -> None:
    """Each case's counts and status from its dates, and the notices of those whose status changed."""
    counts = _date_counts(cases, now)
    coordinators = None
    for case_id, case in cases.items():
        seen = counts[case_id]
        case.open_count, case.accepted_count, case.ended_count = seen["open"], seen["accepted"], seen["ended"]
        case.first_starts_at, case.last_ends_at, case.next_starts_at = seen["first"], seen["last"], seen["next"]
        before = case.status
        after = _status_after(before, seen, case_id in resolved_case_ids)
        if after == before:
            continue
        case.status = after
        case.updated_at = now
        if after in ("resolved", "closed"):
            case.closed_at = now
        elif after == "open":
            case.closed_at = None
        change = _change_told(before, after)
        if change is not None:
            if coordinators is None:
                coordinators = _coordinators()
            add_notices(case, change, coordinators)
    db.session.flush()


# What `recount` sets, as columns: (counts key, column).
_COUNT_COLUMNS = (("open", "open_count"), ("accepted", "accepted_count"), ("ended", "ended_count"),
                  ("first", "first_starts_at"), ("last", "last_ends_at"), ("next", "next_starts_at"))


def recount_in_bulk(case_ids: Iterable[int], now: datetime) -> None:
    """`recount` for cases not loaded as objects (the nightly run: thousands a batch), with the
    same results: the cases whose counts or status change are updated in one statement sent many
    times, the notices of those whose status changed inserted in bulk. Nothing else is loaded."""
    counts = _date_counts(case_ids, now)
    table = cast(sa.Table, ConflictCase.__table__)
    k = table.c
    updates, told = [], []
    for chunk in _chunks(counts):
        for row in db.session.execute(sa.select(k.id, k.status, k.a_event_id, k.b_event_id, k.closed_at,
                                                k.updated_at, *(k[c] for _, c in _COUNT_COLUMNS))
                                      .where(k.id.in_(chunk))):
            values, change = _recounted(row.status, row.closed_at, row.updated_at, counts[row.id], now)
            if change is not None:
                told.append((row.id, row.a_event_id, row.b_event_id, change))
            if any(values[c] != getattr(row, c) for c in values):
                updates.append({"_id": row.id, **values})
    if updates:
        db.session.execute(sa.update(table).where(k.id == sa.bindparam("_id")), updates)
    add_notices_in_bulk(told, _coordinators)


def new_cases_in_bulk(cases: dict[tuple[str, int, int], list[tuple[datetime, datetime]]], now: datetime) -> list[int]:
    """Creates these cases (identity -> the (start, end) of its dates, open, about to be stored)
    already counted, as `recount` would leave them once their dates are stored, with the notices
    of their opening: no second pass over their dates. Returns their ids, in order."""
    rows, told = [], []
    for (kind, a, b), dates in cases.items():
        to_come = [start for start, end in dates if end > now]
        seen = {"open": len(to_come), "accepted": 0, "ended": len(dates) - len(to_come),
                "first": min(start for start, _ in dates), "last": max(end for _, end in dates),
                "next": min(to_come, default=None)}
        values, change = _recounted("new", None, now, seen, now)
        rows.append({"kind": kind, "severity": severity_of(kind), "a_event_id": a, "b_event_id": b, "reason": "",
                     "opened_at": now, **values})
        told.append((a, b, change))
    ids = insert_rows(cast(sa.Table, ConflictCase.__table__), rows)
    add_notices_in_bulk([(i, a, b, change) for i, (a, b, change) in zip(ids, told, strict=True) if change is not None],
                        _coordinators)
    return ids


def _recounted(before: str, closed_at: datetime | None, updated_at: datetime, seen: dict,
               now: datetime) -> tuple[dict, str | None]:
    """The columns `recount` gives a case from its counts, and what people are told (None: nothing)."""
    values = {column: seen[key] for key, column in _COUNT_COLUMNS}
    after = _status_after(before, seen, False)
    values.update(status=after, closed_at=closed_at, updated_at=updated_at)
    if after == before:
        return values, None
    values["updated_at"] = now
    if after in ("resolved", "closed"):
        values["closed_at"] = now
    elif after == "open":
        values["closed_at"] = None
    return values, _change_told(before, after)


def _coordinators() -> list:
    return list(db.session.scalars(sa.select(User).where(
        User.role == "coordinator", User.is_active_account.is_(True)).options(selectinload(User.quartiers))))


# --- who sees a case, and the lists -----------------------------------------------------------

def can_see_case(user, case: ConflictCase) -> bool:
    """Coordinators: either series in their territory. Editors: their partner organises one."""
    if user.is_coordinator:
        return any(e.place is not None and user.covers_place(e.place) for e in case.events)
    return user.partner_id is not None and any(p.id == user.partner_id for e in case.events for p in e.organisers)


def case_for(user, case_id: int) -> ConflictCase:
    case = db.session.get(ConflictCase, case_id)
    if case is None or not can_see_case(user, case):
        raise NotFound(f"Chevauchement inconnu : {case_id}.")
    return case


def cases_query(user, status: str | None = None, kind: str | None = None, quartier: str | None = None,
                partner: str | None = None, start: datetime | None = None, end: datetime | None = None) -> sa.Select:
    """The cases this user may see, filtered as the conflicts are; hard first, then by next date.
    Both series of each case (place, organisers) come with it: every list shows them.

    The cases table alone answers a national list and its count (an index for the order); the
    territory and the quartier are sets of series asked once, not joins of every case to both
    series and their places (at national scale the count joined 4 tables for each page)."""
    q = sa.select(ConflictCase)
    if user.is_coordinator:
        territory = user.territory_quartier_ids
        if territory:
            # A place in no quartier is national (User.covers_place): either series in the territory.
            q = q.where(_either_series(_series_in(territory)))
    else:
        q = q.where(_organised_by(user.partner_id or -1))
    if status:
        q = q.where(ConflictCase.status == status)
    if kind:
        q = q.where(ConflictCase.kind == kind)
    if quartier:
        q = q.where(_either_series(_series_in(sa.select(Quartier.id).where(Quartier.code == quartier))))
    if partner:
        ids = sa.select(Partner.id).where(Partner.slug == partner).scalar_subquery()
        q = q.where(_organised_by(ids))
    if start is not None:
        q = q.where(ConflictCase.last_ends_at > start)
    if end is not None:
        q = q.where(ConflictCase.first_starts_at < end)
    series = [selectinload(side).options(selectinload(Event.place), selectinload(Event.organisers))
              for side in (ConflictCase.a_event, ConflictCase.b_event)]
    # "hard" sorts before "warning" (SEVERITIES): the column itself, so that ix_conflict_cases_listing
    # gives the first page without sorting every open case.
    return q.options(*series).order_by(ConflictCase.severity, ConflictCase.next_starts_at,
                                       ConflictCase.first_starts_at, ConflictCase.id)


def _series_in(quartier_ids) -> sa.Select:
    """The series at a place of these quartiers (ids, or a select of them)."""
    return sa.select(Event.id).join(Place, Event.place_id == Place.id).where(Place.quartier_id.in_(quartier_ids))


def _either_series(event_ids: sa.Select):
    return sa.or_(ConflictCase.a_event_id.in_(event_ids), ConflictCase.b_event_id.in_(event_ids))


def _organised_by(partner_id):
    return _either_series(sa.select(event_organisers.c.event_id).where(event_organisers.c.partner_id == partner_id))


def dates_of(case: ConflictCase) -> list[ScheduleConflict]:
    """A case's dates, in order."""
    return list(db.session.scalars(sa.select(ScheduleConflict).where(ScheduleConflict.case_id == case.id)
                                   .order_by(ScheduleConflict.starts_at, ScheduleConflict.id)))


# --- decisions ----------------------------------------------------------------------------------

def _reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise InvalidInput("Indiquez pourquoi ce chevauchement est accepté.",
                           {"reason": ["Indiquez pourquoi ce chevauchement est accepté."]})
    if len(reason) > 2000:
        raise InvalidInput("La raison dépasse 2 000 caractères.", {"reason": ["2 000 caractères au plus."]})
    return reason


def accept_case(actor: Actor, case: ConflictCase, reason: str, now: datetime | None = None) -> ConflictCase:
    """Accepts every open date to come of the case with one reason; the dates the rules add later
    are accepted too, until either series changes."""
    if not can_see_case(actor, case):
        raise Forbidden("Ce chevauchement ne concerne pas votre structure ni votre territoire.")
    reason = _reason(reason)
    now = now or utcnow()
    dates = [c for c in dates_of(case) if c.status == "open" and c.ends_at > now]
    if not dates and case.status != "open":
        raise ConflictError(f"Ce chevauchement n'est pas ouvert (statut : {case.status_label.lower()}).")
    for c in dates:
        c.accepted_signature = c.signature
        set_status(actor, c, "accepted", "accept", reason)
    case.reason = reason
    case.accepted_versions = case_versions(case)
    case.decided_by_id = getattr(actor, "id", None)
    case.decided_at = now
    record(actor, "accept", case, {"status": [case.status, "accepted"], "reason": [None, reason],
                                   "dates": [None, len(dates)]})
    db.session.flush()
    recount({case.id: case}, now, actor=actor)
    return case


def accept_conflict(actor: Actor, conflict: ScheduleConflict, reason: str) -> ScheduleConflict:
    """Accepts one date (the conflict of one occurrence pair), and its case follows."""
    if not can_act_on_conflict(actor, conflict):
        raise Forbidden("Ce chevauchement ne concerne pas votre structure ni votre territoire.")
    reason = _reason(reason)
    if conflict.status != "open":
        raise ConflictError(f"Ce chevauchement n'est pas ouvert (statut : {conflict.status_label.lower()}).")
    conflict.accepted_signature = conflict.signature
    set_status(actor, conflict, "accepted", "accept", reason)
    db.session.flush()
    if conflict.case is not None:
        recount({conflict.case.id: conflict.case}, utcnow(), actor=actor)
    return conflict


def accept_date(actor: Actor, case: ConflictCase, conflict_id: int, reason: str) -> ScheduleConflict:
    """Accepts one date of the case."""
    conflict = db.session.get(ScheduleConflict, conflict_id)
    if conflict is None or conflict.case_id != case.id:
        raise NotFound(f"Cette date n'appartient pas à ce chevauchement : {conflict_id}.")
    return accept_conflict(actor, conflict, reason)


# --- the link a notice gives: the case's page, for the one it was sent to -----------------------
# A partner's contact address may have no account: the digest's link opens the case's page
# read-only for that address (signed with SECRET_KEY; its fallbacks keep older links working).

def case_link_token(case_id: int, recipient: str, secret_key: str) -> str:
    who = base64.urlsafe_b64encode(recipient.lower().encode()).rstrip(b"=").decode()
    mac = hmac.new(secret_key.encode(), f"case:{case_id}:{recipient.lower()}".encode(), hashlib.sha256).digest()
    return f"{who}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def case_link_recipient(case_id: int, token: str, secret_keys: Iterable[str]) -> str | None:
    """The address a case link was sent to, if the token is one of ours for this case."""
    who, dot, _ = (token or "").partition(".")
    if not dot or len(token) > 600:
        return None
    try:
        recipient = base64.urlsafe_b64decode(who + "=" * (-len(who) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if any(hmac.compare_digest(case_link_token(case_id, recipient, key), token) for key in secret_keys):
        return recipient
    return None
