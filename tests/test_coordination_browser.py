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
    from scheduler.conflicts.nightly import run_full_detection

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


@pytest.mark.parametrize("width", [390, 1280])
def test_people_received_are_noted_with_the_keyboard_on_a_phone_and_a_desk(live_server, page, demo, width):
    """The demo's last four weeks in the list; the form of the latest session, typed and sent with
    the keyboard; both pages fit the width and axe finds nothing serious."""
    page.set_viewport_size({"width": width, "height": 900})
    _sign_in(page, live_server, *demo)
    page.goto(live_server + "/coordination/personnes-recues?quartier=QP038014")
    assert page.locator("main table tbody tr").count() > 0
    assert serious_violations(page) == [], "liste"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=f"/tmp/personnes-recues-liste-{width}.png", full_page=True)
    page.locator("main table tbody a").first.click()
    assert page.locator("h1").inner_text() == "Personnes reçues"
    assert page.evaluate("document.activeElement.id") == "total"  # ready to type
    assert serious_violations(page) == [], "formulaire"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.keyboard.press("Control+A")
    page.keyboard.type("9")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    assert "Merci : 9 personnes reçues notée(s)." in page.locator(".messages").inner_text()
    page.screenshot(path=f"/tmp/personnes-recues-formulaire-{width}.png", full_page=True)


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


def _open_case(page, base, filters, has_text):
    """From the filtered dashboard, the case whose card names `has_text`; returns the card's dates line."""
    page.goto(f"{base}/coordination/?{filters}")
    card = page.locator("article.conflict", has_text=has_text)
    assert card.count() == 1, has_text
    dates = card.locator(".case-dates").inner_text()
    card.locator("h3 a").click()
    assert "/coordination/cas/" in page.url and filters.split("&")[-1] in page.url
    return dates


def test_a_coordinator_accepts_a_25_date_case_in_one_action_and_gets_the_filters_back(live_server, page, demo):
    _sign_in(page, live_server, *demo)
    filters = "statut=open&type=staff&quartier=QP033012"
    dates = _open_case(page, live_server, filters, "Entretiens avec interprète")
    live = int(re.search(r"(\d+) ouvertes", dates).group(1))
    assert live >= 25, dates
    assert serious_violations(page) == [], page.url
    page.get_by_label("Raison de l’acceptation").fill("L'interprète intervient à distance pour l'une des deux.")
    page.get_by_role("button", name=f"Accepter les {live} dates").click()
    page.wait_for_url(f"{live_server}/coordination/?{filters}")
    assert f"({live})" in page.locator("[role=status]").inner_text()
    assert page.locator("article.conflict", has_text="Entretiens avec interprète").count() == 0
    assert page.locator("#quartier").input_value() == "QP033012"
    assert page.locator("#type").input_value() == "staff"


def test_a_coordinator_changes_the_room_on_all_dates_and_sees_the_case_closed(live_server, page, demo):
    _sign_in(page, live_server, *demo)
    filters = "statut=open&type=place&quartier=QP035005"
    _open_case(page, live_server, filters, "Atelier numérique de la régie")
    case_url = page.url.split("?")[0]
    side = page.locator("section.case-actions", has_text="Résoudre en modifiant « Atelier numérique de la régie »")
    side.locator("summary", has_text="Changer de salle").click()
    room = side.get_by_label("Salle", exact=True)
    assert "Salle du Gros-Chêne — libre à ces dates" in room.inner_text()
    room.select_option("Salle du Gros-Chêne")
    assert side.get_by_label("Toute la série").first.is_checked()
    assert serious_violations(page) == [], page.url
    side.get_by_role("button", name="Changer de salle").click()
    page.wait_for_url(f"{live_server}/coordination/?{filters}")
    assert "Chevauchement résolu (changement de salle)" in page.locator("[role=status]").inner_text()
    assert page.locator("article.conflict", has_text="Atelier numérique de la régie").count() == 0
    page.goto(case_url)
    assert "Résolu" in page.locator("#resume").inner_text()
    assert "0 date ouverte" in page.locator("#resume").inner_text()
    assert page.locator("section.case-actions").count() == 0


def test_a_coordinator_applies_a_proposed_free_slot_and_gets_the_filters_back(live_server, page, demo):
    _sign_in(page, live_server, *demo)
    filters = "statut=open&type=place&quartier=QP035005"
    dates = _open_case(page, live_server, filters, "Atelier numérique de la régie")
    before = int(re.search(r"(\d+) ouvertes", dates).group(1))
    side = page.locator("section.case-actions", has_text="Résoudre en modifiant « Atelier numérique de la régie »")
    slots = side.locator("ul.slots button")
    assert slots.count() == 3
    chosen = slots.first.inner_text()
    slots.first.click()
    page.wait_for_url(re.compile(re.escape(live_server + "/coordination/cas/") + r"\d+\?.*quartier=QP035005"))
    assert "type=place" in page.url
    assert "C'est enregistré (déplacement au " in page.locator("[role=status]").inner_text()
    assert f"{before - 1} dates ouvertes" in page.locator("#resume").inner_text()
    assert page.get_by_role("link", name="← Tous les chevauchements").get_attribute("href").endswith(
        "?" + filters)
    assert chosen.startswith("Déplacer au ")


def test_the_week_grid_scrolls_sideways_at_390_px_and_links_its_overlaps_to_their_cases(live_server, page, demo):
    _sign_in(page, live_server, *demo)
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{live_server}/coordination/semaine?vue=lieux")
    assert page.locator("table.week-grid").count() >= 1
    # The page itself does not scroll sideways; the day's table does.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.evaluate("Math.max(...[...document.querySelectorAll('.table-scroll')]"
                         ".map(d => d.scrollWidth - d.clientWidth))") > 0
    # The demo's series start next week; its link keeps the filters.
    page.get_by_role("link", name="Semaine suivante →").click()
    marker = page.locator("table.week-grid a.marker").first
    assert marker.count() == 1
    assert serious_violations(page) == [], page.url
    marker.click()
    assert "/coordination/cas/" in page.url
    page.goto(f"{live_server}/coordination/semaine?vue=personnes")
    page.get_by_role("link", name="Semaine suivante →").click()
    assert "vue=personnes" in page.url and page.locator("#vue").input_value() == "personnes"
    assert page.locator("table.week-grid thead th", has_text="Nadia Haddad").count() >= 1
    assert serious_violations(page) == [], page.url
