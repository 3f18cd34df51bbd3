"""The public pages, read as a young person (or a hostile partner) would, without a browser."""
from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, timedelta
from html.parser import HTMLParser
from io import BytesIO

import pytest

from helpers.api_pages import all_occurrences
from helpers.public_territory import HOSTILE_DESCRIPTION, PRIVATE_TITLE, build_territory


@pytest.fixture
def territory(app, create_quartier, create_place, create_partner, create_event):
    return build_territory(create_quartier, create_place, create_partner, create_event)


class _Occurrences(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "li" and "data-event-id" in attrs:
            self.found.append((int(attrs["data-event-id"]), attrs["data-starts-at"], attrs.get("data-status")))


def shown(html: str) -> list[tuple[int, str, str]]:
    parser = _Occurrences()
    parser.feed(html)
    return parser.found


def api_occurrences(client, **params) -> list[tuple[int, str, str]]:
    return [(o["event_id"], o["starts_at"],
             "cancelled" if o["is_cancelled"] else ("moved" if o["is_moved"] else "confirmed"))
            for o in all_occurrences(client, **params)]


def test_the_quartier_page_shows_what_the_api_gives_for_the_same_four_weeks(client, territory):
    t = territory
    html = client.get(f"/quartiers/{t.quartier.code}?du={t.monday}").get_data(as_text=True)
    expected = api_occurrences(client, quartier=t.quartier.code, start=t.monday.isoformat(),
                               end=(t.monday + timedelta(days=28)).isoformat())
    assert len(expected) > 30
    assert shown(html) == expected


def test_the_home_page_shows_the_weeks_occurrences_as_the_api_does(client, territory):
    t = territory
    html = client.get(f"/?du={t.monday}").get_data(as_text=True)
    expected = api_occurrences(client, start=t.monday.isoformat(), end=(t.monday + timedelta(days=7)).isoformat())
    week = shown(html)[:len(expected)]
    assert week == expected
    # Coming events by quartier: the job dating, under its quartier's name.
    assert "Prochains événements par quartier" in html and "Job dating logistique" in html


def test_the_place_page_gives_address_map_access_and_its_programme(client, territory):
    t = territory
    html = client.get(f"/lieux/{t.bij.slug}?du={t.monday}").get_data(as_text=True)
    assert "2 place des Écrins" in html and "Accès de plain-pied" in html
    assert "https://www.openstreetmap.org/?mlat=45.1466&amp;mlon=5.7195" in html
    assert shown(html) == api_occurrences(client, place=t.bij.slug, start=t.monday.isoformat(),
                                          end=(t.monday + timedelta(days=28)).isoformat())
    assert f'href="/feeds/places/{t.bij.slug}.ics"' in html
    assert f'href="webcal://maillage.test/feeds/places/{t.bij.slug}.ics"' in html
    assert f'href="/lieux/{t.bij.slug}/affiche.pdf?du={t.monday}"' in html


def test_a_cancelled_and_a_moved_occurrence_stay_on_their_date_marked_as_such(client, territory):
    t = territory
    html = client.get(f"/lieux/{t.centre.slug}").get_data(as_text=True)
    statuses = {starts: status for eid, starts, status in shown(html) if eid == t.daily.id}
    assert statuses[t.cancelled_start.isoformat()] == "cancelled"
    moved_to = t.moved_start.replace(hour=11).isoformat()
    assert statuses[moved_to] == "moved" and t.moved_start.isoformat() not in statuses
    assert "Annulé" in html and "Déplacé" in html and "prévu d'abord le" in html


def test_the_event_page_tells_dates_partners_audience_registration_and_calendar_links(client, territory):
    t = territory
    html = client.get(f"/evenements/{t.job_dating.id}").get_data(as_text=True)
    assert "<title>Job dating logistique — Maillage</title>" in html
    assert "Public : 18–30 ans" in html and "Mission locale Sud-Isère" in html
    assert 'href="https://inscription.example.fr/jd"' in html
    assert "Transports Alpes" in html
    assert f'href="/feeds/events/{t.job_dating.id}.ics"' in html
    assert f'href="webcal://maillage.test/feeds/events/{t.job_dating.id}.ics"' in html
    daily = client.get(f"/evenements/{t.daily.id}").get_data(as_text=True)
    assert (t.daily.id, t.cancelled_start.isoformat(), "cancelled") in shown(daily)


def test_the_filters_a_young_person_understands(client, territory):
    t = territory
    base = f"/quartiers/{t.quartier.code}?du={t.monday}"
    walk_in = {eid for eid, _, _ in shown(client.get(base + "&sans_rdv=1").get_data(as_text=True))}
    assert walk_in == {t.permanence.id}
    job = {eid for eid, _, _ in shown(client.get(base + "&type=job_dating").get_data(as_text=True))}
    assert job == {t.job_dating.id}
    young = {eid for eid, _, _ in shown(client.get(base + "&jeunes=1").get_data(as_text=True))}
    # Open age bands count as for everyone; 18–30 meets 16–25.
    assert young == {t.permanence.id, t.job_dating.id, t.daily.id, t.hostile.id}
    redirect = client.get(f"/?quartier={t.quartier.code}&sans_rdv=1")
    assert redirect.status_code == 302
    assert redirect.headers["Location"] == f"/quartiers/{t.quartier.code}?sans_rdv=1"


def test_the_young_filter_leaves_out_events_for_older_people(client, territory, create_event):
    t = territory
    create_event(t.bij, t.permanence.organisers, title="Club des plus de 45 ans", start_date=t.today,
                 age_min=45, frequency="once", skip_public_holidays=False)
    html = client.get(f"/lieux/{t.bij.slug}?jeunes=1").get_data(as_text=True)
    assert "Club des plus de 45 ans" not in html
    assert "Club des plus de 45 ans" in client.get(f"/lieux/{t.bij.slug}").get_data(as_text=True)


PUBLIC_PAGES = [
    "/", "/?du={monday}", "/quartiers/{quartier}?du={monday}", "/lieux/{bij}?du={monday}", "/lieux/{centre}",
    "/ecran/{bij}", "/ecran/{quartier}", "/widget/lieux/{bij}", "/widget/quartiers/{quartier}",
    "/widget/partenaires/mission-locale-sud-isere", "/widget/?portee=lieu:{bij}",
    "/evenements/{permanence}", "/evenements/{hostile}",
]


def _urls(t):
    values = {"monday": t.monday, "quartier": t.quartier.code, "bij": t.bij.slug, "centre": t.centre.slug,
              "permanence": t.permanence.id, "hostile": t.hostile.id}
    return [u.format(**values) for u in PUBLIC_PAGES]


def test_partners_only_events_never_reach_a_public_page_widget_or_screen(client, territory):
    t = territory
    for url in _urls(t):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        assert PRIVATE_TITLE not in html, url
        assert t.private.id not in {eid for eid, _, _ in shown(html)}, url
    missing = client.get(f"/evenements/{t.private.id}")
    assert missing.status_code == 404 and PRIVATE_TITLE not in missing.get_data(as_text=True)
    assert "Événement inconnu" in missing.get_data(as_text=True)


def test_partner_text_cannot_inject_html_or_script_in_any_page(client, territory):
    t = territory
    for url in _urls(t):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html, url
        assert 'href="javascript:' not in html, url
        assert "<b>femmes</b>" not in html, url
    event_page = client.get(f"/evenements/{t.hostile.id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;titre&#34;)&lt;/script&gt;" in event_page  # shown as text
    assert "&lt;b&gt;femmes&lt;/b&gt;" in event_page
    assert "S&#39;inscrire" not in event_page  # a javascript: URL never becomes a link
    assert '<script src="/static/ecran.js" defer></script>' not in event_page
    assert HOSTILE_DESCRIPTION not in event_page


def test_every_page_but_the_widget_refuses_framing_and_all_carry_security_headers(client, territory):
    t = territory
    for url in _urls(t) + [f"/lieux/{t.bij.slug}/affiche.pdf", "/nulle-part"]:
        response = client.get(url)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp, url
        framable = url.startswith("/widget/") and not url.startswith("/widget/?")
        assert ("frame-ancestors *" in csp) == framable, url
        assert ("frame-ancestors 'none'" in csp) != framable, url
        assert (response.headers.get("X-Frame-Options") == "DENY") != framable, url
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


class _Scripts(HTMLParser):
    """Every script the browser would run: script elements, event-handler attributes, js: links."""

    def __init__(self):
        super().__init__()
        self.inline, self.sources = [], []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.inline.append((tag, name, value))
        if tag == "script" and dict(attrs).get("type") != "application/ld+json":  # data, never run
            src = dict(attrs).get("src")
            (self.sources if src else self.inline).append(src or tag)


OUR_SCRIPTS = {"/static/ecran.js", "/static/autour.js", "/static/partage.js", "/static/widget.js",
               "/static/widget-apercu.js"}


def test_no_page_carries_inline_script_and_partner_text_adds_none(client, territory):
    for url in _urls(territory):
        parser = _Scripts()
        parser.feed(client.get(url).get_data(as_text=True))
        assert parser.inline == [], url
        assert set(parser.sources) <= OUR_SCRIPTS, url


def test_a_page_never_shows_stale_data_after_a_write(client, territory, token_for):
    t = territory
    url = f"/lieux/{t.bij.slug}?du={t.monday}"
    assert "Permanence mission locale au BIJ" in client.get(url).get_data(as_text=True)
    assert "Permanence mission locale au BIJ" in client.get(url).get_data(as_text=True)  # cached now
    headers = token_for()
    response = client.patch(f"/api/v1/events/{t.permanence.id}", headers=headers,
                            json={"title": "Permanence déplacée au 1er étage"})
    assert response.status_code == 200, response.get_json()
    html = client.get(url).get_data(as_text=True)
    assert "Permanence déplacée au 1er étage" in html and "Permanence mission locale au BIJ" not in html
    screen = client.get(f"/ecran/{t.bij.slug}").get_data(as_text=True)
    assert "Permanence déplacée au 1er étage" in screen or t.today.weekday() not in (0, 2)


def test_a_cancellation_reaches_the_cached_screen_at_once(client, territory):
    from datetime import datetime, time

    from helpers.actors import SYSTEM
    from helpers.public_territory import PARIS
    from models import db
    from scheduler.writes import cancel_occurrence

    t = territory
    today_start = datetime.combine(t.today, time(9, 30), PARIS)
    before = shown(client.get(f"/ecran/{t.centre.slug}").get_data(as_text=True))
    assert (t.daily.id, today_start.isoformat(), "confirmed") in before
    cancel_occurrence(SYSTEM, t.daily, today_start, "Grève")
    db.session.commit()
    after = shown(client.get(f"/ecran/{t.centre.slug}").get_data(as_text=True))
    assert (t.daily.id, today_start.isoformat(), "cancelled") in after


def test_unknown_places_and_bad_dates_get_a_french_page(client, territory):
    response = client.get("/lieux/nulle-part")
    assert response.status_code == 404 and "Lieu inconnu" in response.get_data(as_text=True)
    assert 'lang="fr"' in response.get_data(as_text=True)
    assert client.get("/quartiers/QN000").status_code == 404
    assert client.get("/ecran/rien").status_code == 404
    assert client.get("/?du=demain").status_code == 400
    far = client.get("/?du=9999-12-31")
    assert far.status_code == 400 and "au plus un an" in far.get_data(as_text=True)
    assert 'lang="fr"' in far.get_data(as_text=True) and "Bad Request" not in far.get_data(as_text=True)
    assert client.get(f"/lieux/{territory.bij.slug}/affiche.pdf?du=0001-01-01").status_code == 400
    assert client.get("/evenements/99999999999").status_code == 404


def test_the_snippet_page_builds_an_iframe_for_a_place_with_filters(client, territory):
    t = territory
    html = client.get(f"/widget/?portee=lieu:{t.bij.slug}&jeunes=1").get_data(as_text=True)
    assert (f"&lt;iframe src=&#34;http://maillage.test/widget/lieux/{t.bij.slug}?jeunes=1&#34;"
            in html)
    assert f'<iframe class="preview" src="/widget/lieux/{t.bij.slug}?jeunes=1"' in html


# --- the poster ----------------------------------------------------------------------------

def _pdf_text(pdf: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)


def _qr_codes(pdf: bytes, tmp_path) -> list[str]:
    import zxingcpp
    from PIL import Image

    assert shutil.which("pdftoppm"), "pdftoppm missing: run `make system-deps` (poppler-utils)"
    (tmp_path / "poster.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-gray", "-png", "-f", "1", "-l", "1",
                    str(tmp_path / "poster.pdf"), str(tmp_path / "page")], check=True)
    image = Image.open(next(tmp_path.glob("page*.png")))
    return [r.text for r in zxingcpp.read_barcodes(image)]


def test_the_weekly_poster_is_an_a4_pdf_with_the_week_and_a_qr_code_to_the_page(client, territory, tmp_path):
    from pypdf import PdfReader

    t = territory
    response = client.get(f"/lieux/{t.centre.slug}/affiche.pdf?du={t.monday}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = response.get_data()
    box = PdfReader(BytesIO(pdf)).pages[0].mediabox
    assert (round(float(box.width) * 25.4 / 72), round(float(box.height) * 25.4 / 72)) == (210, 297)
    text = _pdf_text(pdf)
    assert "Centre social Surieux" in text and "Accueil emploi du matin" in text
    assert "Job dating logistique" in text
    if t.cancelled_start.date() - t.monday < timedelta(days=7):
        assert "ANNULÉ" in text
    assert PRIVATE_TITLE not in text
    assert _qr_codes(pdf, tmp_path) == [f"http://maillage.test/lieux/{t.centre.slug}"]


def test_the_quartier_poster_keeps_partner_text_as_text_and_leaves_private_events_out(client, territory, tmp_path):
    t = territory
    pdf = client.get(f"/quartiers/{t.quartier.code}/affiche.pdf?du={t.monday}").get_data()
    text = _pdf_text(pdf)
    assert '<script>alert("titre")</script>' in text.replace("\n", "")  # printed as typed, not run
    assert PRIVATE_TITLE not in text
    assert _qr_codes(pdf, tmp_path) == [f"http://maillage.test/quartiers/{t.quartier.code}"]


def test_the_event_pages_calendar_link_gives_that_series_alone_as_both_parsers_read_it(client, territory):
    from datetime import datetime, time

    from helpers.feed_readers import with_icalendar, with_vobject
    from helpers.public_territory import PARIS

    t = territory
    html = client.get(f"/evenements/{t.daily.id}").get_data(as_text=True)
    link = re.search(r'href="(/feeds/events/\d+\.ics)"', html).group(1)
    response = client.get(link)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    body = response.get_data()
    assert body.count(b"BEGIN:VEVENT") >= 1 and t.daily.uid.encode() in body
    assert t.permanence.uid.encode() not in body
    start = datetime.combine(t.monday, time(), PARIS)
    end = start + timedelta(days=28)
    expected = {(int(datetime.fromisoformat(s).timestamp()), status == "cancelled")
                for eid, s, status in api_occurrences(client, place=t.centre.slug, start=t.monday.isoformat(),
                                                      end=(t.monday + timedelta(days=28)).isoformat())
                if eid == t.daily.id}
    for read in (with_icalendar, with_vobject):
        assert {(s, cancelled) for s, _, cancelled in read(body, start, end)} == expected, read.__name__
    assert client.get(f"/feeds/events/{t.private.id}.ics").status_code == 404


def test_the_first_occurrences_of_a_window_are_those_the_full_read_gives(app, territory):
    """The home page's light read (rows, not models) against the shared read side."""
    from dataclasses import replace
    from datetime import datetime, time

    from helpers.public_territory import PARIS
    from scheduler.time.calendar import CalendarFilter, first_occurrences_between, occurrences_between

    t = territory
    start = datetime.combine(t.monday, time(), PARIS)
    end = start + timedelta(days=28)
    for f in (CalendarFilter(), CalendarFilter(place=t.centre.slug), CalendarFilter(walk_in=True),
              CalendarFilter(kinds=("job_dating", "atelier")), CalendarFilter(tag="<B>FEMMES</B>"),
              CalendarFilter(age_band=(16, 25)), CalendarFilter(quartier=t.quartier.code)):
        full = [(replace(o, person_ids=()), e.id) for o, e in occurrences_between(f, start, end)]
        first, total = first_occurrences_between(f, start, end, limit=5)
        assert total == len(full) and full, f
        assert [(replace(o, person_ids=()), e.id) for o, e in first] == full[:5], f


def _versions(*scopes) -> dict[str, str]:
    from models.versions import versions_of

    return dict(part.split("=") for part in versions_of(scopes).split(","))


def test_a_write_raises_the_versions_of_what_it_shows_once_at_commit_and_nothing_else(app, territory):
    from helpers.actors import SYSTEM
    from models import db
    from models.versions import ALL_EVENTS, event_scope, partner_scope, place_scope, quartier_scope
    from scheduler.writes import update_event

    t = territory
    shown_by_it = (ALL_EVENTS, event_scope(t.job_dating.id), place_scope(t.centre.slug),
                   quartier_scope(t.quartier.code), partner_scope("mission-locale-sud-isere"))
    elsewhere = (place_scope(t.bij.slug), partner_scope("centre-social-surieux"), event_scope(t.permanence.id))
    before = _versions(*shown_by_it, *elsewhere)
    db.session.commit()  # nothing written
    assert _versions(*shown_by_it, *elsewhere) == before
    update_event(SYSTEM, t.job_dating, {"title": "Job dating du transport"})
    db.session.flush()
    assert _versions(*shown_by_it) == {s: before[s] for s in ("*", *shown_by_it)}  # at commit, not before
    db.session.commit()
    after = _versions(*shown_by_it, *elsewhere)
    for scope in shown_by_it:  # the territory's own writes gave each of them a first number
        assert before[scope] != "0" and int(after[scope]) == int(before[scope]) + 1, scope
    assert {s: after[s] for s in ("*", *elsewhere)} == {s: before[s] for s in ("*", *elsewhere)}
    update_event(SYSTEM, t.job_dating, {"title": "Job dating annulé ?"})
    db.session.rollback()
    assert _versions(*shown_by_it, *elsewhere) == after


def test_moving_an_occurrence_to_another_place_raises_both_places(app, territory):
    from datetime import datetime, time

    from helpers.actors import SYSTEM
    from helpers.public_territory import PARIS
    from models import db
    from models.versions import place_scope
    from scheduler.writes import move_occurrence

    t = territory
    before = _versions(place_scope(t.bij.slug), place_scope(t.centre.slug))
    start = datetime.combine(t.monday + timedelta(days=7), time(14), PARIS)  # the permanence, at the BIJ
    move_occurrence(SYSTEM, t.permanence, start, place=t.centre.slug)
    db.session.commit()
    after = _versions(place_scope(t.bij.slug), place_scope(t.centre.slug))
    assert after[place_scope(t.bij.slug)] != before[place_scope(t.bij.slug)]
    assert after[place_scope(t.centre.slug)] != before[place_scope(t.centre.slug)]


def test_writes_to_places_partners_or_people_raise_everything_and_a_deleted_event_its_own_scopes(
        app, territory, create_place):
    from models import Event, db
    from models.versions import ALL_EVENTS, partner_scope, place_scope

    t = territory
    before = _versions(ALL_EVENTS)
    create_place("pij-surieux", "PIJ Surieux", quartier=t.quartier.code)
    after = _versions(ALL_EVENTS)
    assert after["*"] != before["*"] and after[ALL_EVENTS] == before[ALL_EVENTS]

    scopes = (ALL_EVENTS, place_scope(t.centre.slug), partner_scope("mission-locale-sud-isere"))
    before = _versions(*scopes)
    db.session.delete(db.session.get(Event, t.job_dating.id))
    db.session.commit()
    after = _versions(*scopes)
    assert all(after[s] != before[s] for s in scopes) and after["*"] == before["*"]


def test_a_write_keeps_the_cached_pages_of_other_places_and_rebuilds_its_own(client, territory, token_for):
    from web.public.cache import page_cache

    t = territory
    bij, centre = f"/lieux/{t.bij.slug}?du={t.monday}", f"/lieux/{t.centre.slug}?du={t.monday}"
    client.get(bij), client.get(centre)
    cached = set(page_cache().pages)
    response = client.patch(f"/api/v1/events/{t.job_dating.id}", headers=token_for(),  # at the centre
                            json={"title": "Job dating du transport"})
    assert response.status_code == 200, response.get_json()
    assert "Job dating du transport" in client.get(centre).get_data(as_text=True)
    client.get(bij)
    new_entries = [k for k in page_cache().pages if k not in cached]
    assert [k[3] for k in new_entries] == [t.centre.slug], new_entries  # the BIJ's page was not built again


def test_a_page_built_by_one_process_is_served_by_another_without_building_it_again_and_never_once_stale(
        app, client, territory, token_for, database_url):
    """Two apps on one database stand for two web processes (each has its own memory)."""
    from datetime import datetime

    import sqlalchemy as sa

    from app import create_app
    from models import PageState, db
    from models.versions import PAGE_STATES_KEPT

    t = territory
    other = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test", "RATELIMITS": {},
                        "BASE_URL": "http://maillage.test"})
    try:
        forgotten = datetime.now(UTC) - PAGE_STATES_KEPT - timedelta(hours=1)
        db.session.add(PageState(key="a page of three days ago", marker="m", body=b"old", built_at=forgotten))
        db.session.commit()
        path = f"/lieux/{t.centre.slug}"
        assert "Accueil emploi du matin" in client.get(path).get_data(as_text=True)
        keys = set(db.session.scalars(sa.select(PageState.key)))
        assert len(keys) == 1 and "a page of three days ago" not in keys  # built, shared; past days dropped
        # What the other process serves is what is stored, not a page of its own: mark the stored one.
        stored = db.session.get(PageState, keys.pop())
        stored.body = stored.body.replace(b"</main>", b"<p>copie commune</p></main>")
        db.session.commit()
        assert "copie commune" in other.test_client().get(path).get_data(as_text=True)

        response = client.patch(f"/api/v1/events/{t.daily.id}", headers=token_for(),
                                json={"title": "Accueil emploi renouvelé"})
        assert response.status_code == 200, response.get_json()
        fresh = other.test_client().get(path).get_data(as_text=True)
        assert "Accueil emploi renouvelé" in fresh and "copie commune" not in fresh
        # Another day (?du=, one of 733) stays in the process that built it.
        assert client.get(f"{path}?du={t.monday}").status_code == 200
        assert len(db.session.scalars(sa.select(PageState.key)).all()) == 1
    finally:
        with other.app_context():
            db.engine.dispose()


def test_on_sqlite_a_page_is_served_at_once_while_an_import_holds_the_write_lock(sqlite_file_app):
    """SQLite has one writer: a page waits for nobody to be stored."""
    import time as timer

    import sqlalchemy as sa

    from models import PageState, db

    app, hold_write_lock = sqlite_file_app
    client = app.test_client()
    with hold_write_lock():
        started = timer.monotonic()
        page = client.get("/")
        waited = timer.monotonic() - started
    assert page.status_code == 200 and "Cette semaine" in page.get_data(as_text=True)
    assert waited < 10, f"{waited:.1f} s: the page waited for the lock (the engine's wait is 30 s)"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PageState)) == 0  # not stored, served
    assert client.get("/?jeunes=1").status_code == 200  # the lock gone: stored
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PageState)) == 1
    # Real writes on these connections still wait as long as the engine says.
    assert db.session.connection().connection.dbapi_connection.execute(
        "PRAGMA busy_timeout").fetchone()[0] == 30000


@pytest.mark.parametrize("month, offsets", [
    (3, ("+01:00", "+02:00")),  # summer time from the last Sunday of March
    (10, ("+02:00", "+01:00")),  # winter time from the last Sunday of October
], ids=["march", "october"])
def test_a_weekly_permanence_keeps_its_wall_clock_time_across_the_dst_change_on_every_page(
        client, create_quartier, create_place, create_partner, create_event, tmp_path, month, offsets):
    from helpers.dates import next_dst_sunday

    create_quartier()
    place = create_place("pij-dst", "PIJ des Saisons", quartier="QN03801M")
    ml = create_partner()
    # The Tuesday before that month's change nearest today, past or to come: the pages show a year
    # either side of today, no more.
    first = next_dst_sunday(month, after_days=-190) - timedelta(days=5)
    event = create_event(place, [ml], title="Permanence du mardi", start_date=first,
                         frequency="weekly", interval=1, weekdays=[1], count=4, skip_public_holidays=False)
    html = client.get(f"/lieux/{place.slug}?du={first}").get_data(as_text=True)
    starts = [s for eid, s, _ in shown(html) if eid == event.id][:2]
    assert starts == [f"{first}T14:00:00{offsets[0]}", f"{first + timedelta(days=7)}T14:00:00{offsets[1]}"]
    assert html.count("14 h – 17 h") >= 2
    monday = first - timedelta(days=1)
    second_week = client.get(f"/lieux/{place.slug}/affiche.pdf?du={monday + timedelta(days=7)}").get_data()
    assert "14 h – 17 h" in _pdf_text(second_week) and "Permanence du mardi" in _pdf_text(second_week)


def test_an_overseas_hall_screen_shows_its_own_today_in_local_time(client, create_place, create_partner,
                                                                   create_event):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    reunion = ZoneInfo("Indian/Reunion")
    today = datetime.now(reunion).date()
    place = create_place("mission-locale-le-port", "Mission locale du Port", postcode="97420",
                         timezone="Indian/Reunion")
    event = create_event(place, [create_partner()], title="Permanence au Port", start_date=today,
                         start_time="08:00", frequency="daily", interval=1, count=3, skip_public_holidays=False)
    html = client.get(f"/ecran/{place.slug}").get_data(as_text=True)
    starts = [s for eid, s, _ in shown(html) if eid == event.id]
    assert starts[0] == f"{today}T08:00:00+04:00" and len(starts) == 3
    assert "8 h – 11 h" in html and "(heure locale)" in html


def test_an_overseas_quartier_screen_and_poster_turn_their_day_at_its_own_midnight(
        client, create_quartier, create_place, create_partner, create_event):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from web.public.display import wall_zone_of

    reunion = ZoneInfo("Indian/Reunion")
    quartier = create_quartier("QN97401M", name="Ariste", communes=("Le Port",), department="974")
    metropole = create_quartier("QN03801M")
    assert wall_zone_of("quartier", quartier) == reunion
    assert wall_zone_of("quartier", metropole) == ZoneInfo("Europe/Paris")
    today = datetime.now(reunion).date()
    place = create_place("pij-ariste", "PIJ d'Ariste", quartier="QN97401M", postcode="97420", department="974")
    assert place.timezone == "Indian/Reunion"
    event = create_event(place, [create_partner()], title="Permanence au Port", start_date=today,
                         start_time="00:30", duration_minutes=60, frequency="daily", interval=1, count=2,
                         skip_public_holidays=False)
    html = client.get(f"/ecran/{quartier.code}").get_data(as_text=True)
    # 00:30 in Réunion is the evening before in Paris: a Paris "today" would start a day late or early.
    starts = [s for eid, s, _ in shown(html) if eid == event.id]
    assert starts == [f"{today}T00:30:00+04:00", f"{today + timedelta(days=1)}T00:30:00+04:00"]
