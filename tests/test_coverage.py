"""Coverage of the quartiers, with figures computed by hand on a small territory.

May 2027 in Échirolles: Mondays 3, 10, 17 (lundi de Pentecôte, a public holiday), 24, 31;
Thursdays 6 (Ascension), 13, 20, 27. The mission locale's Monday permanence at the BIJ, 14 h–17 h,
gives 4 × 3 = 12 hours; the Thursday workshop France Travail co-runs with the centre social,
9 h–12 h, gives 3 × 3 = 9 hours to each of them.
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from helpers.actors import SYSTEM
from models import db
from scheduler import writes
from scheduler.reports.coverage import Territory, coverage, territory_quartiers

PARIS = ZoneInfo("Europe/Paris")
MAY = (datetime(2027, 5, 1, tzinfo=PARIS), datetime(2027, 6, 1, tzinfo=PARIS))


@pytest.fixture
def territory(create_partner, create_quartier, create_place, create_event):
    villeneuve = create_quartier("QP038014", "Villeneuve")
    village = create_quartier("QP038015", "Village Sud")
    ml = create_partner("mission-locale-sud-isere")
    ft = create_partner("france-travail-echirolles", type="france_travail")
    cs = create_partner("centre-social-village", type="centre_social")
    bij = create_place("bij-echirolles", quartier=villeneuve.code)
    centre = create_place("centre-social-village", quartier=village.code)
    monday = create_event(bij, [ml], start_date=date(2027, 5, 3), frequency="weekly", weekdays=[0])
    thursday = create_event(bij, [ft, cs], title="Atelier CV", kind="atelier", start_date=date(2027, 5, 6),
                            start_time="09:00", frequency="weekly", weekdays=[3])
    return {"villeneuve": villeneuve, "village": village, "monday": monday, "thursday": thursday, "ml": ml,
            "centre": centre}


def _may(codes=("QP038014", "QP038015")):
    report = coverage(*MAY, Territory(territory_quartiers(codes), national=False))
    return report, {q.code: q for q in report.quartiers}


def test_hours_per_quartier_per_kind_of_partner_skip_the_holidays(territory):
    report, by_code = _may()
    villeneuve = by_code["QP038014"]
    assert villeneuve.by_partner_type == {"mission_locale": 12 * 3600, "france_travail": 9 * 3600,
                                          "centre_social": 9 * 3600}
    assert villeneuve.by_kind == {"permanence": 12 * 3600, "atelier": 9 * 3600}
    assert (villeneuve.hours, villeneuve.sessions) == (21, 7)  # co-animation is counted once in the total
    assert by_code["QP038015"].seconds == 0
    assert report.heatmap[0][14] == report.heatmap[0][16] == 4 * 3600 and report.heatmap[0][17] == 0
    assert report.heatmap[3][9] == 3 * 3600 and sum(map(sum, report.heatmap)) == 21 * 3600


def test_a_cancellation_takes_its_hours_out_and_a_move_counts_where_it_happens(territory):
    monday = territory["monday"]
    writes.cancel_occurrence(SYSTEM, monday, datetime(2027, 5, 24, 14, tzinfo=PARIS), "Formation")
    writes.move_occurrence(SYSTEM, monday, datetime(2027, 5, 31, 14, tzinfo=PARIS), place="centre-social-village",
                           ends_at=datetime(2027, 5, 31, 16, tzinfo=PARIS))
    db.session.commit()
    report, by_code = _may()
    assert by_code["QP038014"].by_partner_type["mission_locale"] == 6 * 3600  # 3 and 10 May
    assert by_code["QP038015"].by_partner_type == {"mission_locale": 2 * 3600}  # 31 May, moved, 2 hours
    assert report.sessions == 3 + 3


def test_a_zone_blanche_is_found_then_filled_by_a_new_series(territory):
    report, _ = _may()
    assert [(q.code, t) for q, t in report.white_zones] == [("QP038015", "mission_locale"),
                                                            ("QP038015", "france_travail")]
    writes.create_event(SYSTEM, {"title": "Permanence au centre social", "kind": "permanence",
                                 "place": "centre-social-village", "organisers": ["mission-locale-sud-isere"],
                                 "start_date": date(2027, 5, 19), "start_time": datetime(2027, 1, 1, 9).time(),
                                 "duration_minutes": 120, "frequency": "weekly", "weekdays": [2]})
    db.session.commit()
    report, by_code = _may()
    assert [(q.code, t) for q, t in report.white_zones] == [("QP038015", "france_travail")]
    assert by_code["QP038015"].by_partner_type == {"mission_locale": 2 * 2 * 3600}  # 19 and 26 May


def test_the_api_gives_the_coverage_of_the_coordinators_territory_only(client, territory, token_for):
    here = token_for("coordo@example.fr", "coordinator", quartiers=[territory["villeneuve"]])
    url = "/api/v1/coverage?start=2027-05-01&end=2027-06-01"
    body = client.get(url, headers=here).get_json()
    assert [q["code"] for q in body["quartiers"]] == ["QP038014"]
    assert body["quartiers"][0]["by_partner_type"] == {"mission_locale": 12.0, "france_travail": 9.0,
                                                       "centre_social": 9.0}
    assert body["hours"] == 21.0 and body["white_zones"] == []
    refused = client.get(url + "&quartier=QP038015", headers=here)
    assert refused.status_code == 403 and set(refused.get_json()) == {"code", "status", "message", "errors"}
    national = token_for("national@example.fr", "coordinator")
    body = client.get(url + "&partner_type=pij_bij", headers=national).get_json()
    assert {(z["quartier"], z["partner_type"]) for z in body["white_zones"]} == {
        ("QP038014", "pij_bij"), ("QP038015", "pij_bij")}
    editor = token_for("ml@example.fr", "editor", territory["ml"])
    assert client.get(url, headers=editor).status_code == 403
    assert client.get(url).status_code == 401
    bad = client.get("/api/v1/coverage?start=2027-06-01&end=2027-05-01", headers=national)
    assert bad.status_code == 422 and "end" in bad.get_json()["errors"]["query"]


def test_the_page_shows_charts_and_tables_and_exports_the_same_figures(client, territory, sign_in):
    sign_in(client, quartiers=[territory["villeneuve"], territory["village"]])
    html = client.get("/coordination/couverture?du=2027-05-01&au=2027-05-31").get_data(as_text=True)
    assert html.count('src="data:image/svg+xml;base64,') == 3
    assert "Zones blanches" in html and "<td>Mission locale</td>" in html
    rows = list(csv.reader(io.StringIO(client.get(
        "/coordination/couverture.csv?du=2027-05-01&au=2027-05-31&tableau=quartiers").get_data(as_text=True)
        .lstrip("\ufeff")), delimiter=";"))
    assert rows[0][:5] == ["Quartier", "Code", "Département", "Séances", "Heures"]
    assert rows[1][:5] == ["Villeneuve", "QP038014", "38", "7", "21,0"]
    response = client.get("/coordination/couverture.xlsx?du=2027-05-01&au=2027-05-31")
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    sheet = book["quartiers"]
    assert [c.value for c in sheet[3]][:5] == ["Villeneuve", "QP038014", "38", 7, 21.0]
    assert book["zones-blanches"]["C3"].value == "Mission locale"


def test_editors_do_not_see_the_coverage_page(client, territory, sign_in):
    sign_in(client, "ml@example.fr", role="editor", partner=territory["ml"])
    assert client.get("/coordination/couverture").status_code == 403
    assert client.get("/coordination/couverture.xlsx").status_code == 403
