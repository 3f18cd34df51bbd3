"""Quartiers and places: look-ups, time zones, and their writes (audited)."""
from __future__ import annotations

import functools
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import sqlalchemy as sa

from models.actor import Actor
from models.base import db
from models.errors import Conflict, InvalidInput, NotFound
from models.operations.audit import apply_changes, record
from models.operations.partners import partner_by_slug
from models.operations.place_search import folded
from models.operations.text import check_texts
from models.territory import DEPARTMENT_TIMEZONES, Place, Quartier, department_of_postcode
from models.users import User


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


QUARTIER_TEXTS = {"one_line": ("code", "name", "department"), "lists": ("communes",)}
PLACE_TEXTS = {"one_line": ("slug", "name", "address", "postcode", "city", "department", "timezone", "contact_email",
                            "quartier", "host_partner"),
               "multi_line": ("accessibility",), "lists": ("rooms",)}


def _refuse_taken_quartier_code(code: str, quartier: Quartier | None = None) -> None:
    taken = db.session.scalar(sa.select(Quartier.id).where(Quartier.code == code))
    if taken is not None and (quartier is None or taken != quartier.id):
        raise InvalidInput(f"Le quartier {code} existe déjà.", {"code": ["Déjà utilisé."]})


def _refuse_taken_place_slug(slug: str, place: Place | None = None) -> None:
    taken = db.session.scalar(sa.select(Place.id).where(Place.slug == slug))
    if taken is not None and (place is None or taken != place.id):
        raise InvalidInput(f"Un lieu porte déjà l'identifiant « {slug} ».", {"slug": ["Déjà utilisé."]})


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


def create_quartier(actor: User, values: dict) -> Quartier:
    actor.require(actor.is_coordinator, "Seul·e un·e coordinateur·rice peut ajouter un quartier.")
    check_texts(values, **QUARTIER_TEXTS)
    _refuse_taken_quartier_code(values["code"])
    quartier = Quartier(**values)
    db.session.add(quartier)
    db.session.flush()
    if actor.quartiers and quartier not in actor.quartiers:
        actor.quartiers.append(quartier)  # whoever creates a quartier coordinates it
    record(actor, "create", quartier, {k: [None, v] for k, v in values.items()})
    return quartier


def update_quartier(actor: User, quartier: Quartier, values: dict) -> Quartier:
    actor.require(actor.can_edit_quartier(quartier))
    check_texts(values, **QUARTIER_TEXTS)
    if "code" in values:
        _refuse_taken_quartier_code(values["code"], quartier)
    changes = apply_changes(quartier, values)
    if changes:
        db.session.flush()
        record(actor, "update", quartier, changes)
    return quartier


def delete_quartier(actor: User, quartier: Quartier) -> None:
    actor.require(actor.can_edit_quartier(quartier))
    record(actor, "delete", quartier, {"code": [quartier.code, None]})
    db.session.delete(quartier)
    db.session.flush()


def _resolve_place_values(values: dict, default_timezone: str) -> dict:
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


def _require_may_host(actor: Actor, partner) -> None:
    """Hosting a place is working there: a place names as host only a partner the actor may name
    as an organiser (`may_name_partner`, docs/security.md)."""
    if partner is not None:
        actor.require(actor.may_name_partner(partner),
                      f"Vous ne pouvez pas désigner « {partner.name} » comme structure d'accueil de ce lieu.")


def create_place(actor: Actor, values: dict, default_timezone: str = "Europe/Paris") -> Place:
    check_texts(values, **PLACE_TEXTS)
    _refuse_taken_place_slug(values["slug"])
    values = _resolve_place_values(values, default_timezone)
    values.setdefault("timezone", DEPARTMENT_TIMEZONES.get(values.get("department") or "", default_timezone))
    values.setdefault("rooms", [])
    with db.session.no_autoflush:
        place = Place(**values)
        actor.require(actor.can_edit_place(place), "Ce lieu n'est pas dans votre territoire.")
        _require_may_host(actor, place.host_partner)
    db.session.add(place)
    db.session.flush()
    record(actor, "create", place, {k: [None, v] for k, v in values.items()})
    return place


def free_place_slug(name: str, city: str | None = None) -> str:
    """An identifier for a place typed by name in the event form: "bij-d-echirolles", or with its
    commune, then a number, when that one is taken."""
    words = folded(name).split()[:8]
    base = "-".join(words)[:70].strip("-") or "lieu"
    candidates = [base]
    if city:
        candidates.append(f"{base}-{'-'.join(folded(city).split())}"[:76].strip("-"))
    candidates += [f"{base}-{n}" for n in range(2, 100)]
    taken = set(db.session.scalars(sa.select(Place.slug).where(Place.slug.in_(candidates))))
    return next(c for c in candidates if c not in taken)


def update_place(actor: Actor, place: Place, values: dict) -> Place:
    actor.require(actor.can_edit_place(place), "Ce lieu n'est pas dans votre territoire.")
    check_texts(values, **PLACE_TEXTS)
    if "slug" in values:
        _refuse_taken_place_slug(values["slug"], place)
    values = _resolve_place_values(values, place.timezone)
    if values.get("host_partner") is not None and values["host_partner"] is not place.host_partner:
        _require_may_host(actor, values["host_partner"])
    changes = apply_changes(place, values)
    actor.require(actor.can_edit_place(place), "Ce lieu n'est pas dans votre territoire.")
    if changes:
        db.session.flush()
        record(actor, "update", place, changes)
    return place


def delete_place(actor: Actor, place: Place) -> None:
    actor.require(actor.can_edit_place(place), "Ce lieu n'est pas dans votre territoire.")
    if db.session.scalar(sa.text("SELECT 1 FROM events WHERE place_id = :id LIMIT 1"), {"id": place.id}):
        raise Conflict("Ce lieu accueille encore des événements : déplacez-les ou supprimez-les d'abord.")
    record(actor, "delete", place, {"slug": [place.slug, None]})
    db.session.delete(place)
    db.session.flush()


def places_matching(actor: User, text: str = "", limit: int = 60) -> list[Place]:
    """Places whose name, commune, quartier name or code holds `text` (any case), those of a
    coordinator's territory only: what the event form offers."""
    query = sa.select(Place).outerjoin(Quartier, Quartier.id == Place.quartier_id).order_by(Place.name)
    if actor.is_coordinator and actor.territory_quartier_ids:  # a place in no quartier is national
        query = query.where(Place.quartier_id.in_(actor.territory_quartier_ids))
    text = text.strip()
    if text:
        like = f"%{text.lower()}%"
        query = query.where(sa.or_(sa.func.lower(Place.name).like(like), sa.func.lower(Place.city).like(like),
                                   sa.func.lower(Quartier.name).like(like), sa.func.lower(Quartier.code).like(like),
                                   sa.func.lower(sa.cast(Quartier.communes, sa.Text)).like(like)))
    return list(db.session.scalars(query.limit(limit)))
