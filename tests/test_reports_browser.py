"""The reports in Debian's Chromium: a coordinator opens the coverage, sees the chart and its
table, downloads the CSV and the XLSX and the review's PDF, and reads the figures in them; axe
finds nothing serious on the coverage, the review and the partners' pages."""
from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from pypdf import PdfReader

from helpers.actors import SYSTEM
from helpers.browser import serious_violations
from helpers.dates import paris_today
from models import db
from scheduler import writes
from scheduler.reports.attendance import record_attendance

pytestmark = pytest.mark.browser
PARIS = ZoneInfo("Europe/Paris")
PASSWORD = "un mot de passe solide"


@pytest.fixture
def territory(create_partner, create_quartier, create_place, create_event):
    """Three past Mondays of the mission locale at the BIJ (one cancelled, 10 and 14 people) and
    the coming ones; the coordinator of Villeneuve."""
    from models.operations.users import get_or_create_user

    villeneuve = create_quartier("QP038014", "Villeneuve")
    create_quartier("QP038015", "Village Sud")
    ml = create_partner("mission-locale-sud-isere", "Mission locale Sud Isère")
    bij = create_place("bij-echirolles", "BIJ d'Échirolles", quartier=villeneuve.code)
    today = paris_today()
    first = today - timedelta(days=today.weekday()) - timedelta(weeks=3)
    event = create_event(bij, [ml], title="Permanence au BIJ", start_date=first, frequency="weekly", weekdays=[0],
                         skip_public_holidays=False)
    writes.cancel_occurrence(SYSTEM, event, datetime.combine(first + timedelta(weeks=1), time(14), PARIS), "Grève")
    record_attendance(SYSTEM, event, datetime.combine(first, time(14), PARIS), 10)
    record_attendance(SYSTEM, event, datetime.combine(first + timedelta(weeks=2), time(14), PARIS), 14)
    user = get_or_create_user("coordo@example.fr", "coordinator")
    user.set_password(PASSWORD)
    db.session.commit()
    return {"first": first}


def _sign_in(page, base):
    page.goto(base + "/coordination/connexion")
    page.get_by_label("Adresse électronique").fill("coordo@example.fr")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(base + "/coordination/")


def _download(page, link_name: str) -> bytes:
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name).click()
    with open(info.value.path(), "rb") as file:
        return file.read()


def test_a_coordinator_reads_the_coverage_downloads_it_and_the_review(live_server, page, territory, tmp_path):
    first = territory["first"]
    period = f"du={first}&au={first + timedelta(days=20)}"
    _sign_in(page, live_server)
    page.get_by_role("link", name="Couverture").click()
    page.goto(f"{live_server}/coordination/couverture?{period}")
    chart = page.get_by_role("img", name="Graphique en barres : heures de présence par quartier")
    assert chart.is_visible() and chart.evaluate("img => img.naturalWidth") > 100
    table = page.get_by_role("table", name="Heures de présence par quartier et type de partenaire")
    assert "Villeneuve" in table.inner_text() and "6" in table.inner_text()  # two Mondays of 3 hours
    assert page.get_by_role("table", name="Zones blanches").get_by_text("Village Sud").count() == 2
    assert serious_violations(page) == [], "couverture"
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=tmp_path / "couverture-390.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # nothing wider than a phone
    page.set_viewport_size({"width": 1280, "height": 900})

    rows = list(csv.reader(io.StringIO(_download(page, "CSV par quartier").decode("utf-8-sig")), delimiter=";"))
    assert rows[1][:5] == ["Villeneuve", "QP038014", "38", "2", "6,0"]
    book = openpyxl.load_workbook(io.BytesIO(_download(page, "le classeur XLSX (tous les tableaux)")))
    assert [c.value for c in book["quartiers"][3]][:5] == ["Villeneuve", "QP038014", "38", 2, 6.0]

    page.get_by_role("link", name="Bilan").click()
    page.goto(f"{live_server}/coordination/bilan?{period}")
    assert serious_violations(page) == [], "bilan"
    pdf = PdfReader(io.BytesIO(_download(page, "le bilan en PDF (à imprimer)")))
    text = " ".join(p.extract_text() for p in pdf.pages)
    assert "Permanence au BIJ" in text and "Grève" in text
    assert "tenues sur 3 prévues" in text and "24" in text  # 10 + 14 people received


def test_the_partners_pages_have_no_serious_accessibility_violation(live_server, page, territory):
    for url in ("/partenaires", "/partenaires?quartier=QP038014", "/partenaires/mission-locale-sud-isere"):
        page.goto(live_server + url)
        assert serious_violations(page) == [], url
