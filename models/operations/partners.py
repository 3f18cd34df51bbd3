"""Partners and their people: look-ups, where they work, and their writes (audited)."""
from __future__ import annotations

import sqlalchemy as sa

from models.actor import Actor
from models.base import db
from models.errors import InvalidInput, NotFound
from models.events import Event, event_organisers
from models.operations.audit import apply_changes, record
from models.operations.text import check_texts
from models.partners import (
    PARTNER_TYPES,
    PERSON_ROLES,
    SPE_TYPES,
    Partner,
    Person,
    co_organiser_ids,
    partner_quartier_ids,
    partner_workplaces,
    person_quartier_ids,
)
from models.territory import Place, Quartier
from models.users import User

PARTNER_TEXTS = ("slug", "name", "type", "contact_email", "contact_phone", "website")
PERSON_TEXTS = ("name", "email", "phone", "role")


def partner_by_slug(slug: str) -> Partner:
    partner = db.session.scalar(sa.select(Partner).where(Partner.slug == slug))
    if partner is None:
        raise NotFound(f"Partenaire inconnu : « {slug} ».")
    return partner


# How many partners or people one event may name: far above any real one (five partners co-run
# the Lundis de l'emploi), and far below what one query may carry (PostgreSQL's 65,535 parameters).
MAX_NAMED = 100
_ID_RANGE = range(1, 2**31)  # ids are 32-bit: a bigger number would overflow the query, not miss


def partners_by_slugs(slugs: list[str], field: str = "organisers") -> list[Partner]:
    slugs = list(dict.fromkeys(slugs))
    if len(slugs) > MAX_NAMED:
        raise InvalidInput.on(field, f"Au plus {MAX_NAMED} partenaires.")
    found = {p.slug: p for p in db.session.scalars(sa.select(Partner).where(Partner.slug.in_(slugs)))}
    missing = [s for s in slugs if s not in found]
    if missing:
        raise InvalidInput("Partenaire inconnu : " + ", ".join(missing) + ".",
                           {field: [f"Partenaire inconnu : {s}" for s in missing]})
    return [found[s] for s in slugs]


def people_by_ids(ids: list[int], field: str = "people") -> list[Person]:
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_NAMED:
        raise InvalidInput.on(field, f"Au plus {MAX_NAMED} personnes.")
    wanted = [i for i in ids if i in _ID_RANGE]
    found = {p.id: p for p in db.session.scalars(sa.select(Person).where(Person.id.in_(wanted)))} if wanted else {}
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput("Personne inconnue : " + ", ".join(map(str, missing)) + ".",
                           {field: [f"Personne inconnue : {i}" for i in missing]})
    return [found[i] for i in ids]


def require_partner(actor: Actor, partner: Partner) -> None:
    """Refuses, in French, a write to a partner (its contacts, people, reminders, webhook, links,
    synced calendars) that the actor may not make (`can_edit_partner`)."""
    if actor.is_coordinator:
        actor.require(actor.can_edit_partner(partner),
                      f"« {partner.name} » intervient hors de votre territoire (lieux ou événements dans d'autres "
                      "quartiers, ou dans un lieu sans quartier) : ses données reviennent à un·e coordinateur·rice "
                      "de tous ces quartiers, ou national·e.")
    actor.require(actor.can_edit_partner(partner), "Vous ne pouvez modifier que votre structure.")


def _check_partner_values(values: dict) -> None:
    check_texts(values, one_line=PARTNER_TEXTS)
    if "type" in values and values["type"] not in PARTNER_TYPES:
        raise InvalidInput(f"Type de partenaire inconnu : {values['type']}.", {"type": ["Type inconnu."]})


def create_partner(actor: Actor, values: dict) -> Partner:
    actor.require(actor.is_coordinator, "Seul·e un·e coordinateur·rice peut ajouter un partenaire.")
    _check_partner_values(values)
    if db.session.scalar(sa.select(Partner.id).where(Partner.slug == values["slug"])):
        raise InvalidInput(f"Un partenaire porte déjà l'identifiant « {values['slug']} ».",
                           {"slug": ["Déjà utilisé."]})
    values.setdefault("is_spe", values["type"] in SPE_TYPES)
    partner = Partner(**values)
    db.session.add(partner)
    db.session.flush()
    record(actor, "create", partner, {k: [None, v] for k, v in values.items()})
    return partner


def update_partner(actor: Actor, partner: Partner, values: dict) -> Partner:
    require_partner(actor, partner)
    _check_partner_values(values)
    if "slug" in values and values["slug"] != partner.slug and db.session.scalar(
            sa.select(Partner.id).where(Partner.slug == values["slug"])):
        raise InvalidInput(f"Un partenaire porte déjà l'identifiant « {values['slug']} ».",
                           {"slug": ["Déjà utilisé."]})
    changes = apply_changes(partner, values)
    if changes:
        db.session.flush()
        record(actor, "update", partner, changes)
    return partner


def delete_partner(actor: User, partner: Partner) -> None:
    actor.require(actor.is_coordinator, "Seul·e un·e coordinateur·rice peut supprimer un partenaire.")
    require_partner(actor, partner)
    # Its people go with it, and with them their bookings: those count as where it works too.
    quartiers = partner_quartier_ids(partner).union(*(person_quartier_ids(p) for p in partner.people))
    actor.require(actor.works_only_here(quartiers),
                  "Ce partenaire intervient aussi hors de votre territoire (lieux qu'il accueille, événements "
                  "qu'il organise ou auxquels ses intervenant·es participent, dans d'autres quartiers) : sa "
                  "suppression revient à un·e coordinateur·rice de tous ces quartiers, ou national·e.")
    record(actor, "delete", partner, {"slug": [partner.slug, None]})
    db.session.delete(partner)
    db.session.flush()


def create_person(actor: Actor, values: dict) -> Person:
    partner = partner_by_slug(values.pop("partner"))
    require_partner(actor, partner)
    check_texts(values, one_line=PERSON_TEXTS)
    if values.get("role", "adviser") not in PERSON_ROLES:
        raise InvalidInput("Rôle inconnu.", {"role": ["Rôle inconnu."]})
    person = Person(partner=partner, **values)
    db.session.add(person)
    db.session.flush()
    record(actor, "create", person, {k: [None, v] for k, v in values.items()})
    return person


def update_person(actor: Actor, person: Person, values: dict) -> Person:
    require_partner(actor, person.partner)
    check_texts(values, one_line=PERSON_TEXTS)
    if "partner" in values:
        new_partner = partner_by_slug(values.pop("partner"))
        require_partner(actor, new_partner)
        values["partner"] = new_partner
    if "role" in values and values["role"] not in PERSON_ROLES:
        raise InvalidInput("Rôle inconnu.", {"role": ["Rôle inconnu."]})
    changes = apply_changes(person, values)
    if changes:
        db.session.flush()
        record(actor, "update", person, changes)
    return person


def delete_person(actor: User, person: Person) -> None:
    require_partner(actor, person.partner)
    if actor.is_coordinator:
        actor.require(actor.works_only_here(person_quartier_ids(person)),
                      "Cette personne intervient aussi hors de votre territoire (événements dans d'autres "
                      "quartiers) : sa suppression revient à un·e coordinateur·rice de tous ces quartiers, ou "
                      "national·e.")
    record(actor, "delete", person, {"name": [person.name, None]})
    db.session.delete(person)
    db.session.flush()


def partners_actor_may_name(actor: User) -> list[Partner]:
    """The partners an actor may name as organisers (`User.may_name_partner`, as one query): a
    national coordinator, all; a territorial one, those working only in their territory (or
    nowhere yet) and those already working in it; an editor, their own partner and those that
    already co-organise an event with it."""
    query = sa.select(Partner).order_by(Partner.name)
    territory = actor.territory_quartier_ids
    if actor.is_coordinator and not territory:
        return list(db.session.scalars(query))
    named = Partner.id == actor.partner_id
    if actor.is_coordinator:
        works = partner_workplaces()
        inside = sa.select(works.c.partner_id).where(works.c.quartier_id.in_(territory))
        outside = sa.select(works.c.partner_id).where(
            sa.or_(works.c.quartier_id.is_(None), works.c.quartier_id.not_in(territory)))
        named = sa.or_(named, Partner.id.in_(inside), Partner.id.not_in(outside))
    elif actor.partner_id is not None:
        named = sa.or_(named, Partner.id.in_(co_organiser_ids(actor.partner_id)))
    else:
        return []
    return list(db.session.scalars(query.where(named)))


def partners_directory(quartier_code: str | None = None, partner_type: str | None = None,
                       spe: bool | None = None) -> list[Partner]:
    """The cartographie des acteurs: partners by name, those working in a quartier (hosting a
    place there or organising an event at one of its places), of a kind, in the SPE or outside."""
    q = sa.select(Partner).order_by(Partner.name)
    if quartier_code:
        places = sa.select(Place.id).join(Quartier, Quartier.id == Place.quartier_id).where(
            Quartier.code == quartier_code)
        q = q.where(sa.or_(
            Partner.id.in_(sa.select(Place.host_partner_id).where(Place.id.in_(places))),
            Partner.id.in_(sa.select(event_organisers.c.partner_id).join(Event, Event.id == event_organisers.c.event_id)
                           .where(Event.place_id.in_(places), Event.status != "cancelled"))))
    if partner_type:
        q = q.where(Partner.type == partner_type)
    if spe is not None:
        q = q.where(Partner.is_spe.is_(spe))
    return list(db.session.scalars(q))
