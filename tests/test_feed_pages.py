"""The pages of feeds, private links, import and sync, signed in through the real form."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpers.pages import csrf_token_in

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
    confirm = re.search(r'action="(/coordination/import/\d+/confirmer)"', text).group(1)
    done = client.post(confirm, data={"csrf_token": csrf_token_in(text)}, follow_redirects=True)
    assert "Import terminé : 3 créé(s), 0 modifié(s), 0 inchangé(s)" in _text(done)
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 3


def test_the_import_page_lists_every_located_error_of_a_refused_file(client, sign_in, create_partner, create_place):
    ml = create_partner("mission-locale-sud")
    create_place("bij-echirolles")
    sign_in(client, "conseillere@example.fr", role="editor", partner=ml)
    page = _text(client.get("/coordination/import"))
    response = client.post("/coordination/import", content_type="multipart/form-data", data={
        "csrf_token": csrf_token_in(page), "partner": "mission-locale-sud", "place": "bij-echirolles",
        "kind": "permanence", "visibility": "public",
        "file": (io.BytesIO((DATA / "malformed" / "week_numbers.ics").read_bytes()), "week_numbers.ics")})
    assert response.status_code == 422
    assert "rien n'a été importé" in _text(response) and "ligne 15" in _text(response)


def test_the_import_preview_says_a_double_booking_at_a_place_that_refuses_it_stops_the_import(
        client, sign_in, create_partner, create_place, create_event):
    from helpers.dates import next_working_monday
    from helpers.imports import two_sessions_from_next_monday
    from models import Event, Place, db

    form = _signed_in_editor(client, sign_in, create_partner, create_place)
    bij = db.session.scalar(sa.select(Place).where(Place.slug == "bij-echirolles"))
    bij.refuses_hard_conflicts = True
    create_event(bij, [create_partner("france-travail", type="france_travail")], title="Entretiens France Travail",
                 start_date=next_working_monday(), start_time="15:00", duration_minutes=60,
                 frequency="once", interval=1)
    preview = client.post("/coordination/import", content_type="multipart/form-data",
                          data={**form, "file": (io.BytesIO(two_sessions_from_next_monday()), "seances.ics")})
    page = _text(preview)
    assert preview.status_code == 200 and "Import impossible : rien ne sera importé" in page
    assert "chevauchement bloquant dans un lieu qui les refuse" in page and "Confirmer l'import" not in page
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 1


def test_the_sync_page_adds_a_calendar_runs_it_and_shows_the_last_result(client, sign_in, create_partner,
                                                                         create_place, published):
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
    from models.operations.users import get_or_create_user

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


# --- big files: the job's page, its progress, without and with JavaScript ---------------------

def _signed_in_editor(client, sign_in, create_partner, create_place):
    ml = create_partner("mission-locale-sud", name="Mission locale Sud")
    create_place("bij-echirolles", name="BIJ d'Échirolles")
    create_place("pimms-villeneuve", name="PIMMS Villeneuve")
    sign_in(client, "conseillere@example.fr", role="editor", partner=ml)
    page = _text(client.get("/coordination/import"))
    return {"csrf_token": csrf_token_in(page), "partner": "mission-locale-sud", "place": "bij-echirolles",
            "kind": "permanence", "visibility": "public"}


def test_a_big_file_goes_to_its_jobs_page_which_reloads_itself_without_javascript_until_the_outcome(
        client, sign_in, create_partner, create_place, app):
    from helpers.imports import big_calendar
    from models import Event, db
    from scheduler.ical.jobs import run_queued_jobs

    form = _signed_in_editor(client, sign_in, create_partner, create_place)
    answer = client.post("/coordination/import", content_type="multipart/form-data",
                         data={**form, "file": (io.BytesIO(big_calendar(300)), "grand.ics")})
    assert answer.status_code == 303
    job_url = answer.headers["Location"]
    assert re.fullmatch(r"/coordination/import/\d+", job_url)
    page = _text(client.get(job_url))
    assert "Aperçu de « grand.ics » en cours" in page and "300 événement(s) dans le fichier" in page
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in page
    assert '<progress id="import-job-bar" max="100" value="0">' in page and "En attente de traitement" in page
    assert client.get(job_url + "/etat").get_json() == {
        "id": int(job_url.rsplit("/", 1)[1]), "state": "queued", "step": "preview", "finished": False,
        "label": "En attente de traitement", "done": 0, "total": 0, "percent": 0}
    assert run_queued_jobs() == 1  # the clock's turn
    page = _text(client.get(job_url))
    assert "300 à créer" in page and "http-equiv" not in page
    confirm = re.search(r'action="(/coordination/import/\d+/confirmer)"', page).group(1)
    answer = client.post(confirm, data={"csrf_token": csrf_token_in(page)})
    assert answer.status_code == 303 and answer.headers["Location"] == job_url
    assert "Import de « grand.ics » en cours" in _text(client.get(job_url))
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 0
    assert run_queued_jobs() == 1
    page = _text(client.get(job_url))
    assert "Import de « grand.ics » terminé" in page and "300 créé(s), 0 modifié(s), 0 inchangé(s)" in page
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 300
    # Someone else's job is not found, and a confirmed one cannot be confirmed again.
    again = client.post(confirm, data={"csrf_token": csrf_token_in(page)}, follow_redirects=True)
    assert "déjà été confirmé" in _text(again)
    client.post("/coordination/deconnexion", data={"csrf_token": csrf_token_in(page)})
    sign_in(client, "autre@example.fr", role="coordinator")
    assert client.get(job_url).status_code == 404 and client.get(job_url + "/etat").status_code == 404


def test_a_file_over_the_import_limit_is_refused_on_the_page_in_french(client, sign_in, create_partner,
                                                                        create_place):
    form = _signed_in_editor(client, sign_in, create_partner, create_place)
    huge = b"BEGIN:VCALENDAR\r\n" + b"X-PADDING:" + b"x" * 21 * 1024 * 1024
    answer = client.post("/coordination/import", content_type="multipart/form-data",
                         data={**form, "file": (io.BytesIO(huge), "enorme.ics")})
    assert answer.status_code == 413
    page = _text(answer)
    assert "Le fichier dépasse 20 Mo : rien n&#39;a été importé." in page and "Envoyer un fichier" in page
    assert "(.ics ou .csv, 20 Mo au plus)" in page


def test_in_a_browser_a_big_import_shows_the_servers_progress_while_a_real_clock_works(
        live_server, page, app, create_partner, create_place, clock_process):
    """Chromium, the app served over HTTP, and `python -m scheduler` as the clock: the upload leads
    to the job's page, whose bar moves with the clock's work (reading, writing, overlaps), then the
    preview; the confirmation, then the import's progress and its outcome."""
    import time as timer

    from helpers.imports import big_calendar
    from models import Event, db
    from models.operations.users import get_or_create_user

    ml = create_partner("mission-locale-sud", name="Mission locale Sud")
    create_place("bij-echirolles", name="BIJ d'Échirolles")
    create_place("pimms-villeneuve", name="PIMMS Villeneuve")
    user = get_or_create_user("conseillere@example.fr", "editor", ml)
    user.set_password("un mot de passe solide")
    db.session.commit()
    clock_process()
    page.goto(f"{live_server}/coordination/connexion")
    page.fill("input[name=email]", "conseillere@example.fr")
    page.fill("input[name=password]", "un mot de passe solide")
    page.click("button[type=submit]")
    page.goto(f"{live_server}/coordination/import")
    # Long enough for the page, polling every second, to see the bar move: since the new events are
    # written in bulk, a step takes about 1.7 ms an event on SQLite and PostgreSQL alike here (800
    # events, a second: the page saw one value of the bar).
    count = 4000
    page.set_input_files("#file", {"name": "grand.ics", "mimeType": "text/calendar", "buffer": big_calendar(count)})
    page.click("#import-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/coordination/import/\d+$"))
    job_url = page.url

    def watch_until(text: str) -> list[tuple[str, int]]:
        """What the page shows, read every 100 ms, until `text` is on it."""
        shown, deadline = [], timer.monotonic() + 180
        while timer.monotonic() < deadline:
            if page.locator(f"text={text}").count():
                return shown
            bar = page.locator("#import-job-bar")
            if bar.count():
                try:
                    shown.append((page.locator("#import-job-phase").inner_text(timeout=1000),
                                  int(bar.get_attribute("value", timeout=1000) or 0)))
                except Exception:  # the page reloading between two reads
                    pass
            timer.sleep(0.1)
        pytest.fail(f"« {text} » never showed; the page showed {shown[-5:]}")

    shown = watch_until(f"{count} à créer")
    assert page.url == job_url  # the script reloaded the job's page once the preview was ready
    values = [v for _, v in shown]
    # Reading the file is half of a step, and most of it is icalendar's parse, which tells no
    # progress: the bar shows 0 there, then moves through the rest of the reading, the writing and
    # the overlaps in a few seconds, two of its values at least seen by a poll a second.
    assert values == sorted(values) and len({v for v in values if 0 < v < 100}) >= 2, shown
    # The overlap phase (one sweep per file) now lasts less than the page's one-second poll, so
    # only the long phase, the trial write, is sure to be seen.
    phases = {phase for phase, _ in shown}
    assert any(p.startswith("Essai d'enregistrement") for p in phases), shown
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 0
    page.click("text=Confirmer l'import")
    shown = watch_until("Import de « grand.ics » terminé")
    assert "Enregistrement des événements" in {phase for phase, _ in shown}, shown
    assert f"{count} créé(s)" in page.content()
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == count


def test_a_file_of_few_events_but_many_overlaps_goes_to_a_job_from_the_import_page(
        client, sign_in, create_partner, create_place, app):
    """Three events, thousands of overlaps: past IMPORT_INLINE_MAX_OVERLAP_WORK (lowered here)
    the page does not work it in the request (it might outlive gunicorn's timeout) but gives it
    to the clock, and shows the job's page; under it, the same file is previewed at once."""
    from datetime import date

    from bench.import_overlaps import parallel_file
    from helpers.dates import next_working_monday
    from scheduler.ical.jobs import run_queued_jobs

    form = _signed_in_editor(client, sign_in, create_partner, create_place)
    first = next_working_monday()
    calendar = parallel_file(3, first, date(first.year + 1, 12, 31))
    limit, app.config["IMPORT_INLINE_MAX_OVERLAP_WORK"] = app.config["IMPORT_INLINE_MAX_OVERLAP_WORK"], 1000
    try:
        answer = client.post("/coordination/import", content_type="multipart/form-data",
                             data={**form, "file": (io.BytesIO(calendar), "creneaux.ics")})
    finally:
        app.config["IMPORT_INLINE_MAX_OVERLAP_WORK"] = limit
    assert answer.status_code == 303 and re.fullmatch(r"/coordination/import/\d+", answer.headers["Location"])
    assert client.get(answer.headers["Location"] + "/etat").get_json()["state"] == "queued"
    assert run_queued_jobs() == 1
    assert "3 à créer" in _text(client.get(answer.headers["Location"]))
    inline = client.post("/coordination/import", content_type="multipart/form-data",
                         data={**form, "file": (io.BytesIO(calendar), "creneaux.ics")})
    assert inline.status_code == 200 and "3 à créer" in _text(inline)
