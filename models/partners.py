"""Partners (the structures) and the people who work for them."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Model, UTCDateTime, db, utcnow
from models.events import Event, OccurrenceException, event_organisers, event_people
from models.territory import Place

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


class Partner(Model):
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


class Person(Model):
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


# --- where a partner works (what a coordinator's rights over it follow) -------------------------

def partner_workplaces() -> sa.Subquery:
    """(partner_id, quartier_id) of where each partner works: the places it hosts, the places of
    the events it organises or co-organises, and the places a date of those events was moved to
    (quartier_id None for a place in no quartier). What "works in" means for rights
    (docs/security.md)."""
    hosted = sa.select(Place.host_partner_id.label("partner_id"), Place.quartier_id).where(
        Place.host_partner_id.is_not(None))
    organised = (sa.select(event_organisers.c.partner_id, Place.quartier_id)
                 .join(Event, Event.id == event_organisers.c.event_id).join(Place, Place.id == Event.place_id))
    moved = (sa.select(event_organisers.c.partner_id, Place.quartier_id)
             .join(OccurrenceException, OccurrenceException.event_id == event_organisers.c.event_id)
             .join(Place, Place.id == OccurrenceException.place_id))
    return sa.union(hosted, organised, moved).subquery("workplaces")


def partner_quartier_ids(partner: Partner) -> set[int | None]:
    """The quartiers a partner works in (`partner_workplaces`; None for a place in no quartier);
    empty when it works nowhere yet."""
    works = partner_workplaces()
    return set(db.session.scalars(sa.select(works.c.quartier_id).where(works.c.partner_id == partner.id)))


def co_organiser_ids(partner_id: int) -> set[int]:
    """The partners that organise at least one event together with this one (itself excluded):
    the partners its editors may name as co-organisers without a coordinator."""
    mine = sa.select(event_organisers.c.event_id).where(event_organisers.c.partner_id == partner_id)
    return set(db.session.scalars(sa.select(event_organisers.c.partner_id).distinct().where(
        event_organisers.c.event_id.in_(mine), event_organisers.c.partner_id != partner_id)))


def person_quartier_ids(person: Person) -> set[int | None]:
    """The quartiers of the places of the events a person is booked on."""
    return set(db.session.scalars(
        sa.select(Place.quartier_id).distinct().join(Event, Event.place_id == Place.id)
        .join(event_people, event_people.c.event_id == Event.id).where(event_people.c.person_id == person.id)))
