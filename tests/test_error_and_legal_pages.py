"""Error pages in French with a way back (the API keeps its JSON), the favicon, and the three
legal pages (personal data, legal notice, accessibility) linked from the footer of every page."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

ENGLISH = ("Not Found", "Method Not Allowed", "Bad Request", "Forbidden", "Internal Server Error",
           "Too Many Requests", "Request Entity Too Large", "The requested URL")
LEGAL_LINKS = ("/donnees-personnelles", "/mentions-legales", "/accessibilite")


def assert_french_page_with_a_way_back(response, status: int, title: str):
    html = response.get_data(as_text=True)
    assert response.status_code == status, html[:300]
    assert response.mimetype == "text/html"
    assert '<html lang="fr">' in html
    assert f"<h1>{title}</h1>" in html, html
    assert '<a href="/">Retour au programme de la semaine</a>' in html
    assert not [word for word in ENGLISH if word in html]


def footer_of(html: str) -> str:
    found = re.findall(r"<footer.*?</footer>", html, re.S)
    assert found, "no footer"
    return found[-1]


@pytest.mark.parametrize("url, title", [
    ("/evenements/abc", "Page introuvable"),
    ("/nulle-part", "Page introuvable"),
    ("/evenements/999999", "Page introuvable"),
    ("/lieux/inconnu", "Page introuvable"),
    ("/?du=demain", "Demande impossible"),
    ("/coordination/deconnexion", "Action impossible"),
])
def test_an_error_of_a_page_is_a_french_page_with_a_way_back(client, url, title):
    response = client.get(url)
    assert_french_page_with_a_way_back(response, {"Page introuvable": 404, "Demande impossible": 400,
                                                  "Action impossible": 405}[title], title)
    if title == "Action impossible":
        assert response.headers["Allow"]


def test_a_forbidden_page_is_french(client, sign_in, create_partner):
    partner = create_partner("mission-locale")
    sign_in(client, "conseillere@example.fr", role="editor", partner=partner)
    response = client.get("/coordination/envois/")
    assert_french_page_with_a_way_back(response, 403, "Accès refusé")
    assert '<a href="/coordination/">Retour à la coordination</a>' in response.get_data(as_text=True)


def test_a_body_too_large_for_a_page_is_a_french_page(client):
    response = client.post("/abonnement?lieu=x", data={"email": "a" * (2 * 1024 * 1024)})
    assert_french_page_with_a_way_back(response, 413, "Envoi trop volumineux")
    assert "1 Mo au plus" in response.get_data(as_text=True)


def test_too_many_requests_and_an_unexpected_error_are_french_pages(database_url):
    from app import create_app
    from models import db

    # An app of its own: limits on (the shared test app has none), and not TESTING, so that an
    # exception becomes the 500 page as in production instead of reaching the test.
    own = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test",
                      "BASE_URL": "http://maillage.test",
                      "RATELIMITS": {"public.home": "1 per hour", "occurrences": "1 per hour"}})

    def broken():
        raise RuntimeError("a bug")

    own.add_url_rule("/panne", view_func=broken)
    own.add_url_rule("/api/v1/panne", view_func=broken, endpoint="api_broken")
    try:
        client = own.test_client()
        client.get("/?du=2026-01-05")
        too_many = client.get("/?du=2026-01-05")
        assert_french_page_with_a_way_back(too_many, 429, "Trop de demandes")
        assert int(too_many.headers["Retry-After"]) > 0
        assert_french_page_with_a_way_back(client.get("/panne"), 500, "Erreur de notre côté")
        # The API keeps its JSON shape for the same errors.
        api = client.get("/api/v1/panne")
        assert api.status_code == 500 and set(api.get_json()) == {"code", "status", "message", "errors"}
        client.get("/api/v1/occurrences")
        limited = client.get("/api/v1/occurrences")
        assert limited.status_code == 429 and limited.get_json()["code"] == 429
    finally:
        with own.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("url, method", [("/api/v1/nothing", "get"), ("/api/v1/occurrences", "delete"),
                                         ("/feeds/places/inconnu.ics", "get")])
def test_the_api_and_the_feeds_keep_their_json_errors(client, url, method):
    response = getattr(client, method)(url)
    assert response.status_code in (404, 405)
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors"} and body["code"] == response.status_code


def test_the_favicon_is_served_and_named_by_every_page(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert 'rel="icon" href="/favicon.ico"' in client.get("/").get_data(as_text=True)
    assert client.get("/static/favicon.svg").status_code == 200


def test_the_three_legal_pages_are_linked_from_the_footer_of_every_page(
        app, client, sign_in, create_quartier, create_place, create_partner, create_event):
    """Every page: each GET route of the application that answers HTML (its arguments those of
    a real quartier, place, partner and event, or unknown ones, whose French error page counts
    too), anonymous and then signed in, redirects followed; plus a search's results."""
    from flask import url_for

    from conftest import next_monday

    quartier = create_quartier("QN03801M")
    place = create_place("bij-echirolles", quartier="QN03801M")
    partner = create_partner("mission-locale")
    event = create_event(place, [partner], start_date=next_monday())
    values = {"token": "jeton-inconnu", "case_id": 999999, "conflict_id": 999999, "job_id": 999999,
              "event_id": event.id, "recurrence_id": "20990101T000000Z", "key": place.slug, "code": quartier.code}

    def urls(prefix_wanted: bool) -> list[str]:
        found = []
        with app.test_request_context():
            for rule in app.url_map.iter_rules():
                if "GET" not in rule.methods or rule.rule.startswith(("/api", "/static", "/feeds")):
                    continue
                if rule.rule.startswith("/coordination/") != prefix_wanted:
                    continue
                slug = partner.slug if "partner" in rule.endpoint else place.slug
                found.append(url_for(rule.endpoint, **{name: values.get(name, slug) for name in rule.arguments}))
        return found

    def check(url_list: list[str]) -> int:
        pages = 0
        for url in url_list:
            response = client.get(url, follow_redirects=True)
            assert response.status_code in (200, 404), url
            if response.mimetype != "text/html":
                continue  # a feed, a PDF, a workbook, a script
            footer = footer_of(response.get_data(as_text=True))
            assert all(f'href="{link}"' in footer for link in LEGAL_LINKS), url
            pages += 1
        return pages

    public = check([*urls(False), "/?q=38130", "/nulle-part"])
    assert public >= 20
    sign_in(client)
    assert check(urls(True)) >= 15


def test_the_legal_pages_say_what_the_settings_say(app, client):
    app.config.update(LEGAL_PUBLISHER="Ville d'Échirolles, 1 place des Cinq-Fontaines", LEGAL_DIRECTOR="Mme R.",
                      LEGAL_HOST="Hébergeur SAS, 69000 Lyon", DATA_CONTROLLER="Ville d'Échirolles, service jeunesse",
                      CONTACT_EMAIL="dpo@echirolles.example")
    notice = client.get("/mentions-legales").get_data(as_text=True)
    for text in ("Ville d&#39;Échirolles, 1 place des Cinq-Fontaines", "Mme R.", "Hébergeur SAS, 69000 Lyon",
                 "mailto:dpo@echirolles.example"):
        assert text in notice
    privacy = client.get("/donnees-personnelles").get_data(as_text=True)
    assert "Ville d&#39;Échirolles, service jeunesse" in privacy and "mailto:dpo@echirolles.example" in privacy
    # What /abonnement keeps, how long, how to leave, and the young people's first names rule.
    for text in ("votre adresse électronique", "au bout de 7 jours", "au bout de 30 jours", "Se désabonner",
                 "prénom"):
        assert text in privacy, text
    statement = client.get("/accessibilite").get_data(as_text=True)
    assert "non conforme" in statement and "axe-core" in statement and "Défenseur des droits" in statement


def test_the_accessibility_statement_lists_the_pages_the_browser_tests_check():
    import test_map_browser
    import test_public_browser
    import test_subscription_browser
    from web.legal import AXE_VERSION, CHECKED_PAGES

    checked = (test_public_browser.CHECKED_BY_AXE | test_map_browser.CHECKED_BY_AXE
               | test_subscription_browser.CHECKED_BY_AXE)
    assert {key for _, key in CHECKED_PAGES} == checked
    from pathlib import Path

    import axe_playwright_python

    axe = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()[:40]
    assert f"axe v{AXE_VERSION}." in axe


def test_what_abonnement_collected_is_erased_when_its_time_is_over(app, create_place):
    from models import Delivery, Subscription, db, utcnow
    from models.operations.subscriptions import confirm, forget_stale_subscriptions, subscribe, unsubscribe

    place = create_place("bij-echirolles")
    now = utcnow()
    kept = confirm(subscribe("garde@example.fr", "place", place.id))
    fresh = subscribe("recent@example.fr", "place", place.id)
    unconfirmed = subscribe("jamais@example.fr", "place", place.id)
    unconfirmed.created_at = now - timedelta(days=8)
    left = unsubscribe(confirm(subscribe("parti@example.fr", "place", place.id)))
    left.unsubscribed_at = now - timedelta(days=31)
    just_left = unsubscribe(confirm(subscribe("vient-de-partir@example.fr", "place", place.id)))
    for i, (s, age) in enumerate([(kept, 400), (kept, 10), (left, 40)]):
        db.session.add(Delivery(key=f"d{i}", kind="reminder", recipient=s.email, subscription_id=s.id,
                                due_at=now, state="sent", created_at=now - timedelta(days=age)))
    db.session.flush()

    assert forget_stale_subscriptions(now) == 2
    assert forget_stale_subscriptions(now) == 0  # safe to run twice
    assert set(db.session.scalars(db.select(Subscription.email))) == {
        kept.email, fresh.email, just_left.email}
    assert list(db.session.scalars(db.select(Delivery.key))) == ["d1"]


def test_the_map_page_lists_the_places_and_lets_the_browser_load_tiles_from_the_setting(
        app, client, monkeypatch, create_place, create_partner, create_event):
    from pathlib import Path

    from conftest import paris_today

    monkeypatch.setitem(app.config, "MAP_TILES_URL", "https://{s}.tuiles.example.fr/{z}/{x}/{y}.png")
    place = create_place("bij-echirolles", "BIJ d'Échirolles", latitude=45.146, longitude=5.717)
    create_event(place, [create_partner("mission-locale")], title="Permanence au BIJ", start_date=paris_today(),
                 frequency="daily", interval=1, count=20, skip_public_holidays=False)
    response = client.get("/carte")
    html = response.get_data(as_text=True)
    assert 'data-lat="45.146" data-lon="5.717" data-name="BIJ d&#39;Échirolles"' in html
    assert "Permanence au BIJ" in html and 'data-tiles="https://{s}.tuiles.example.fr/{z}/{x}/{y}.png"' in html
    assert "img-src 'self' data: https://*.tuiles.example.fr;" in response.headers["Content-Security-Policy"]
    vendored = Path(__file__).resolve().parent.parent / "static" / "vendor" / "leaflet"
    assert "BSD 2-Clause" in (vendored / "LICENSE").read_text() and (vendored / "leaflet.js").exists()
