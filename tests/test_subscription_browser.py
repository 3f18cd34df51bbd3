"""The email subscription in Chromium, every page of it, at a phone's and a desktop's width:
the form (an address refused says why, next to the field), the page that says what was sent,
the confirmation and the unsubscription; each titled, French, fits the screen, and axe finds
nothing serious (the accessibility statement's "subscribe" pages, web/legal.py CHECKED_PAGES)."""
from __future__ import annotations

import pytest

from public_territory import build_territory
from test_public_browser import serious_violations

pytestmark = pytest.mark.browser

CHECKED_BY_AXE = {"subscribe"}


@pytest.fixture
def territory(app, create_quartier, create_place, create_partner, create_event):
    return build_territory(create_quartier, create_place, create_partner, create_event)


def check(page, name: str, title: str) -> None:
    assert page.locator("html").get_attribute("lang") == "fr", name
    assert page.title() == f"{title} — Maillage", (name, page.title())
    assert page.locator("h1").count() == 1 and page.locator("main").count() == 1, name
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0, name
    assert page.locator("footer a[href='/donnees-personnelles']").count() == 1, name
    assert serious_violations(page) == [], name


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}, {"width": 1280, "height": 900}],
                         ids=["phone", "desktop"])
def test_subscribing_confirming_and_unsubscribing_are_accessible_pages(app, live_server, page, territory, viewport):
    from flask import current_app

    from models import Subscription, db
    from models.operations.subscriptions import link_token

    page.set_viewport_size(viewport)
    page.goto(f"{live_server}/abonnement?lieu={territory.bij.slug}")
    check(page, "form", "Recevoir les rappels")
    page.fill("input[type=email], input[name=email]", "pas-une-adresse")
    page.click("button[type=submit]")
    error = page.locator("[role=alert]")
    assert error.is_visible() and page.locator("input[aria-invalid=true]").count() == 1
    check(page, "refused", "Recevoir les rappels")

    page.fill("input[type=email], input[name=email]", "lina@example.fr")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "lina@example.fr" in page.locator("main").inner_text()
    check(page, "requested", "Vérifiez votre boîte")

    db.session.rollback()  # what the server committed, not this session's snapshot
    subscription = db.session.scalar(db.select(Subscription).where(Subscription.email == "lina@example.fr"))
    token = link_token(subscription, current_app.config["SECRET_KEY"])
    page.goto(f"{live_server}/abonnement/confirmer/{token}")
    check(page, "confirmed", "Abonnement confirmé")
    page.goto(f"{live_server}/abonnement/desabonner/{token}")
    check(page, "unsubscribed", "Désabonnement effectué")
    page.goto(f"{live_server}/abonnement/confirmer/pas-un-jeton")
    check(page, "inactive", "Lien inactif")
