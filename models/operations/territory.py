"""Quartiers and places: look-ups, time zones, and their writes (audited)."""
from __future__ import annotations

import functools
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import sqlalchemy as sa

from models.base import db
from models.errors import InvalidInput, NotFound
from models.operations.audit import apply_changes, record
from models.territory import DEPARTMENT_TIMEZONES, Place, Quartier, department_of_postcode


@functools.cache
def _known_timezones() -> frozenset[str]:
    # Reading the zone database from disk costs milliseconds; it does not change while we run.
    return frozenset(available_timezones())


def is_known_timezone(name: str) -> bool:
    """An IANA zone name that ZoneInfo knows (not a file path that happens to exist)."""
    return name in _known_timezones()


def check_timezone(name: str, field: str = "timezone") -> str:
    try:
        if not is_known_timezone(name):
            raise ZoneInfoNotFoundError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"Fuseau horaire inconnu : « {name} » (exemple : Europe/Paris).",
                           {field: ["Fuseau horaire inconnu."]}) from None
    return name


def quartier_by_code(code: str) -> Quartier:
    quartier = db.session.scalar(sa.select(Quartier).where(Quartier.code == code))
    if quartier is None:
        raise NotFound(f"Quartier inconnu : « {code} ».")
    return quartier


def place_by_slug(slug: str) -> Place:
    place = db.session.scalar(sa.select(Place).where(Place.slug == slug))
    if place is None:
        raise NotFound(f"Lieu inconnu : « {slug} ».")
    return place


def create_quartier(actor, values: dict) -> Quartier:
    actor.require(actor.is_coordinator, "Seul·e un·e coordinateur·rice peut ajouter un quartier.")
    if db.session.scalar(sa.select(Quartier.id).where(Quartier.code == values["code"])):
        raise InvalidInput(f"Le quartier {values['code']} existe déjà.", {"code": ["Déjà utilisé."]})
    quartier = Quartier(**values)
    db.session.add(quartier)
    db.session.flush()
    if actor.quartiers and quartier not in actor.quartiers:
        actor.quartiers.append(quartier)  # whoever creates a quartier coordinates it
    record(actor, "create", quartier, {k: [None, v] for k, v in values.items()})
    return quartier


def update_quartier(actor, quartier: Quartier, values: dict) -> Quartier:
    actor.require(actor.can_edit_quartier(quartier))
    changes = apply_changes(quartier, values)
    if changes:
        db.session.flush()
        record(actor, "update", quartier, changes)
    return quartier


def delete_quartier(actor, quartier: Quartier) -> None:
    actor.require(actor.can_edit_quartier(quartier))
    record(actor, "delete", quartier, {"code": [quartier.code, None]})
    db.session.delete(quartier)
    db.session.flush()


def _resolve_place_values(values: dict, default_timezone: str) -> dict:
    from models.operations.partners import partner_by_slug

    if "quartier" in values:
        code = values.pop("quartier")
        values["quartier"] = quartier_by_code(code) if code else None
    if "host_partner" in values:
        slug = values.pop("host_partner")
        values["host_partner"] = partner_by_slug(slug) if slug else None
    if values.get("postcode") and not values.get("department"):
        values["department"] = department_of_postcode(values["postcode"])
    if "timezone" in values or "department" in values:
        values.setdefault("timezone", DEPARTMENT_TIMEZONES.get(values.get("department") or "", default_timezone))
        check_timezone(values["timezone"])
    return values


def create_place(actor, values: dict, default_timezone: str = "Europe/Paris") -> Place:
    if db.session.scalar(sa.select(Place.id).where(Place.slug == values["slug"])):
        raise InvalidInput(f"Un lieu porte déjà l'identifiant « {values['slug']} ».", {"slug": ["Déjà utilisé."]})
    values = _resolve_place_values(values, default_timezone)
    values.setdefault("timezone", DEPARTMENT_TIMEZONES.get(values.get("department") or "", default_timezone))
    values.setdefault("rooms", [])
    with db.session.no_autoflush:
        place = Place(**values)
        actor.require(actor.can_edit_place(place), "Ce lieu n'est pas dans votre territoire.")
    db.session.add(place)
    db.session.flush()
    record(actor, "create", place, {k: [None, v] for k, v in values.items()})
    return place


def update_place(actor, place: Place, values: dict) -> Place:
    actor.require(actor.can_edit_place(place), "Ce lieu n'est pas dans votre territoire.")
    values = _resolve_place_values(values, place.timezone)
    changes = apply_changes(place, values)
    actor.require(actor.can_edit_place(place), "Ce lieu n'est pas dans votre territoire.")
    if changes:
        db.session.flush()
        record(actor, "update", place, changes)
    return place


def delete_place(actor, place: Place) -> None:
    from models.errors import Conflict

    actor.require(actor.can_edit_place(place), "Ce lieu n'est pas dans votre territoire.")
    if db.session.scalar(sa.text("SELECT 1 FROM events WHERE place_id = :id LIMIT 1"), {"id": place.id}):
        raise Conflict("Ce lieu accueille encore des événements : déplacez-les ou supprimez-les d'abord.")
    record(actor, "delete", place, {"slug": [place.slug, None]})
    db.session.delete(place)
    db.session.flush()
