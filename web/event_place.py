"""A place added from the event form, when the one of the event is not in the list yet: a
partner's editor adds a place their partner hosts, a coordinator one of their territory (the
rights of `models.operations.territory.create_place`, as through the API). The form keeps what
was typed for the event and chooses the new place."""
from __future__ import annotations

import re

import sqlalchemy as sa
from flask import current_app

from models import Place, Quartier, db
from models.errors import FIELD_MESSAGES, DomainError
from models.operations.territory import create_place, free_place_slug
from models.users import User

# The form's names of the new place's fields, and the place's columns they fill.
NEW_PLACE_FIELDS = {"new_place_name": "name", "new_place_address": "address", "new_place_postcode": "postcode",
                    "new_place_city": "city", "new_place_quartier": "quartier", "new_place_rooms": "rooms"}
FORM_FIELD_OF = {column: name for name, column in NEW_PLACE_FIELDS.items()} | {"slug": "new_place_name"}
LENGTHS = {"new_place_name": (2, 200), "new_place_address": (0, 300), "new_place_city": (0, 120)}


def new_place_values(raw: dict, actor: User) -> tuple[dict, dict[str, str]]:
    """The place's values from the form, and the errors next to its fields. Whether the person may
    add it there is create_place's to say (a coordinator's quartier out of their territory: 403)."""
    errors: dict[str, str] = {}
    for name, (lo, hi) in LENGTHS.items():
        if not lo <= len(raw[name]) <= hi:
            errors[name] = FIELD_MESSAGES["required"] if lo and not raw[name] else \
                FIELD_MESSAGES["length"].format(min=lo, max=hi)
    if raw["new_place_postcode"] and not re.fullmatch(r"\d{5}", raw["new_place_postcode"]):
        errors["new_place_postcode"] = FIELD_MESSAGES["postcode"]
    if raw["new_place_quartier"] and db.session.scalar(
            sa.select(Quartier.id).where(Quartier.code == raw["new_place_quartier"])) is None:
        errors["new_place_quartier"] = FIELD_MESSAGES["choice"].format(choices="les quartiers de la liste")
    rooms = [r.strip() for r in raw["new_place_rooms"].split(",") if r.strip()]
    if any(len(r) > 120 for r in rooms):
        errors["new_place_rooms"] = FIELD_MESSAGES["length"].format(min=1, max=120)
    values = {"slug": free_place_slug(raw["new_place_name"], raw["new_place_city"]) if not errors else "",
              "name": raw["new_place_name"], "address": raw["new_place_address"] or None,
              "postcode": raw["new_place_postcode"] or None, "city": raw["new_place_city"] or None,
              "quartier": raw["new_place_quartier"] or None, "rooms": rooms}
    if not actor.is_coordinator and actor.partner is not None:
        values["host_partner"] = actor.partner.slug  # an editor adds a place their partner hosts
    return values, errors


def add_place(actor: User, values: dict) -> Place:
    return create_place(actor, values, current_app.config["DEFAULT_TIMEZONE"])


def place_errors_of(error: DomainError) -> dict[str, str]:
    """A refusal of the place's write, next to the field of the new place it concerns."""
    found = {FORM_FIELD_OF.get(name, "new_place_name"): messages[0]
             for name, messages in (error.errors or {}).items()
             if isinstance(messages, list) and messages and isinstance(messages[0], str)}
    return found or {"new_place_name": error.message}
