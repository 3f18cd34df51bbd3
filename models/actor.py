"""Who writes: the one type every operation that changes data takes as its `actor`."""
from __future__ import annotations

from typing import Protocol

from models.events import Event
from models.partners import Partner
from models.territory import Place


class Actor(Protocol):
    """Who writes: a signed-in `User`, or the clock writing for a synced partner
    (`scheduler.ical.sync.SyncActor`). Every operation that changes data takes one, asks it what it
    may change, and records its `id` in the history (None: the system)."""

    # Read-only here: a User's id is always set, the clock's is None.
    @property
    def id(self) -> int | None: ...

    @property
    def partner_id(self) -> int | None: ...

    @property
    def is_coordinator(self) -> bool: ...

    def can_edit_event(self, event: Event) -> bool: ...

    def can_edit_place(self, place: Place) -> bool: ...

    def can_edit_partner(self, partner: Partner) -> bool: ...

    def may_name_partner(self, partner: Partner) -> bool: ...

    def require(self, allowed: bool, message: str = ...) -> None: ...
