"""Issue 18's "done when", in Chromium at a phone's width: typing "38130" or "echirolles" shows
the BIJ d'Échirolles permanences on the first screen; "autour de moi" with a position in
Échirolles sorts them first, and sends only the rounded position."""
from __future__ import annotations

import pytest

from helpers.browser import serious_violations
from helpers.public_territory import build_territory

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
ECHIROLLES_BIJ = {"latitude": 45.14662, "longitude": 5.71953}


@pytest.fixture
def territory(app, create_quartier, create_place, create_partner, create_event):
    t = build_territory(create_quartier, create_place, create_partner, create_event)
    # Elsewhere in France, with its own permanence: never near Échirolles, never a 38130.
    rennes = create_place("centre-social-maurepas", "Centre social de Maurepas", postcode="35700", city="Rennes",
                          latitude=48.126, longitude=-1.660)
    grenoble = create_place("mjc-grenoble", "MJC de Grenoble", postcode="38100", city="Grenoble",
                            latitude=45.188, longitude=5.724)
    ml = create_partner("mission-locale-rennes", "Mission locale de Rennes")
    for place in (rennes, grenoble):
        create_event(place, [ml], title=f"Permanence à {place.name}", start_date=t.monday, frequency="weekly",
                     interval=1, weekdays=[0, 1, 2, 3, 4], skip_public_holidays=False)
    return t


def first_screen_items(page) -> list[str]:
    """The titles of the occurrences found that a phone shows without scrolling."""
    return page.eval_on_selector_all(
        "#trouves ~ .place-group li[data-event-id]",
        f"""items => items.filter(li => li.getBoundingClientRect().bottom <= {PHONE['height']})
                          .map(li => li.querySelector('.what a').textContent)""")


@pytest.mark.parametrize("typed", ["38130", "echirolles"])
def test_typing_a_postcode_or_a_commune_shows_the_bij_permanences_on_the_first_screen(
        live_server, page, territory, typed):
    page.set_viewport_size(PHONE)
    page.goto(live_server + "/")
    page.fill("#q", typed)
    page.press("#q", "Enter")
    page.wait_for_url(f"**q={typed}**")
    assert page.locator("#trouves").is_visible()
    first = first_screen_items(page)
    assert "Permanence mission locale au BIJ" in first, first
    groups = page.eval_on_selector_all(".place-group h3 a", "links => links.map(a => a.textContent)")
    assert groups[0] == "BIJ d'Échirolles" and "Centre social de Maurepas" not in groups
    assert serious_violations(page) == []
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0


def test_autour_de_moi_sorts_the_bij_first_and_sends_only_a_rounded_position(browser, live_server, territory):
    context = browser.new_context(locale="fr-FR", viewport=PHONE, geolocation=ECHIROLLES_BIJ,
                                  permissions=["geolocation"])
    page = context.new_page()
    sent = []
    page.on("request", lambda request: sent.append(request.url))
    try:
        page.goto(live_server + "/")
        explanation = page.locator("#autour-explication")
        assert explanation.is_visible() and "arrondie" in explanation.inner_text()
        page.click("#autour")
        page.wait_for_url("**pres=**")
        assert page.url.endswith("pres=45.15%2C5.72"), page.url
        assert not [url for url in sent if "45.146" in url or "5.719" in url], "the exact position never leaves"
        groups = page.eval_on_selector_all(".place-group h3 a", "links => links.map(a => a.textContent)")
        assert groups[0] == "BIJ d'Échirolles", groups
        assert groups.index("MJC de Grenoble") > 0 and "Centre social de Maurepas" not in groups
        assert "Permanence mission locale au BIJ" in first_screen_items(page)
        assert serious_violations(page) == []
    finally:
        context.close()


def test_autour_de_moi_refused_says_what_to_do_instead(browser, live_server, territory):
    context = browser.new_context(locale="fr-FR", viewport=PHONE)  # no permission given
    page = context.new_page()
    try:
        page.goto(live_server + "/")
        page.click("#autour")
        page.wait_for_function("document.getElementById('autour-etat').textContent.includes('code postal')")
        assert "Position refusée" in page.locator("#autour-etat").inner_text()
    finally:
        context.close()
