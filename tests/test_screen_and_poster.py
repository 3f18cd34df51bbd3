"""The hall screen fills the screen with the next dates (not a fixed three days), titles no
smaller than times, a QR code and the time in big; the poster of the week one prints (next week
from Thursday), on one A4 page whose orientation follows the number of dates; both offered on
the place's and quartier's pages."""
from __future__ import annotations

import re
from datetime import timedelta
from io import BytesIO

import pytest
from pypdf import PdfReader

from helpers.dates import french_day, paris_today


@pytest.fixture
def quiet_place(create_quartier, create_place, create_partner, create_event):
    """A place with nothing in the next three days, then a permanence every day from the fifth."""
    create_quartier("QP038014", "Villeneuve – Village 2", ("Échirolles",), "38")
    place = create_place("bij-echirolles", "BIJ d'Échirolles", quartier="QP038014", latitude=45.146, longitude=5.717)
    create_event(place, [create_partner("mission-locale")], title="Permanence de la mission locale au BIJ",
                 start_date=paris_today() + timedelta(days=5), frequency="daily", interval=1, count=20,
                 skip_public_holidays=False)
    return place


def test_a_screen_with_nothing_in_three_days_shows_what_comes_in_five(client, quiet_place):
    html = client.get(f"/ecran/{quiet_place.slug}").get_data(as_text=True)
    assert "Permanence de la mission locale au BIJ" in html and "Rien de prévu" not in html
    assert french_day(paris_today() + timedelta(days=5)).rsplit(" ", 1)[0].capitalize() in html
    assert 'class="qr" src="data:image/svg+xml' in html and 'id="horloge"' in html


def test_the_place_page_explains_its_screen_and_offers_this_and_next_weeks_posters(client, quiet_place):
    html = client.get(f"/lieux/{quiet_place.slug}").get_data(as_text=True)
    assert "Afficher ce programme" in html
    assert f'<code>http://maillage.test/ecran/{quiet_place.slug}</code>' in html and "F11" in html
    today = paris_today()
    this_monday = today - timedelta(days=today.weekday())
    posters = re.findall(rf'href="/lieux/{quiet_place.slug}/affiche\.pdf\?du=([\d-]+)"', html)
    expected = [this_monday, this_monday + timedelta(days=7)]
    if today.weekday() >= 3:  # from Thursday, next week's is the one to print, offered first
        expected.reverse()
    assert posters == [d.isoformat() for d in expected]
    assert html.count("celle à imprimer maintenant") == 1


def test_the_poster_shows_the_week_asked_and_next_week_by_default_from_thursday(client, quiet_place):
    today = paris_today()
    next_monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
    response = client.get(f"/lieux/{quiet_place.slug}/affiche.pdf?du={next_monday}")
    text = " ".join(PdfReader(BytesIO(response.data)).pages[0].extract_text().split())
    assert f"Semaine du {french_day(next_monday).rsplit(' ', 1)[0]}" in text
    shown_days = [next_monday + timedelta(days=i) for i in range(7) if next_monday + timedelta(days=i)
                  >= today + timedelta(days=5)]
    for day in shown_days:
        assert french_day(day).rsplit(" ", 1)[0].upper() in text, day
    default = client.get(f"/lieux/{quiet_place.slug}/affiche.pdf")
    expected = next_monday if today.weekday() >= 3 else next_monday - timedelta(days=7)
    assert f"affiche-{quiet_place.slug}-{expected.isoformat()}.pdf" in default.headers["Content-Disposition"]


@pytest.mark.parametrize("per_day, landscape", [(1, False), (5, True)])
def test_a_poster_holds_on_one_a4_page_turned_by_the_number_of_dates(
        client, create_place, create_partner, create_event, per_day, landscape):
    place = create_place("centre-social", "Centre social")
    partner = create_partner("mission-locale")
    today = paris_today()
    monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
    for i in range(per_day):
        create_event(place, [partner], title=f"Atelier numéro {i} : CV, lettre de motivation et entretien",
                     start_date=monday, start_time=f"{8 + i}:00", duration_minutes=60, frequency="daily",
                     interval=1, count=7, skip_public_holidays=False)
    reader = PdfReader(BytesIO(client.get(f"/lieux/{place.slug}/affiche.pdf?du={monday}").data))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    size = sorted((round(float(box.width) * 25.4 / 72), round(float(box.height) * 25.4 / 72)))
    assert size == [210, 297] and (box.width > box.height) == landscape
    assert reader.pages[0].extract_text().count("Atelier numéro") == 7 * per_day


@pytest.mark.browser
def test_the_hall_screen_fills_1920_by_1080_with_titles_no_smaller_than_times(
        browser, live_server, create_quartier, create_place, create_partner, create_event):
    place = create_place("bij-echirolles", "BIJ d'Échirolles")
    partner = create_partner("mission-locale")
    for hour in (9, 14):
        create_event(place, [partner], title=f"Permanence de la mission locale ({hour} h)",
                     start_date=paris_today() + timedelta(days=5), start_time=f"{hour}:00", duration_minutes=120,
                     frequency="daily", interval=1, count=20, skip_public_holidays=False)
    context = browser.new_context(locale="fr-FR", viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    try:
        page.goto(f"{live_server}/ecran/{place.slug}")
        page.wait_for_function("document.getElementById('horloge').textContent.length > 0")
        assert re.fullmatch(r"\d\d:\d\d", page.locator("#horloge").inner_text())
        sizes = page.evaluate("""() => {
            const li = document.querySelector('#programme li.occ');
            const px = e => parseFloat(getComputedStyle(e).fontSize);
            return [px(li.querySelector('.what a')), px(li.querySelector('.when time'))]; }""")
        title, time = sizes
        assert title >= time and title >= 28, sizes
        shown = page.eval_on_selector_all("#programme li.occ", "items => items.filter(i => i.offsetParent).length")
        hidden = page.eval_on_selector_all("#programme li.occ.fits-not", "items => items.length")
        assert shown >= 8 and hidden > 0, (shown, hidden)  # 40 dates: more than fit, the screen is full
        inside = page.evaluate("""() => [...document.querySelectorAll('#programme li.occ')]
            .filter(i => i.offsetParent).every(i => { const r = i.getBoundingClientRect();
              return r.bottom <= innerHeight && r.right <= innerWidth; })""")
        assert inside
        assert page.evaluate("document.documentElement.scrollHeight <= innerHeight")
        assert page.locator("footer img.qr").is_visible()
    finally:
        context.close()
