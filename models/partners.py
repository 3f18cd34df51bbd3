"""Partners (the structures) and the people who work for them."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db, utcnow

# API value -> French label. Order follows the guide: the SPE first, then the partners outside it.
PARTNER_TYPES = {
    "mission_locale": "Mission locale",
    "france_travail": "France Travail",
    "cap_emploi": "Cap emploi",
    "maison_emploi": "Maison de l'emploi",
    "plie": "PLIE",
    "centre_social": "Centre social",
    "prevention_specialisee": "Prévention spécialisée",
    "pimms": "PIMMS",
    "pij_bij": "PIJ / BIJ",
    "fjt": "Foyer de jeunes travailleurs",
    "e2c": "École de la deuxième chance",
    "epide": "EPIDE",
    "siae_regie": "SIAE / régie de quartier",
    "association": "Association",
    "employer": "Employeur",
    "collectivite": "Collectivité",
    "etat": "État",
}
# The service public de l'emploi in the guide's sense; the others are partners outside it.
SPE_TYPES = {"mission_locale", "france_travail", "cap_emploi", "maison_emploi", "plie"}

PERSON_ROLES = {
    "adviser": "Conseiller·ère",
    "educator": "Éducateur·rice",
    "interpreter": "Interprète",
    "sponsor": "Parrain / marraine",
    "other": "Autre",
}


class Partner(db.Model):
    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    type: Mapped[str] = mapped_column(sa.String(40))
    is_spe: Mapped[bool] = mapped_column(default=False)
    contact_email: Mapped[str | None] = mapped_column(sa.String(254))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(40))
    website: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    people: Mapped[list[Person]] = relationship(
        back_populates="partner", cascade="all, delete-orphan", order_by="Person.name"
    )

    @property
    def type_label(self) -> str:
        return PARTNER_TYPES.get(self.type, self.type)

    def __repr__(self) -> str:
        return f"<Partner {self.slug}>"


class Person(db.Model):
    """A named person whose double booking is a conflict: adviser, educator, interpreter, sponsor."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(sa.ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    role: Mapped[str] = mapped_column(sa.String(20), default="adviser")
    # Time needed between two places; below it, two bookings of the same person are a conflict.
    travel_margin_minutes: Mapped[int] = mapped_column(default=30)
    # How many series this person may run in the same weeks (None: the role's default, which is
    # 3 for sponsors — "un parrain suit au plus trois jeunes à la fois" — and no limit otherwise).
    max_concurrent: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    partner: Mapped[Partner] = relationship(back_populates="people")

    def __repr__(self) -> str:
        return f"<Person {self.name}>"


# --- operations ------------------------------------------------------------------------------
from models.audit import apply_changes, record  # noqa: E402  (audit imports nothing of partners)
from models.errors import InvalidInput, NotFound  # noqa: E402


def partner_by_slug(slug: str) -> Partner:
    partner = db.session.scalar(sa.select(Partner).where(Partner.slug == slug))
    if partner is None:
        raise NotFound(f"Partenaire inconnu : « {slug} ».")
    return partner


def partners_by_slugs(slugs: list[str], field: str = "organisers") -> list[Partner]:
    found = {p.slug: p for p in db.session.scalars(sa.select(Partner).where(Partner.slug.in_(slugs)))}
    missing = [s for s in slugs if s not in found]
    if missing:
        raise InvalidInput("Partenaire inconnu : " + ", ".join(missing) + ".",
                           {field: [f"Partenaire inconnu : {s}" for s in missing]})
    return [found[s] for s in dict.fromkeys(slugs)]


def people_by_ids(ids: list[int], field: str = "people") -> list[Person]:
    found = {p.id: p for p in db.session.scalars(sa.select(Person).where(Person.id.in_(ids)))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput("Personne inconnue : " + ", ".join(map(str, missing)) + ".",
                           {field: [f"Personne inconnue : {i}" for i in missing]})
    return [found[i] for i in dict.fromkeys(ids)]


def partner_quartier_ids(partner: Partner) -> set[int | None]:
    """The quartiers a partner works in: those of the places it hosts and of the places of the
    events it organises (None for a place in no quartier); empty when it does neither yet."""
    from models.events import Event, event_organisers  # events import partners
    from models.territory import Place

    hosted = sa.select(Place.quartier_id).where(Place.host_partner_id == partner.id)
    organised = (sa.select(Place.quartier_id).join(Event, Event.place_id == Place.id)
                 .join(event_organisers, event_organisers.c.event_id == Event.id)
                 .where(event_organisers.c.partner_id == partner.id))
    return set(db.session.scalars(sa.union(hosted, organised)))


def person_quartier_ids(person: Person) -> set[int | None]:
    """The quartiers of the places of the events a person is booked on."""
    from models.events import Event, event_people
    from models.territory import Place

    return set(db.session.scalars(
        sa.select(Place.quartier_id).distinct().join(Event, Event.place_id == Place.id)
        .join(event_people, event_people.c.event_id == Event.id).where(event_people.c.person_id == person.id)))


def _check_partner_values(values: dict) -> None:
    if "type" in values and values["type"] not in PARTNER_TYPES:
        raise InvalidInput(f"Type de partenaire inconnu : {values['type']}.", {"type": ["Type inconnu."]})


def create_partner(actor, values: dict) -> Partner:
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


def update_partner(actor, partner: Partner, values: dict) -> Partner:
    actor.require(actor.can_edit_partner(partner))
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


def delete_partner(actor, partner: Partner) -> None:
    actor.require(actor.is_coordinator, "Seul·e un·e coordinateur·rice peut supprimer un partenaire.")
    actor.require(actor.can_edit_partner(partner), "Ce partenaire n'intervient pas dans votre territoire.")
    # Its people go with it, and with them their bookings: those count as where it works too.
    quartiers = partner_quartier_ids(partner).union(*(person_quartier_ids(p) for p in partner.people))
    actor.require(actor.works_only_here(quartiers),
                  "Ce partenaire intervient aussi hors de votre territoire (lieux qu'il accueille, événements "
                  "qu'il organise ou auxquels ses intervenant·es participent, dans d'autres quartiers) : sa "
                  "suppression revient à un·e coordinateur·rice de tous ces quartiers, ou national·e.")
    record(actor, "delete", partner, {"slug": [partner.slug, None]})
    db.session.delete(partner)
    db.session.flush()


def create_person(actor, values: dict) -> Person:
    partner = partner_by_slug(values.pop("partner"))
    actor.require(actor.can_edit_partner(partner))
    if values.get("role", "adviser") not in PERSON_ROLES:
        raise InvalidInput("Rôle inconnu.", {"role": ["Rôle inconnu."]})
    person = Person(partner=partner, **values)
    db.session.add(person)
    db.session.flush()
    record(actor, "create", person, {k: [None, v] for k, v in values.items()})
    return person


def update_person(actor, person: Person, values: dict) -> Person:
    actor.require(actor.can_edit_partner(person.partner))
    if "partner" in values:
        new_partner = partner_by_slug(values.pop("partner"))
        actor.require(actor.can_edit_partner(new_partner))
        values["partner"] = new_partner
    if "role" in values and values["role"] not in PERSON_ROLES:
        raise InvalidInput("Rôle inconnu.", {"role": ["Rôle inconnu."]})
    changes = apply_changes(person, values)
    if changes:
        db.session.flush()
        record(actor, "update", person, changes)
    return person


def delete_person(actor, person: Person) -> None:
    actor.require(actor.can_edit_partner(person.partner))
    if actor.is_coordinator:
        actor.require(actor.works_only_here(person_quartier_ids(person)),
                      "Cette personne intervient aussi hors de votre territoire (événements dans d'autres "
                      "quartiers) : sa suppression revient à un·e coordinateur·rice de tous ces quartiers, ou "
                      "national·e.")
    record(actor, "delete", person, {"name": [person.name, None]})
    db.session.delete(person)
    db.session.flush()
