"""The JSON occurrences come a page at a time: `limit`, an opaque `cursor`, `Link: <…>; rel="next"`.
Walking the pages gives every occurrence of the window exactly once, in (start, event, occurrence)
order, even when the calendar changes between two pages."""
from __future__ import annotations

import base64
from datetime import datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from helpers.actors import SYSTEM
from helpers.api_pages import next_url, walk
from helpers.dates import PARIS, quiet_monday


def assert_json_error(response, code):
    body = response.get_json()
    assert response.status_code == code, (response.status_code, response.get_data(as_text=True)[:300])
    assert set(body) == {"code", "status", "message", "errors"} and body["code"] == code
    return body


def key(item: dict) -> tuple:
    return (datetime.fromisoformat(item["starts_at"]), item["event_id"], item["recurrence_id"])


@pytest.fixture
def busy_week(create_partner, create_quartier, create_place, create_event):
    """A week of every kind of series: many at one instant (9:00 on Monday), weekdays, daily,
    monthly on a weekday, single events, an all-day one running in from before the window, a
    long evening one running past midnight, places overseas, a moved and a cancelled occurrence."""
    from models import db
    from scheduler.writes import cancel_occurrence, move_occurrence

    create_quartier("QN03801M")
    create_quartier("QN97401M", name="Le Chaudron", communes=("Saint-Denis",), department="974")
    bij = create_place("bij-echirolles", quartier="QN03801M")
    pimms = create_place("pimms-essarts", quartier="QN03801M")
    reunion = create_place("mission-locale-chaudron", quartier="QN97401M", timezone="Indian/Reunion",
                           postcode="97490")
    martinique = create_place("pij-fort-de-france", timezone="America/Martinique", postcode="97200")
    ml, ft = create_partner("mission-locale"), create_partner("france-travail", type="france_travail")
    monday = quiet_monday()
    events = []
    for i in range(9):  # nine permanences at 9:00 on Mondays: pages split inside one instant
        events.append(create_event(bij if i % 2 else pimms, [ml], title=f"Permanence {i}", start_date=monday,
                                   start_time="09:00", duration_minutes=60, frequency="weekly", weekdays=[0],
                                   room=f"salle {i}"))
    events.append(create_event(bij, [ft], title="Atelier CV", kind="atelier", start_date=monday,
                               start_time="14:00", frequency="weekly", weekdays=[1, 3], audience_tags=["sans diplôme"]))
    events.append(create_event(pimms, [ml], title="Accueil", start_date=monday, start_time="10:30",
                               duration_minutes=30, frequency="daily", room="accueil"))
    events.append(create_event(bij, [ft], title="Rencontre partenariale", kind="coordination", start_date=monday,
                               start_time="16:00", frequency="monthly", month_week=1, weekdays=[2]))
    events.append(create_event(pimms, [ft], title="Forum emploi", kind="forum", start_date=monday + timedelta(days=4),
                               start_time="09:00", frequency="once"))
    events.append(create_event(bij, [ml], title="Salon de l'alternance", kind="forum",
                               start_date=monday - timedelta(days=1), start_time="00:00", duration_minutes=2 * 1440,
                               frequency="once", all_day=True))
    events.append(create_event(pimms, [ml], title="Nuit de l'orientation", kind="other",
                               start_date=monday - timedelta(days=1), start_time="20:00", duration_minutes=8 * 60,
                               frequency="weekly", weekdays=[6]))
    events.append(create_event(reunion, [ml], title="Permanence du Chaudron", start_date=monday,
                               start_time="13:00", frequency="weekly", weekdays=[0, 2]))
    events.append(create_event(martinique, [ft], title="Club emploi", kind="atelier", start_date=monday,
                               start_time="08:00", frequency="weekly", weekdays=[0, 4]))
    tuesday_cv = datetime.combine(monday + timedelta(days=1), time(14), PARIS)
    move_occurrence(SYSTEM, events[9], tuesday_cv, starts_at=tuesday_cv + timedelta(days=4, hours=-5), strict=False)
    cancel_occurrence(SYSTEM, events[10], datetime.combine(monday + timedelta(days=2), time(10, 30), PARIS))
    db.session.commit()
    return monday, events


def window(monday) -> str:
    return f"start={monday.isoformat()}&end={(monday + timedelta(days=7)).isoformat()}"


def test_the_pages_give_every_occurrence_of_the_window_once_in_order(client, busy_week):
    monday, _ = busy_week
    whole = client.get(f"/api/v1/occurrences?{window(monday)}&limit=2000")
    assert whole.status_code == 200 and "Link" not in whole.headers
    everything = whole.get_json()
    assert [key(o) for o in everything] == sorted(key(o) for o in everything)
    # What the window holds: the carried-in all-day salon and night first, the moved and the
    # cancelled occurrences in.
    titles = [o["title"] for o in everything]
    assert titles[:2] == ["Salon de l'alternance", "Nuit de l'orientation"] and everything[1]["starts_at"] < \
        f"{monday.isoformat()}T00:00"
    assert any(o["is_moved"] for o in everything) and any(o["is_cancelled"] for o in everything)
    for limit in (1, 4, 7, 9, 10):
        pages = walk(client, f"/api/v1/occurrences?{window(monday)}&limit={limit}")
        assert all(len(p) == limit for p in pages[:-1]) and 1 <= len(pages[-1]) <= limit
        assert [o for p in pages for o in p] == everything, limit


def test_each_occurrence_comes_once_across_pages_while_events_are_written_between_them(client, busy_week, backend,
                                                                                        create_event):
    """Between two pages: an event added, one changed (its time and weekdays), an occurrence of a
    third cancelled, a fourth deleted. The occurrences of the events nobody touched come exactly
    once; no key comes twice; each page follows the last."""
    from models import Event, Place, db
    from scheduler.writes import cancel_occurrence, delete_event, update_event

    monday, events = busy_week
    before = client.get(f"/api/v1/occurrences?{window(monday)}&limit=2000").get_json()
    touched = {events[3].id, events[10].id, events[2].id}

    def write(page: int) -> None:
        if page != 2:
            return
        bij = db.session.scalar(sa.select(Place).where(Place.slug == "bij-echirolles"))
        added = create_event(bij, list(db.session.get(Event, events[0].id).organisers), title="Nouvelle permanence",
                             start_date=monday, start_time="09:00", duration_minutes=60, frequency="daily")
        touched.add(added.id)
        update_event(SYSTEM, db.session.get(Event, events[3].id), {"start_time": time(8, 15), "weekdays": [0, 3]},
                     strict=False)
        cancel_occurrence(SYSTEM, db.session.get(Event, events[10].id),
                          datetime.combine(monday + timedelta(days=5), time(10, 30), PARIS))
        delete_event(SYSTEM, db.session.get(Event, events[2].id))
        db.session.commit()

    pages = walk(client, f"/api/v1/occurrences?{window(monday)}&limit=4", between=write)
    got = [o for p in pages for o in p]
    keys = [(o["event_id"], o["recurrence_id"]) for o in got]
    assert len(keys) == len(set(keys)), "an occurrence came twice"
    assert [key(o) for o in got] == sorted(key(o) for o in got)
    unchanged = [(o["event_id"], o["recurrence_id"]) for o in before if o["event_id"] not in touched]
    assert sorted(k for k in keys if k[0] not in touched) == sorted(unchanged)
    # What the writes did shows from the page after them on.
    assert any(o["title"] == "Nouvelle permanence" for o in got)
    assert not any(o["event_id"] == events[2].id for o in pages[-1])


def test_a_default_page_holds_500_and_the_last_page_has_no_link(client, create_partner, create_place, create_event):
    place, ml = create_place(), create_partner()
    monday = quiet_monday()
    for i in range(5):  # 5 daily series over 120 days: 600 occurrences
        create_event(place, [ml], title=f"Accueil {i}", start_date=monday, start_time=f"{9 + i}:00",
                     duration_minutes=30, frequency="daily", skip_public_holidays=False)
    url = f"/api/v1/occurrences?start={monday}&end={monday + timedelta(days=120)}"
    first = client.get(url)
    assert first.status_code == 200 and len(first.get_json()) == 500 and 'rel="next"' in first.headers["Link"]
    second = client.get(next_url(first))
    assert second.status_code == 200 and len(second.get_json()) == 100 and "Link" not in second.headers
    assert len(client.get(url + "&limit=2000").get_json()) == 600


@pytest.mark.parametrize("limit", ["0", "-1", "2001", "abc"])
def test_a_limit_out_of_bounds_is_refused(client, limit):
    body = assert_json_error(client.get(f"/api/v1/occurrences?limit={limit}"), 422)
    assert body["errors"]["query"]["limit"]


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "abc", "!!!", "", _cursor(b"not json"), _cursor(b"[1, 2]"), _cursor(b'{"a": 1}'), _cursor(b'[1.5, 2, 3]'),
    _cursor(b'["1", 2, 3]'), _cursor(b"[99999999999999999999, 2, 3]"), _cursor(b"[1796041800, 0, 1796041800]"),
    _cursor(b"[1796041800, true, 1796041800]"), _cursor(b"\xff\xfe"),
])
def test_a_cursor_we_did_not_write_is_refused_in_french(client, cursor):
    body = assert_json_error(client.get(f"/api/v1/occurrences?cursor={cursor}"), 422)
    assert body["errors"]["query"]["cursor"] == [
        "Curseur invalide : reprenez le lien « next » de la réponse précédente (en-tête Link)."]


def test_the_next_link_keeps_the_filters_and_the_window(client, busy_week, token_for):
    monday, _ = busy_week
    url = f"/api/v1/occurrences?{window(monday)}&quartier=QN03801M&kind=permanence&audience=&limit=3"
    first = client.get(url)
    query = parse_qs(urlsplit(next_url(first)).query, keep_blank_values=True)
    assert query["quartier"] == ["QN03801M"] and query["kind"] == ["permanence"] and query["limit"] == ["3"]
    assert datetime.fromisoformat(query["start"][0]) == datetime.combine(monday, time(), PARIS)
    assert datetime.fromisoformat(query["end"][0]) == datetime.combine(monday + timedelta(days=7), time(), PARIS)
    pages = walk(client, url)
    whole = client.get(f"/api/v1/occurrences?{window(monday)}&quartier=QN03801M&kind=permanence&limit=2000")
    assert [o for p in pages for o in p] == whole.get_json() and len(pages) > 2
    assert {o["kind"] for p in pages for o in p} == {"permanence"}
    # Without a start, the next link names the day the first page took as "today".
    default = next_url(client.get("/api/v1/occurrences?limit=1&kind=permanence"))
    if default is not None:
        assert "start=" in default and "end=" in default
    # With a token, the people come on every page too.
    signed = walk(client, url, headers=token_for())
    assert all("people" in o for p in signed for o in p)


def test_the_openapi_document_states_the_pages(client):
    operation = client.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/occurrences"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert parameters["limit"]["schema"]["maximum"] == 2000 and parameters["limit"]["schema"]["default"] == 500
    assert "cursor" in parameters
    assert "Link" in operation["responses"]["200"]["headers"]
    assert 'rel="next"' in operation["description"]


def test_each_occurrence_is_what_the_schema_of_the_openapi_document_gives(client, busy_week, token_for):
    """The answer is written without the schema's dump (it would only copy it, 15 ms a page of
    500): it must stay exactly what the schema gives, signed in (people) or not."""
    from api.occurrences import OccurrenceSchema

    monday, _ = busy_week
    schema = OccurrenceSchema(many=True)
    for headers in ({}, token_for()):
        body = client.get(f"/api/v1/occurrences?{window(monday)}&limit=2000", headers=headers).get_json()
        assert body and schema.dump(body) == body
        assert {"people" in o for o in body} == {bool(headers)}


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 8])
def test_crowded_slices_and_instants_read_a_chunk_at_a_time_give_the_same_pages(client, busy_week, monkeypatch,
                                                                                  limit):
    """At national scale a slice is narrowed when more series may start in it than the page
    needs, down to one instant read by event id a chunk at a time (9:00 on a Monday: 1,300
    series). The floors that keep a small calendar from ever doing so are lowered here, so that
    the nine series of 9:00 on Monday are read a few at a time."""
    from scheduler.time import keyset

    monday, _ = busy_week
    everything = client.get(f"/api/v1/occurrences?{window(monday)}&limit=2000").get_json()
    monkeypatch.setattr(keyset, "MIN_BUDGET", 1)
    monkeypatch.setattr(keyset, "MIN_CHUNK", 1)
    pages = walk(client, f"/api/v1/occurrences?{window(monday)}&limit={limit}")
    assert [o for p in pages for o in p] == everything
    assert all(len(p) == limit for p in pages[:-1])


def test_the_first_page_reads_a_crowded_instant_only_as_far_as_it_needs(client, busy_week, monkeypatch):
    """The first page of 3: the two occurrences running in from before the window, then 9:00 on
    Monday, where nine series start: with the floors lowered, a chunk of three of them (one more
    than the page needs, and a few more for those that give nothing that day), not all nine."""
    from scheduler.time import keyset

    monday, _ = busy_week
    monkeypatch.setattr(keyset, "MIN_BUDGET", 1)
    monkeypatch.setattr(keyset, "MIN_CHUNK", 1)
    reads = []
    real = keyset.rules_in_window
    monkeypatch.setattr(keyset, "rules_in_window", lambda *a, **k: reads.append(real(*a, **k)) or reads[-1])
    page = client.get(f"/api/v1/occurrences?{window(monday)}&limit=3").get_json()
    assert [o["title"] for o in page] == ["Salon de l'alternance", "Nuit de l'orientation", "Permanence 0"]
    at_nine = [rules for rules in reads if rules and {r.start_seconds for r in rules} == {9 * 3600}]
    assert [len(rules) for rules in at_nine] == [3]
