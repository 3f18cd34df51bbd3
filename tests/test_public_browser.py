"""The public pages in a real browser (Debian's Chromium): phone and desktop widths, what they show
against the API, accessibility (axe), framing from another origin, the screen without network."""
from __future__ import annotations

import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from public_territory import HOSTILE_TITLE, PRIVATE_TITLE, build_territory

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def territory(app, create_quartier, create_place, create_partner, create_event):
    return build_territory(create_quartier, create_place, create_partner, create_event)


def pages_of(t) -> dict[str, str]:
    return {
        "home": f"/?du={t.monday}",
        "quartier": f"/quartiers/{t.quartier.code}?du={t.monday}",
        "place": f"/lieux/{t.bij.slug}?du={t.monday}",
        "event": f"/evenements/{t.daily.id}",
        "screen": f"/ecran/{t.centre.slug}",
        "widget": f"/widget/quartiers/{t.quartier.code}",
        "snippet": f"/widget/?portee=lieu:{t.bij.slug}",
        # How to subscribe to a feed in one's calendar, and to email reminders.
        "subscribe": f"/agenda?flux=/feeds/places/{t.bij.slug}.ics",
        "email": f"/abonnement?lieu={t.bij.slug}",
        "partners": "/partenaires",
        "partner": f"/partenaires/{t.permanence.organisers[0].slug}",
        "privacy": "/donnees-personnelles",
        "notice": "/mentions-legales",
        "accessibility": "/accessibilite",
        "error": "/evenements/0",
    }


# The kind of page each one is, as the accessibility statement lists them (web/legal.py
# CHECKED_PAGES; tests/test_error_and_legal_pages.py checks both say the same).
PAGE_KINDS = {"home": "home", "quartier": "quartier", "place": "place", "event": "event", "screen": "screen",
              "widget": "widget", "snippet": "widget", "subscribe": "subscribe", "email": "subscribe",
              "partners": "partners", "partner": "partners",
              "privacy": "legal", "notice": "legal", "accessibility": "legal", "error": "legal"}
CHECKED_BY_AXE = set(PAGE_KINDS.values())


def api_window(t, days: int, **params) -> dict:
    return {"start": t.monday.isoformat(), "end": (t.monday + timedelta(days=days)).isoformat(), **params}


def shown(page) -> list[tuple[int, str, str]]:
    return page.eval_on_selector_all(
        "main li[data-event-id]",
        "items => items.map(li => [Number(li.dataset.eventId), li.dataset.startsAt, li.dataset.status])")


def from_api(page, base: str, params: dict) -> list[list]:
    response = page.request.get(f"{base}/api/v1/occurrences", params=params)
    assert response.ok
    return [[o["event_id"], o["starts_at"],
             "cancelled" if o["is_cancelled"] else ("moved" if o["is_moved"] else "confirmed")]
            for o in response.json()]


def serious_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_each_public_page_is_titled_french_landmarked_accessible_and_fits_the_screen(
        live_server, page, territory, viewport):
    page.set_viewport_size(viewport)
    assert set(pages_of(territory)) == set(PAGE_KINDS)
    for name, url in pages_of(territory).items():
        page.goto(live_server + url)
        assert page.locator("html").get_attribute("lang") == "fr", name
        title = page.title()
        assert title.endswith("— Maillage") and len(title) > 15, (name, title)
        assert page.locator("main").count() == 1, name
        assert page.locator("h1").count() == 1, name
        if name not in ("widget",):
            assert page.locator("header").count() >= 1 and page.locator("footer").count() >= 1, name
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (name, overflow)
        assert page.locator("[tabindex]:not([tabindex='-1']):not([tabindex='0'])").count() == 0, name
        assert serious_violations(page) == [], name
        assert PRIVATE_TITLE not in page.content(), name
        assert page.evaluate("window.__injected === undefined"), name


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_pages_show_what_the_api_gives(live_server, page, territory, viewport):
    t = territory
    page.set_viewport_size(viewport)
    page.goto(f"{live_server}/quartiers/{t.quartier.code}?du={t.monday}")
    assert shown(page) == from_api(page, live_server, api_window(t, 28, quartier=t.quartier.code))
    page.goto(f"{live_server}/lieux/{t.centre.slug}?du={t.monday}")
    expected = from_api(page, live_server, api_window(t, 28, place=t.centre.slug))
    assert shown(page) == expected
    assert sorted({s for _, _, s in expected} - {"confirmed"}) == ["cancelled", "moved"]
    page.goto(f"{live_server}/?du={t.monday}")
    week = from_api(page, live_server, api_window(t, 7))
    assert shown(page)[:len(week)] == week
    # The cancelled occurrence reads as cancelled, not only as a colour.
    page.goto(f"{live_server}/lieux/{t.centre.slug}?du={t.monday}")
    cancelled = page.locator(f"li[data-starts-at='{t.cancelled_start.isoformat()}']")
    assert "Annulé" in cancelled.inner_text()


def test_partner_text_is_shown_as_text_and_runs_nothing(live_server, page, territory):
    t = territory
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for url in (f"/evenements/{t.hostile.id}", f"/lieux/{t.bij.slug}", f"/widget/lieux/{t.bij.slug}",
                f"/ecran/{t.bij.slug}", f"/quartiers/{t.quartier.code}"):
        page.goto(live_server + url)
        assert HOSTILE_TITLE in page.locator("main").inner_text(), url
        assert page.locator("main img").count() == 0, url
    page.goto(f"{live_server}/evenements/{t.hostile.id}")
    assert page.locator("a[href^='javascript:']").count() == 0
    assert dialogs == []


def test_the_keyboard_reaches_the_content_first_and_in_reading_order(live_server, page, territory):
    t = territory
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server}/lieux/{t.bij.slug}?du={t.monday}")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Aller au contenu"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "contenu"
    # Every Tab lands on the next focusable element in reading (document) order.
    page.evaluate("""window.__tabbable = Array.from(document.querySelectorAll(
        'main a[href], main input, main select, main button, main textarea, footer a[href]'))
        .filter(e => e.offsetParent !== null)""")
    count = page.evaluate("window.__tabbable.length")
    assert count >= 8
    positions = []
    for _ in range(count):
        page.keyboard.press("Tab")
        positions.append(page.evaluate("window.__tabbable.indexOf(document.activeElement)"))
    assert positions == list(range(count))
    kinds = page.evaluate("window.__tabbable.map(e => e.tagName)")
    assert {"A", "INPUT", "BUTTON"} <= set(kinds)


def _host_page_server(html: str):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://localhost:{port}"  # another origin: other host name, other port


def test_the_widget_renders_inside_another_sites_page_and_other_pages_refuse_framing(
        live_server, page, territory):
    t = territory
    widget_url = f"{live_server}/widget/lieux/{t.centre.slug}"
    place_url = f"{live_server}/lieux/{t.centre.slug}"
    server, origin = _host_page_server(f"""<!doctype html><html lang="fr"><head><title>Centre social</title></head>
<body><div style="width:320px"><iframe id="widget" src="{widget_url}" title="Permanences"
 style="width:100%;min-height:420px;border:0"></iframe></div>
<iframe id="page" src="{place_url}" title="Page"></iframe></body></html>""")
    try:
        page.goto(origin)
        widget = page.frame_locator("#widget")
        widget.locator("li[data-event-id]").first.wait_for()
        frame = next(f for f in page.frames if f.url.startswith(widget_url))
        assert shown(frame) == from_api(page, live_server, {
            "place": t.centre.slug, "start": t.today.isoformat(),
            "end": (t.today + timedelta(days=14)).isoformat()})[:12]
        assert frame.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        assert frame.evaluate("document.documentElement.clientWidth") <= 320
        page.wait_for_timeout(300)
        refused = next(f for f in page.frames if f is not page.main_frame and not f.url.startswith(widget_url))
        assert refused.locator("main").count() == 0  # Chromium showed its own "refused to connect" page
    finally:
        server.shutdown()


def test_the_hall_screen_is_large_and_keeps_the_last_programme_when_the_network_drops(
        live_server, browser, app, territory):
    t = territory
    context = browser.new_context(locale="fr-FR", viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    try:
        url = f"{live_server}/ecran/{t.centre.slug}"
        page.goto(url)
        assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 24
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        page.reload()  # now under the service worker, which keeps a copy
        page.wait_for_function("navigator.serviceWorker.controller !== null")
        before = shown(page)
        assert before and (t.daily.id, t.cancelled_start.isoformat(), "cancelled") in [tuple(x) for x in before]
        assert "Programme à jour" in page.locator(".status").inner_text()

        context.set_offline(True)
        page.evaluate("window.maillageScreenRefresh()")
        status = page.locator(".status")
        assert "Hors connexion : programme chargé à" in status.inner_text()
        assert shown(page) == before
        page.reload()  # the screen's browser restarts without network
        assert shown(page) == before
        assert "Hors connexion : programme chargé à" in page.locator(".status").inner_text()

        context.set_offline(False)
        page.evaluate("window.maillageScreenRefresh()")
        assert "Programme à jour" in page.locator(".status").inner_text()
    finally:
        context.close()


def test_the_hall_screen_refreshes_itself_and_shows_a_cancellation_without_a_reload(
        live_server, page, app, territory, monkeypatch):
    from datetime import datetime, time

    from conftest import SYSTEM
    from models import db
    from public_territory import PARIS
    from scheduler.writes import cancel_occurrence

    t = territory
    monkeypatch.setitem(app.config, "SCREEN_REFRESH_SECONDS", 10)  # the script's floor
    page.goto(f"{live_server}/ecran/{t.centre.slug}")
    today_start = datetime.combine(t.today, time(9, 30), PARIS).isoformat()
    item = page.locator(f"li[data-starts-at='{today_start}']")
    assert item.get_attribute("data-status") == "confirmed"
    page.evaluate("window.__sameDocument = true")
    cancel_occurrence(SYSTEM, t.daily, datetime.combine(t.today, time(9, 30), PARIS), "Grève")
    db.session.commit()
    page.wait_for_selector(f"li[data-starts-at='{today_start}'][data-status='cancelled']", timeout=20_000)
    assert page.evaluate("window.__sameDocument === true")  # refreshed in place, not reloaded
    assert "Annulé" in item.inner_text()
