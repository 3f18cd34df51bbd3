"""The pages of feeds, private links, import and sync, signed in through the real form."""
from __future__ import annotations

import io
import re
from pathlib import Path

import sqlalchemy as sa

from test_sync import published  # noqa: F401  (the local HTTP server fixture)
from tests.conftest import csrf_token_in

DATA = Path(__file__).parent / "data"


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_the_subscribe_page_gives_https_and_webcal_links_and_says_how_for_each_calendar(client, create_place):
    create_place("bij-echirolles", name="BIJ d'Échirolles")
    page = _text(client.get("/agenda?flux=/feeds/places/bij-echirolles.ics"))
    assert 'value="http://maillage.test/feeds/places/bij-echirolles.ics"' in page
    assert 'href="webcal://maillage.test/feeds/places/bij-echirolles.ics"' in page
    for client_name in ("Outlook", "Google Agenda", "Apple Calendrier", "Thunderbird"):
        assert f">{client_name}" in page
    assert client.get("/agenda?flux=/etc/passwd").status_code == 404


def test_place_and_event_pages_link_to_the_subscribe_instructions(client, create_place, create_partner,
                                                                   create_event):
    place = create_place("bij-echirolles", name="BIJ d'Échirolles")
    page = _text(client.get("/lieux/bij-echirolles"))
    assert "/agenda?flux=/feeds/places/bij-echirolles.ics" in page
    event = create_event(place, [create_partner()], frequency="once", interval=1)
    assert f"/agenda?flux=/feeds/events/{event.id}.ics" in _text(client.get(f"/evenements/{event.id}"))


def test_a_signed_in_partner_creates_renews_and_revokes_a_private_link(client, sign_in, create_partner):
    ml = create_partner("mission-locale-sud", name="Mission locale Sud")
    sign_in(client, "conseillere@example.fr", role="editor", partner=ml)
    page = _text(client.get("/coordination/liens-prives"))
    created = _text(client.post("/coordination/liens-prives", data={
        "csrf_token": csrf_token_in(page), "action": "create", "owner": "partner", "label": "Outlook du bureau"}))
    address = re.search(r'value="http://maillage\.test(/feeds/private/[^"]+\.ics)"', created).group(1)
    assert "webcal://maillage.test/feeds/private/" in created and "Mission locale Sud" in created
    assert client.get(address).status_code == 200
    token_id = re.search(r'name="token_id" value="(\d+)"', created).group(1)
    renewed = _text(client.post("/coordination/liens-prives", data={
        "csrf_token": csrf_token_in(created), "action": "renew", "token_id": token_id}))
    new_address = re.search(r'value="http://maillage\.test(/feeds/private/[^"]+\.ics)"', renewed).group(1)
    assert client.get(address).status_code == 404 and client.get(new_address).status_code == 200
    new_id = max(int(i) for i in re.findall(r'name="token_id" value="(\d+)"', renewed))
    client.post("/coordination/liens-prives", data={"csrf_token": csrf_token_in(renewed), "action": "revoke",
                                                    "token_id": str(new_id)})
    assert client.get(new_address).status_code == 404


def test_the_private_links_page_needs_a_signed_in_user(client):
    response = client.get("/coordination/liens-prives")
    assert response.status_code == 302 and "/coordination/connexion" in response.headers["Location"]


def test_the_import_page_shows_a_preview_then_imports_on_confirmation(client, sign_in, create_partner, create_place):
    from models import Event, db

    ml = create_partner("mission-locale-sud", name="Mission locale Sud")
    create_place("bij-echirolles", name="BIJ d'Échirolles")
    sign_in(client, "conseillere@example.fr", role="editor", partner=ml)
    page = _text(client.get("/coordination/import"))
    assert "modèle" in page and 'enctype="multipart/form-data"' in page and "<progress" in page
    form = {"csrf_token": csrf_token_in(page), "partner": "mission-locale-sud", "place": "bij-echirolles",
            "kind": "permanence", "visibility": "public"}
    preview = client.post("/coordination/import", content_type="multipart/form-data",
                          data={**form, "file": (io.BytesIO((DATA / "outlook.ics").read_bytes()), "outlook.ics")})
    text = _text(preview)
    assert preview.status_code == 200 and "3 à créer" in text and "Permanence mission locale au BIJ" in text
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 0
    stored = re.search(r'name="stored" value="([0-9a-f]+)"', text).group(1)
    done = client.post("/coordination/import", data={**form, "csrf_token": csrf_token_in(text), "stored": stored,
                                                      "filename": "outlook.ics"}, follow_redirects=True)
    assert "Import terminé" in _text(done)
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 3


def test_the_import_page_lists_every_located_error_of_a_refused_file(client, sign_in, create_partner, create_place):
    ml = create_partner("mission-locale-sud")
    create_place("bij-echirolles")
    sign_in(client, "conseillere@example.fr", role="editor", partner=ml)
    page = _text(client.get("/coordination/import"))
    response = client.post("/coordination/import", content_type="multipart/form-data", data={
        "csrf_token": csrf_token_in(page), "partner": "mission-locale-sud", "place": "bij-echirolles",
        "kind": "permanence", "visibility": "public",
        "file": (io.BytesIO((DATA / "malformed" / "yearly.ics").read_bytes()), "yearly.ics")})
    assert response.status_code == 422
    assert "rien n'a été importé" in _text(response) and "ligne 15" in _text(response)


def test_the_sync_page_adds_a_calendar_runs_it_and_shows_the_last_result(client, sign_in, create_partner,
                                                                         create_place, published):  # noqa: F811
    from models import Event, db

    ml = create_partner("mission-locale-sud", name="Mission locale Sud")
    create_place("bij-echirolles", name="BIJ d'Échirolles")
    create_place("pimms-villeneuve", name="PIMMS Villeneuve")
    sign_in(client, "conseillere@example.fr", role="editor", partner=ml)
    page = _text(client.get("/coordination/synchronisation"))
    page = _text(client.post("/coordination/synchronisation", follow_redirects=True, data={
        "csrf_token": csrf_token_in(page), "action": "create", "url": published.url, "partner": "mission-locale-sud",
        "place": "bij-echirolles", "kind": "atelier", "interval_minutes": "60"}))
    assert published.url in page and "en attente" in page
    source_id = re.search(r'name="source_id" value="(\d+)"', page).group(1)
    page = _text(client.post("/coordination/synchronisation", follow_redirects=True, data={
        "csrf_token": csrf_token_in(page), "action": "run", "source_id": source_id}))
    assert "Importé : 2 créé(s)" in page
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 2


def test_in_a_browser_the_import_shows_its_progress_then_the_preview_and_imports(live_server, page, app,
                                                                                  create_partner, create_place):
    """Chromium: the form is sent by the page's script (progress bar), the preview replaces the page,
    and the confirmation imports."""
    from models import Event, db
    from models.users import get_or_create_user

    ml = create_partner("mission-locale-sud", name="Mission locale Sud")
    create_place("bij-echirolles", name="BIJ d'Échirolles")
    user = get_or_create_user("conseillere@example.fr", "editor", ml)
    user.set_password("un mot de passe solide")
    db.session.commit()
    page.goto(f"{live_server}/coordination/connexion")
    page.fill("input[name=email]", "conseillere@example.fr")
    page.fill("input[name=password]", "un mot de passe solide")
    page.click("button[type=submit]")
    page.goto(f"{live_server}/coordination/import")
    assert page.is_hidden("#import-progress")
    page.set_input_files("#file", str(DATA / "thunderbird.ics"))
    with page.expect_request(lambda r: r.method == "POST" and r.resource_type == "xhr"):
        page.click("#import-form button[type=submit]")  # sent by the script, which shows the progress
    page.wait_for_selector("text=2 à créer")
    assert page.url.endswith("/coordination/import")  # the same page, replaced by the server's answer
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 0
    page.click("text=Confirmer l'import")
    page.wait_for_selector("text=Import terminé")
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 2
