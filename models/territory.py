"""Quartiers (QPV) and the places where things happen."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Model, UTCDateTime, utcnow

# Overseas departments have their own time zone; everything else defaults to DEFAULT_TIMEZONE.
DEPARTMENT_TIMEZONES = {
    "971": "America/Guadeloupe",
    "972": "America/Martinique",
    "973": "America/Cayenne",
    "974": "Indian/Reunion",
    "976": "Indian/Mayotte",
}


# School holiday zones of metropolitan France by department, as the national calendar groups the
# académies since 2016 (zone A: Besançon, Bordeaux, Clermont-Ferrand, Dijon, Grenoble, Limoges,
# Lyon, Poitiers; zone B: Aix-Marseille, Amiens, Lille, Nancy-Metz, Nantes, Nice, Normandie,
# Orléans-Tours, Reims, Rennes, Strasbourg; zone C: Créteil, Montpellier, Paris, Toulouse,
# Versailles). Corsica and the overseas académies set calendars of their own: no zone.
SCHOOL_ZONES = {
    **dict.fromkeys(["25", "39", "70", "90", "24", "33", "40", "47", "64", "03", "15", "43", "63", "21", "58",
                     "71", "89", "07", "26", "38", "73", "74", "19", "23", "87", "01", "42", "69", "16", "17",
                     "79", "86"], "A"),
    **dict.fromkeys(["04", "05", "13", "84", "02", "60", "80", "59", "62", "54", "55", "57", "88", "44", "49",
                     "53", "72", "85", "06", "83", "14", "27", "50", "61", "76", "18", "28", "36", "37", "41",
                     "45", "08", "10", "51", "52", "22", "29", "35", "56", "67", "68"], "B"),
    **dict.fromkeys(["77", "93", "94", "11", "30", "34", "48", "66", "75", "09", "12", "31", "32", "46", "65",
                     "81", "82", "78", "91", "92", "95"], "C"),
}
SCHOOL_ZONE_CHOICES = ("A", "B", "C")


def school_zone_of(department: str | None) -> str | None:
    """The school holiday zone of a department ('38' -> 'A'); None where there is none (Corsica,
    overseas) or the department is unknown."""
    return SCHOOL_ZONES.get(department or "")


def is_overseas(department: str | None) -> bool:
    return (department or "").startswith("97")


def department_of_postcode(postcode: str | None) -> str | None:
    """'97490' -> '974', '91100' -> '91', '20000' -> '2A' is not guessed (Corsica has no QPV rule here)."""
    if not postcode or len(postcode) != 5 or not postcode.isdigit():
        return None
    return postcode[:3] if postcode.startswith("97") else postcode[:2]


class Quartier(Model):
    """A quartier prioritaire de la politique de la ville, known by its official code."""

    __tablename__ = "quartiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    communes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    department: Mapped[str | None] = mapped_column(sa.String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    places: Mapped[list[Place]] = relationship(back_populates="quartier", order_by="Place.name")

    def __repr__(self) -> str:
        return f"<Quartier {self.code}>"


class Place(Model):
    __tablename__ = "places"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    host_partner_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("partners.id", ondelete="SET NULL"), index=True
    )
    address: Mapped[str | None] = mapped_column(sa.String(300))
    postcode: Mapped[str | None] = mapped_column(sa.String(10))
    city: Mapped[str | None] = mapped_column(sa.String(120))
    # Department code ('38', '974', '57'...): chooses the public holidays of the place.
    department: Mapped[str | None] = mapped_column(sa.String(3))
    quartier_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("quartiers.id", ondelete="SET NULL"), index=True
    )
    timezone: Mapped[str] = mapped_column(sa.String(64), default="Europe/Paris")
    rooms: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    accessibility: Mapped[str | None] = mapped_column(sa.Text)
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    contact_email: Mapped[str | None] = mapped_column(sa.String(254))
    # A host structure can ask that no double booking of its rooms or staff ever be saved.
    refuses_hard_conflicts: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    quartier: Mapped[Quartier | None] = relationship(back_populates="places")
    host_partner = relationship("Partner")

    def __repr__(self) -> str:
        return f"<Place {self.slug}>"
