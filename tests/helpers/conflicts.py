"""The overlap tests' small territory (test_conflicts, test_nightly_detection): two quartiers, three
partners, places with and without rooms, and people added on demand."""
from __future__ import annotations

import pytest

from helpers.dates import quiet_monday

# The series start on this Monday unless told otherwise (create_event's default too): four weeks
# ahead with no public holiday and one UTC offset. Writes are checked over the twelve months from
# today, so their dates are taken from today.
MONDAY = quiet_monday()


@pytest.fixture
def overlap_area(create_quartier, create_partner, create_place):
    """Two partners, a quartier with two places (one with rooms) and a place elsewhere."""
    quartier = create_quartier("QN03801M")
    other_quartier = create_quartier("QN03802M", name="Essarts")
    ml = create_partner("mission-locale")
    ft = create_partner("france-travail", type="france_travail")
    cs = create_partner("centre-social", type="centre_social")
    hall = create_place("centre-social", quartier="QN03801M", rooms=["Grande salle", "Bureau"])
    bij = create_place("bij", quartier="QN03801M")
    far = create_place("pimms-essarts", quartier="QN03802M")
    return dict(quartier=quartier, other_quartier=other_quartier, ml=ml, ft=ft, cs=cs, hall=hall, bij=bij, far=far)


@pytest.fixture
def add_person(app):
    from helpers.actors import SYSTEM
    from models import db
    from models.operations.partners import create_person

    def build(partner, name="Nadia Haddad", role="interpreter", **values):
        p = create_person(SYSTEM, {"partner": partner.slug, "name": name, "role": role, **values})
        db.session.commit()
        return p

    return build
