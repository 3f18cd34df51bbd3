"""Sync: calendars partners publish elsewhere (an .ics address), fetched by the clock with a
conditional GET and applied as an import would be. The calendar is the truth for what it
brought: an event it no longer holds is deleted; what was typed in Maillage is never touched.

Every run records its result on the source (shown in the web view): "ok" with what changed,
"unchanged" (304, or the same content), or "error" with the message; a failed run changes no
event. Safe to run twice and to be killed halfway: each source is one transaction.
"""
from __future__ import annotations

import http.client
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from models import db, utcnow
from models.errors import DomainError, Forbidden
from models.feeds import SyncSource
from scheduler.ical.imports import apply_plan, differences, existing_events, remove_missing
from scheduler.ical.parse_ics import parse_ics
from scheduler.ical.planned import ImportOptions, ImportRefused
from scheduler.outbound import RefusedAddress, failure_reason, open_url

log = logging.getLogger("maillage.sync")
MAX_BYTES = 5 * 1024 * 1024
TIMEOUT_SECONDS = 20
JOB_MINUTES = 5  # how often the clock looks for sources that are due


class SyncActor:
    """Who a sync writes as: the source's partner, through the clock (audited with no user)."""

    id: int | None = None
    is_coordinator = False

    def __init__(self, partner):
        self.partner_id = partner.id
        self.quartiers = []

    def can_edit_event(self, event) -> bool:
        return any(p.id == self.partner_id for p in event.organisers)

    def can_edit_place(self, place) -> bool:
        return True

    def can_edit_partner(self, partner) -> bool:
        return partner.id == self.partner_id

    def may_name_partner(self, partner) -> bool:
        return partner.id == self.partner_id  # a synced calendar speaks for its partner alone

    def require(self, allowed: bool, message: str = "Action non autorisée pour la synchronisation.") -> None:
        if not allowed:
            raise Forbidden(message)


@dataclass
class Fetched:
    status: int  # 200 or 304
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None


def fetch(source: SyncSource) -> Fetched:
    """GET the address, with If-None-Match / If-Modified-Since from the last run."""
    request = urllib.request.Request(source.url, headers={"User-Agent": "Maillage-synchronisation/1.0",
                                                          "Accept": "text/calendar, */*;q=0.5"})
    if source.etag:
        request.add_header("If-None-Match", source.etag)
    if source.last_modified_header:
        request.add_header("If-Modified-Since", source.last_modified_header)
    try:
        with open_url(request, TIMEOUT_SECONDS, current_app.config["ALLOW_PRIVATE_URLS"]) as response:
            body = response.read(MAX_BYTES + 1)
            if len(body) > MAX_BYTES:
                raise ValueError("le calendrier dépasse 5 Mo")
            return Fetched(200, body, response.headers.get("ETag"), response.headers.get("Last-Modified"))
    except urllib.error.HTTPError as error:
        if error.code == 304:
            return Fetched(304, etag=source.etag, last_modified=source.last_modified_header)
        raise ValueError(f"le serveur a répondu {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, RefusedAddress):
            raise ValueError(failure_reason(error)) from None
        raise ValueError(f"adresse injoignable ({failure_reason(error)})") from None


def sync_source(source: SyncSource, fetched: Fetched | None = None) -> dict:
    """Fetches and applies one source; returns the counts. Raises on any error (nothing applied)."""
    fetched = fetched or fetch(source)
    if fetched.status == 304:
        return {"status": "unchanged"}
    actor = SyncActor(source.partner)
    options = ImportOptions(partner=source.partner, place=source.place, kind=source.kind,
                            visibility=source.visibility, source=f"sync:{source.id}")
    plan = parse_ics(fetched.body, options)
    existing = existing_events(plan)
    created = sum(1 for p in plan if p.uid not in existing)
    changed = sum(1 for p in plan if p.uid in existing and differences(p, existing[p.uid]))
    apply_plan(actor, plan, options)
    removed = remove_missing(actor, options.source, {p.uid for p in plan})
    source.etag, source.last_modified_header = fetched.etag, fetched.last_modified
    counts: dict[str, int | str] = {"created": created, "changed": changed, "removed": len(removed),
              "unchanged": len(plan) - created - changed}
    counts["status"] = "ok" if created or changed or removed else "unchanged"
    return counts


def run_source(source_id: int) -> SyncSource:
    """One source, one transaction: applied and recorded, or rolled back and the error recorded.
    Whatever goes wrong with one source (its server, its file, an address saved before the strict
    check, a bug the calendar finds) is its own result, never the next source's: nothing raises
    from here but the database's own failure to record it."""
    source = db.session.get_one(SyncSource, source_id)
    try:
        counts = sync_source(source)
        status = counts.pop("status")
        source.last_status, source.last_counts = status, counts
        source.last_message = _summary(status, counts)
    except Exception as error:  # every failure is this source's result (see the docstring)
        db.session.rollback()  # nothing of a failed run stays
        source = db.session.get_one(SyncSource, source_id)
        message = _failure_message(error)
        source.last_status, source.last_message, source.last_counts = "error", message[:2000], {}
        if isinstance(error, KNOWN_FAILURES):
            log.warning("synchronisation %s : %s", source.url, message)
        else:
            log.exception("synchronisation %s : erreur inattendue", source.url)
    source.last_run_at = utcnow()
    db.session.commit()
    return source


# What a calendar, its server or its address can do wrong, said to the partner as it is; anything
# else is also recorded on the source, and logged with its traceback (a bug to look at).
KNOWN_FAILURES = (ImportRefused, DomainError, ValueError, OSError, http.client.HTTPException)


def _failure_message(error: Exception) -> str:
    if isinstance(error, DomainError):
        message = error.message
    elif isinstance(error, http.client.HTTPException):
        message = f"échange HTTP impossible avec ce serveur ({type(error).__name__} : {error})"
    elif isinstance(error, KNOWN_FAILURES):
        message = str(error)
    else:
        message = (f"erreur inattendue pendant la synchronisation ({type(error).__name__}) : le détail est dans "
                   "le journal du service")
    if isinstance(error, ImportRefused):
        message += " " + " ; ".join(str(e) for e in error.located[:5])
    return message


def _summary(status: str, counts: dict) -> str:
    if status == "unchanged" and not counts:
        return "Calendrier inchangé depuis la dernière synchronisation."
    return (f"{counts.get('created', 0)} créé(s), {counts.get('changed', 0)} modifié(s), "
            f"{counts.get('removed', 0)} supprimé(s), {counts.get('unchanged', 0)} inchangé(s).")


def run_due_syncs() -> int:
    """The clock's job: every active source whose interval has passed, each on its own (one that
    fails is recorded as failed and the next one runs). Returns how many ran."""
    due = [s.id for s in db.session.scalars(sa.select(SyncSource).where(SyncSource.is_active)) if s.is_due]
    db.session.rollback()
    for source_id in due:
        run_source(source_id)
    return len(due)
