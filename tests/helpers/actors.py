"""The actor fixtures write as: a coordinator of the whole territory, allowed everything."""
from __future__ import annotations


class _System:
    """The actor for fixtures: a coordinator of the whole territory."""

    id = None
    is_coordinator = True
    partner_id = None
    quartiers: list = []
    territory_quartier_ids: set = set()

    def covers_place(self, place):
        return True

    def can_edit_place(self, place):
        return True

    def can_edit_event(self, event):
        return True

    def can_edit_partner(self, partner):
        return True

    def may_name_partner(self, partner):
        return True

    def can_edit_quartier(self, quartier):
        return True

    def require(self, allowed, message=""):
        return None


SYSTEM = _System()
