"""The map of the places (/carte) in Chromium: Leaflet served by Maillage, tiles from
MAP_TILES_URL answered here by Playwright's routing (nothing leaves the machine), the
attribution shown, markers reached and opened with the keyboard, the list beside it, axe."""
from __future__ import annotations

import base64

import pytest

from helpers.browser import serious_violations
from helpers.public_territory import build_territory

pytestmark = pytest.mark.browser

CHECKED_BY_AXE = {"map"}  # the accessibility statement's list (web/legal.py CHECKED_PAGES)
TILES = "https://tuiles.maillage.test/{z}/{x}/{y}.png"
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/"
                       "PchI7wAAAABJRU5ErkJggg==")  # one grey pixel


@pytest.fixture
def territory(app, monkeypatch, create_quartier, create_place, create_partner, create_event):
    monkeypatch.setitem(app.config, "MAP_TILES_URL", TILES)
    monkeypatch.setitem(app.config, "MAP_ATTRIBUTION", "© les contributeurs d'OpenStreetMap")
    t = build_territory(create_quartier, create_place, create_partner, create_event)
    grenoble = create_place("mjc-grenoble", "MJC de Grenoble", postcode="38100", city="Grenoble",
                            latitude=45.188, longitude=5.724)
    ml = create_partner("mission-locale-grenoble", "Mission locale de Grenoble")
    create_event(grenoble, [ml], title="Permanence à la MJC", start_date=t.monday, frequency="weekly", interval=1,
                 weekdays=[0, 1, 2, 3, 4], skip_public_holidays=False)
    return t


@pytest.fixture
def routed_page(browser):
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    tiles, requests = [], []
    page.route("https://tuiles.maillage.test/**", lambda route: (
        tiles.append(route.request.url), route.fulfill(status=200, content_type="image/png", body=PNG)))
    page.on("request", lambda request: requests.append(request.url))
    yield page, tiles, requests
    context.close()


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}, {"width": 1280, "height": 900}],
                         ids=["phone", "desktop"])
def test_the_map_shows_each_place_of_its_list_with_tiles_from_the_setting(live_server, routed_page, territory,
                                                                         viewport):
    page, tiles, requests = routed_page
    page.set_viewport_size(viewport)
    page.goto(f"{live_server}/carte")
    page.wait_for_selector(".leaflet-marker-icon")
    listed = page.eval_on_selector_all("#lieux-carte > li[data-lat]", "items => items.map(i => i.dataset.name)")
    markers = page.eval_on_selector_all(".leaflet-marker-icon", "icons => icons.map(i => i.alt)")
    assert sorted(markers) == sorted(listed) and {"BIJ d'Échirolles", "MJC de Grenoble"} <= set(markers)
    page.wait_for_function("document.querySelectorAll('.leaflet-tile-loaded').length > 0")
    assert tiles and all(t.startswith("https://tuiles.maillage.test/") for t in tiles)
    assert all(url.startswith((live_server, "https://tuiles.maillage.test/")) for url in requests), \
        "nothing but Maillage and the tile server is asked"
    assert f"{live_server}/static/vendor/leaflet/leaflet.js" in requests
    assert "© les contributeurs d'OpenStreetMap" in page.locator(".leaflet-control-attribution").inner_text()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    assert serious_violations(page) == []


def test_a_marker_is_reached_and_opened_with_the_keyboard(live_server, routed_page, territory):
    page, _, _ = routed_page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server}/carte?q=echirolles")
    page.wait_for_selector(".leaflet-marker-icon")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('leaflet-marker-icon')"):
            break
    else:
        pytest.fail("no marker reached with Tab")
    name = page.evaluate("document.activeElement.alt")
    page.keyboard.press("Enter")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert name in popup.inner_text() and "Prochain rendez-vous" in popup.inner_text()
    assert popup.locator("a").get_attribute("href").startswith("/lieux/")
    assert serious_violations(page) == []
