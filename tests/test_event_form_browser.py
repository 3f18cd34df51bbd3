"""The event form in Debian's Chromium, at phone and desktop widths: the mission locale's
counsellor creates a weekly permanence co-organised with the BIJ, sees the preview (a holiday
named, an overlap listed), saves, finds it on the public place page and in the BIJ's feed; then
changes its time from a date on, and both parts are right in the feed for icalendar +
recurring-ical-events and for ical.js. axe finds nothing serious or critical."""
from __future__ import annotations

import urllib.request
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.feed_readers import api_occurrences, with_icalendar, with_icaljs
from tests.test_coordination_browser import serious_violations

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
PARIS = ZoneInfo("Europe/Paris")
TITLE = "Permanence emploi du lundi au BIJ"


@pytest.fixture
def demo(app):
    from commands.demo import DEMO_EDITOR, DEMO_PASSWORD, load_demo
    from models import db

    load_demo()
    db.session.commit()
    return DEMO_EDITOR, DEMO_PASSWORD


def sign_in(page, base: str, email: str, password: str) -> None:
    page.goto(base + "/coordination/connexion")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(base + "/coordination/")


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1


def next_monday() -> date:
    today = datetime.now(PARIS).date()
    return today + timedelta(days=7 - today.weekday())


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_counsellor_creates_a_co_organised_permanence_then_changes_its_time_from_a_date_on(
        live_server, page, demo, viewport, client):
    page.set_viewport_size(viewport)
    sign_in(page, live_server, *demo)
    page.goto(live_server + "/coordination/evenements/nouveau")
    assert page.title() == "Nouvel évènement — Maillage" and fits(page)
    assert serious_violations(page) == []
    page.get_by_text("Le lieu n'est pas dans la liste ? L'ajouter").click()  # its fields, read by axe too
    assert page.get_by_label("Nom du lieu").is_visible() and fits(page) and serious_violations(page) == []
    page.get_by_text("Le lieu n'est pas dans la liste ? L'ajouter").click()
    assert page.get_by_label("Série mensuelle : le…").is_hidden(), "a weekly series does not ask for the month's week"

    start = next_monday()
    page.get_by_label("Titre").fill(TITLE)
    page.get_by_label("Chercher un lieu (nom, commune ou quartier)").fill("Villeneuve")
    page.get_by_role("button", name="Chercher").click()
    page.get_by_label("Lieu (obligatoire)").select_option("bij-echirolles")
    page.get_by_label("Bureau information jeunesse d'Échirolles").check()  # the co-organiser
    page.get_by_label("Date (de la première séance)").fill(start.isoformat())
    page.get_by_label("Début (obligatoire)").fill("14:00")
    page.get_by_label("Fin (obligatoire)").fill("17:00")
    page.get_by_label("Chaque semaine").check()
    page.get_by_label("lundi", exact=True).check()
    page.get_by_label("Jusqu'au").check()
    page.get_by_label("Date de fin").fill((start + timedelta(weeks=52)).isoformat())
    page.get_by_label("S'interrompre pendant les vacances scolaires").check()
    # Live (htmx) and on the button: the same preview.
    preview = page.locator("#apercu")
    preview.get_by_text("Dates sautées").wait_for()
    page.get_by_role("button", name="Voir l'aperçu").click()
    preview = page.locator("#apercu")
    text = preview.inner_text()
    assert "Tous les lundis de 14 h à 17 h, du " in text and "séances" in text
    skipped = preview.locator("h3:has-text('Dates sautées') + ul li").all_inner_texts()
    assert any(" : vacances" in s for s in skipped), skipped  # a Monday of the school holidays, named
    overlaps = preview.locator(".overlaps li").all_inner_texts()
    assert any("Permanence de la mission locale au BIJ" in o for o in overlaps), overlaps
    assert fits(page) and serious_violations(page) == []
    page.screenshot(path=f"/tmp/event-form-preview-{viewport['width']}.png", full_page=True)

    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url(f"{live_server}/coordination/evenements/*")
    assert "Évènement créé" in page.locator("[role=status]").inner_text()
    event_id = int(page.url.rsplit("/", 1)[1])
    assert page.locator(".series-dates li").count() >= 3, "the series page lists its coming dates"
    assert fits(page) and serious_violations(page) == []

    page.goto(live_server + "/lieux/bij-echirolles")
    assert page.get_by_text(TITLE).count() >= 1

    def feed_of_the_bij() -> bytes:
        with urllib.request.urlopen(live_server + "/feeds/partners/bij-echirolles.ics") as response:
            return response.read()

    lo = datetime.combine(start, datetime.min.time(), PARIS)
    hi = lo + timedelta(weeks=10)

    body = feed_of_the_bij()
    assert TITLE in body.decode()

    # From the third Monday on: 15 h – 18 h.
    page.goto(f"{live_server}/coordination/evenements/{event_id}/modifier")
    assert serious_violations(page) == [] and fits(page)
    page.get_by_label("Cette date et les suivantes").check()
    dates = page.locator("#champ-occurrence option").evaluate_all("options => options.map(o => o.value)")
    third = dates[3]  # after "—": the third session (a Monday of the holidays is none)
    page.get_by_label("Date concernée").select_option(third)
    page.get_by_label("Début (obligatoire)").fill("15:00")
    page.get_by_label("Fin (obligatoire)").fill("18:00")
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url(f"{live_server}/coordination/evenements/*")
    assert "coupée en deux" in page.locator("[role=status]").inner_text()

    body = feed_of_the_bij()
    expected = api_occurrences(client, start, start + timedelta(weeks=10), partner="bij-echirolles")
    for reader in (with_icalendar, with_icaljs):
        found = reader(body, lo, hi)
        assert found == expected, reader.__name__
    mine = sorted(o for o in expected if datetime.fromtimestamp(o[0], PARIS).weekday() == 0
                  and datetime.fromtimestamp(o[0], PARIS).hour in (14, 15))
    assert datetime.fromtimestamp(mine[0][0], PARIS).hour == 14  # the first part keeps its time
    assert {datetime.fromtimestamp(o[0], PARIS).hour for o in mine
            if datetime.fromtimestamp(o[0], PARIS).date() >= date.fromisoformat(third)} == {15}
