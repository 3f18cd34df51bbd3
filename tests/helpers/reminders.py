"""Mail for real: an SMTP server (aiosmtpd) the tests start (the `mailbox` fixture, registered
by conftest), the clock's sending run at an instant, the deliveries recorded, a message's text;
the `reminder_territory` fixture (registered by conftest) (a mission locale's adviser at the BIJ)."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from helpers.actors import SYSTEM
from helpers.processes import free_port


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def mailbox(app):
    """A real SMTP server on a free port; the app sends to it."""
    from aiosmtpd.controller import Controller

    from scheduler.notifications.mailbox import Mailbox

    box = Mailbox()
    box.port = free_port()
    box.controller = Controller(box, hostname="127.0.0.1", port=box.port)
    box.controller.start()
    previous = app.config["SMTP_URL"]
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{box.port}"
    yield box
    if box.controller._thread is not None:  # some tests stop it themselves (SMTP down)
        box.controller.stop()
    app.config["SMTP_URL"] = previous


def run(now: str | datetime):
    from scheduler.notifications.sending import run_due

    return run_due(at(now) if isinstance(now, str) else now)


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


@pytest.fixture
def reminder_territory(create_partner, create_place, create_quartier):
    """A mission locale with one adviser, and the BIJ of Villeneuve where she holds permanences."""
    from models import db
    from models.operations.partners import create_person

    quartier = create_quartier()
    partner = create_partner("mission-locale", contact_email="accueil@ml.example.fr")
    place = create_place("bij-echirolles", name="BIJ d'Échirolles", quartier=quartier.code,
                         address="2 place de la Convention", city="Échirolles",
                         contact_email="accueil@bij.example.fr")
    adviser = create_person(SYSTEM, {"partner": partner.slug, "name": "Awa Diallo", "email": "awa@ml.example.fr"})
    db.session.commit()
    return {"partner": partner, "place": place, "adviser": adviser, "quartier": quartier}


def deliveries(**where):
    from models import Delivery, db

    q = sa.select(Delivery).order_by(Delivery.due_at, Delivery.id)
    for name, value in where.items():
        q = q.where(getattr(Delivery, name) == value)
    return list(db.session.scalars(q))

