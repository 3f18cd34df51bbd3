"""The coordination pages in Debian's Chromium: a coordinator signs in, finds an overlap case of the
demo territory, accepts it whole with one reason from its page, comes back to the filtered list it
left and sees the case gone from it; axe finds nothing serious."""
from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(app):
    from commands.demo import DEMO_COORDINATOR, DEMO_PASSWORD, load_demo
    from models import db
    from scheduler.conflicts.check import run_full_detection

    load_demo()
    db.session.commit()
    run_full_detection()
    db.session.commit()
    return DEMO_COORDINATOR, DEMO_PASSWORD


def _sign_in(page, base, email, password):
    page.goto(base + "/coordination/")
    assert "/coordination/connexion" in page.url
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(base + "/coordination/")


def serious_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def test_a_coordinator_accepts_a_demo_conflict_and_it_leaves_the_open_list(live_server, page, demo):
    _sign_in(page, live_server, *demo)
    # Every kind of overlap of the demo is in the open list.
    for kind in ("Lieu ou salle occupé deux fois", "Personne attendue à deux endroits",
                 "Même public visé au même moment", "Capacité dépassée"):
        page.goto(f"{live_server}/coordination/?type=" + {
            "Lieu ou salle occupé deux fois": "place", "Personne attendue à deux endroits": "staff",
            "Même public visé au même moment": "audience", "Capacité dépassée": "capacity"}[kind])
        assert page.get_by_role("link", name=kind).count() >= 1, kind
    # The two job datings of Pissevin split the same young people: one case, decided in one action
    # from its page, and the coordinator comes back to the list they left, filters and all.
    filtered = f"{live_server}/coordination/?type=audience&quartier=QP030007"
    page.goto(filtered)
    card = page.locator("article.conflict", has_text="Job dating logistique")
    assert card.count() == 1
    assert "Job dating restauration" in card.inner_text()
    card.get_by_role("link", name="Même public visé au même moment").click()
    assert "/coordination/cas/" in page.url and "quartier=QP030007" in page.url
    case_url = page.url.split("?")[0]
    assert page.locator("h1").inner_text().startswith("Chevauchement")
    page.get_by_label("Raison de l’acceptation").fill(
        "Publics différents : logistique et restauration, orientation croisée.")
    page.get_by_role("button", name=re.compile(r"^Accepter (les \d+ dates|la date)$")).click()
    page.wait_for_url(re.compile(re.escape(live_server + "/coordination/?") + ".*quartier=QP030007"))
    assert "type=audience" in page.url
    assert "Chevauchement accepté" in page.locator("[role=status]").inner_text()
    # It left the open list (the one we came back to), and is in the accepted one with its reason.
    assert page.locator("article.conflict", has_text="Job dating logistique").count() == 0
    page.goto(f"{live_server}/coordination/?statut=accepted")
    accepted = page.locator("article.conflict", has_text="Job dating logistique")
    assert accepted.count() == 1
    assert "orientation croisée" in accepted.inner_text()
    page.goto(case_url)
    assert "Accepté" in page.locator("#resume").inner_text()
    assert page.get_by_role("button", name=re.compile("^Accepter")).count() == 0


def test_the_coordination_pages_have_no_serious_accessibility_violation(live_server, page, demo):
    page.goto(live_server + "/coordination/connexion")
    assert serious_violations(page) == [], "connexion"
    _sign_in(page, live_server, *demo)
    page.locator("article.conflict a").first.click()
    conflict_url = page.url
    page.locator("main a[href*='/coordination/evenements/']").first.click()
    event_url = page.url
    assert "/coordination/evenements/" in event_url
    for url in (live_server + "/coordination/", conflict_url, event_url,
                live_server + "/coordination/semaine?quartier=QP035005",
                live_server + "/coordination/?statut=accepted",
                # The other pages of the signed-in partners: what was sent, private links, import, sync.
                live_server + "/coordination/envois/", live_server + "/coordination/liens-prives",
                live_server + "/coordination/import", live_server + "/coordination/synchronisation"):
        page.goto(url)
        assert page.locator("html").get_attribute("lang") == "fr"
        assert page.title().endswith("— Maillage")
        assert page.locator("main").count() == 1 and page.locator("h1").count() == 1
        assert serious_violations(page) == [], url
    # The skip link is the first stop of the keyboard and leads to the content.
    page.goto(live_server + "/coordination/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Aller au contenu"


def test_signing_out_in_the_browser_ends_the_session(live_server, page, demo):
    _sign_in(page, live_server, *demo)
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url(live_server + "/coordination/connexion")
    page.goto(live_server + "/coordination/")
    assert "/coordination/connexion" in page.url


def test_the_accounts_page_deactivates_an_account_and_fits_a_phone(live_server, page, demo, tmp_path):
    from models import User, db

    _sign_in(page, live_server, *demo)
    page.goto(live_server + "/coordination/comptes/")
    assert serious_violations(page) == [], "comptes"
    button = page.get_by_role("button", name="Désactiver le compte").first
    label = button.get_attribute("aria-label")
    button.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(live_server + "/coordination/comptes/")
    assert "désactivé" in page.locator("[role=status]").inner_text()
    email = label.removeprefix("Désactiver le compte ")
    db.session.expire_all()
    assert not db.session.scalars(db.select(User).where(User.email == email)).one().is_active_account
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(tmp_path / f"comptes-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, width
