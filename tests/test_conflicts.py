"""Overlaps between partners: each kind, the travel margin, DST, holidays, cancellations, moves,
the lifecycle of a conflict, strict writes and who may accept what."""
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from helpers.conflicts import MONDAY
from helpers.dates import french_holidays, next_march_dst_sunday, paris_today, utc_z

PARIS = ZoneInfo("Europe/Paris")


def detect_all(now=None):
    from models import db
    from scheduler.conflicts.nightly import run_full_detection

    outcome = run_full_detection(now)
    db.session.commit()
    return outcome


def live(kind=None):
    from models import ScheduleConflict, db

    q = sa.select(ScheduleConflict).where(ScheduleConflict.status.in_(["open", "accepted"]))
    if kind:
        q = q.where(ScheduleConflict.kind == kind)
    return list(db.session.scalars(q.order_by(ScheduleConflict.starts_at)))


def local(day, hour, minute=0):
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)


# --- each kind -------------------------------------------------------------------------------

def test_two_series_in_the_same_room_at_once_are_a_hard_place_conflict(overlap_area, create_event):
    t = overlap_area
    a = create_event(t["hall"], [t["ml"]], room="Grande salle", frequency="weekly", count=4)
    b = create_event(t["hall"], [t["cs"]], title="Atelier numérique", kind="atelier", room="Grande salle",
                     start_time="16:00", frequency="weekly", count=2)
    create_event(t["hall"], [t["ft"]], title="Entretiens", room="Bureau", frequency="weekly", count=4)
    detect_all()
    place = live("place")
    assert [(c.a_event_id, c.b_event_id) for c in place] == [(a.id, b.id), (a.id, b.id)]
    assert all(c.severity == "hard" and c.details["room"] == "Grande salle" for c in place)
    assert place[0].starts_at == local(MONDAY, 14)


def test_a_booking_without_a_room_clashes_with_every_room_of_the_place(overlap_area, create_event):
    t = overlap_area
    create_event(t["hall"], [t["ml"]], room="Bureau")
    create_event(t["hall"], [t["cs"]], title="Fête du quartier", kind="other", start_time="15:00")
    detect_all()
    assert len(live("place")) == 1


def test_one_interpreter_booked_by_two_agencies_at_once_is_a_staff_conflict(overlap_area, create_event, add_person):
    t = overlap_area
    nadia = add_person(t["cs"])
    a = create_event(t["bij"], [t["ml"]], people=[nadia.id], frequency="weekly", count=3)
    b = create_event(t["far"], [t["ft"]], title="Entretiens France Travail", people=[nadia.id],
                     start_time="15:30", duration_minutes=60, frequency="weekly", count=3)
    detect_all()
    staff = live("staff")
    assert len(staff) == 3
    assert {(c.a_event_id, c.b_event_id) for c in staff} == {(a.id, b.id)}
    assert staff[0].details["person_ids"] == [nadia.id] and staff[0].details["travel"] is False


def test_two_places_closer_in_time_than_the_travel_margin_are_a_staff_conflict(overlap_area, create_event, add_person):
    t = overlap_area
    nadia = add_person(t["cs"])
    create_event(t["bij"], [t["ml"]], people=[nadia.id], start_time="09:00", duration_minutes=120)  # ends 11:00
    create_event(t["far"], [t["ft"]], title="Entretiens", people=[nadia.id], start_time="11:15",
                 duration_minutes=60)
    detect_all()
    (conflict,) = live("staff")
    assert conflict.details["travel"] is True


def test_the_travel_margin_is_set_per_person_and_a_new_one_through_the_api_checks_their_events(
        client, overlap_area, create_event, add_person, token_for):
    t = overlap_area
    quick = add_person(t["cs"], name="Lucas Fournier", role="educator", travel_margin_minutes=10)
    create_event(t["bij"], [t["ml"]], people=[quick.id], start_time="09:00", duration_minutes=120)
    create_event(t["far"], [t["ft"]], title="Entretiens", people=[quick.id], start_time="11:15", duration_minutes=60)
    detect_all()
    assert live("staff") == []
    headers = token_for()
    assert client.patch(f"/api/v1/people/{quick.id}", headers=headers,
                        json={"travel_margin_minutes": 30}).status_code == 200
    staff = live("staff")  # the pair, every week
    assert staff and all(c.details["travel"] is True for c in staff)
    assert client.patch(f"/api/v1/people/{quick.id}", headers=headers,
                        json={"travel_margin_minutes": 10}).status_code == 200
    assert live("staff") == []


def test_a_place_moved_to_another_quartier_through_the_api_checks_its_events(
        client, overlap_area, create_event, token_for):
    t = overlap_area
    create_event(t["bij"], [t["ml"]], title="Job dating restauration", kind="job_dating", age_min=16, age_max=25)
    create_event(t["far"], [t["cs"]], title="Job dating ailleurs", kind="job_dating", age_min=16, age_max=25)
    detect_all()
    assert live("audience") == []
    response = client.patch("/api/v1/places/pimms-essarts", headers=token_for(), json={"quartier": "QN03801M"})
    assert response.status_code == 200, response.get_json()
    assert live("audience") and all(c.severity == "warning" for c in live("audience"))


def test_back_to_back_in_the_same_place_needs_no_travel_margin(overlap_area, create_event, add_person):
    t = overlap_area
    nadia = add_person(t["cs"])
    create_event(t["bij"], [t["ml"]], people=[nadia.id], start_time="09:00", duration_minutes=120)
    create_event(t["bij"], [t["ft"]], title="Entretiens", people=[nadia.id], start_time="11:00", duration_minutes=60)
    detect_all()
    assert live() == []


def test_two_job_datings_for_the_same_young_people_in_one_quartier_are_an_audience_warning(overlap_area, create_event):
    t = overlap_area
    create_event(t["bij"], [t["ml"]], title="Job dating restauration", kind="job_dating", age_min=16, age_max=25)
    create_event(t["hall"], [t["ft"]], title="Job dating logistique", kind="job_dating", age_min=18, age_max=30,
                 start_time="15:00", room="Grande salle")
    create_event(t["far"], [t["cs"]], title="Job dating ailleurs", kind="job_dating", age_min=16, age_max=25)
    detect_all()
    (conflict,) = live()
    assert conflict.kind == "audience" and conflict.severity == "warning"
    assert conflict.subject == f"quartier:{t['quartier'].id}"


@pytest.mark.parametrize("second", [
    dict(age_min=26, age_max=60),  # another age band
    dict(age_min=16, age_max=25, audience_tags=["femmes"]),  # tags on both sides, none shared
    dict(kind="coordination", title="Groupe solidarité emploi"),  # a meeting does not split the public
])
def test_audiences_that_do_not_intersect_never_compete(overlap_area, create_event, second):
    t = overlap_area
    create_event(t["bij"], [t["ml"]], title="Job dating", kind="job_dating", age_min=16, age_max=25,
                 audience_tags=["sans diplôme"])
    create_event(t["hall"], [t["ft"]], **{"title": "Atelier", "kind": "atelier", "room": "Bureau", **second})
    detect_all()
    assert live() == []


def test_a_sponsor_following_four_young_people_in_the_same_weeks_exceeds_the_capacity(
        overlap_area, create_event, add_person):
    t = overlap_area
    sponsor = add_person(t["cs"], name="Jean-Pierre Le Gall", role="sponsor")
    series = [create_event(t["bij"], [t["cs"]], title=f"Parrainage {n}", kind="other", people=[sponsor.id],
                           start_date=MONDAY + timedelta(days=n), start_time="18:00",
                           duration_minutes=60, frequency="weekly", count=10) for n in range(4)]
    detect_all()
    (conflict,) = live()
    assert conflict.kind == "capacity" and conflict.severity == "hard"
    assert conflict.details["event_ids"] == [e.id for e in series]
    assert conflict.details["excess_event_id"] == series[3].id and conflict.details["limit"] == 3


def test_three_young_people_at_once_or_a_raised_limit_is_within_capacity(overlap_area, create_event, add_person):
    from models import db

    t = overlap_area
    sponsor = add_person(t["cs"], name="Jean-Pierre Le Gall", role="sponsor")
    for n in range(3):
        create_event(t["bij"], [t["cs"]], title=f"Parrainage {n}", kind="other", people=[sponsor.id],
                     start_date=MONDAY + timedelta(days=n), start_time="18:00", duration_minutes=60,
                     frequency="weekly", count=10)
    detect_all()
    assert live() == []
    create_event(t["bij"], [t["cs"]], title="Parrainage 4", kind="other", people=[sponsor.id],
                 start_date=MONDAY + timedelta(days=3), start_time="18:00", duration_minutes=60, frequency="weekly",
                 count=10)
    sponsor.max_concurrent = 4
    db.session.commit()
    detect_all()
    assert live() == []



def test_a_sponsor_booked_on_one_moved_occurrence_still_counts_when_another_of_their_series_is_edited(
        client, overlap_area, create_event, token_for, add_person):
    t = overlap_area
    sponsor = add_person(t["cs"], name="Jean-Pierre Le Gall", role="sponsor")
    monthly = create_event(t["bij"], [t["cs"]], title="Parrainage 0", kind="other", people=[sponsor.id],
                           start_date=MONDAY, start_time="18:00", duration_minutes=60,
                           frequency="monthly", month_week=1, count=3)
    for n in (1, 2):
        create_event(t["bij"], [t["cs"]], title=f"Parrainage {n}", kind="other", people=[sponsor.id],
                     start_date=MONDAY + timedelta(days=n), start_time="18:00", duration_minutes=60,
                     frequency="weekly", count=10)
    thursday = create_event(t["far"], [t["ml"]], start_date=MONDAY + timedelta(days=3), frequency="weekly",
                            count=10, skip_public_holidays=False)
    headers = token_for()
    moved = client.post(f"/api/v1/events/{thursday.id}/occurrences/move", headers=headers, json={
        "recurrence_start": utc_z(local(MONDAY + timedelta(weeks=6, days=3), 14)), "people": [sponsor.id]})
    assert [c["kind"] for c in moved.get_json()["conflicts"]] == ["capacity"]
    # The monthly series meets nowhere near that Thursday: its sponsor's fourth series counts all the same.
    edited = client.patch(f"/api/v1/events/{monthly.id}", headers=headers, json={"title": "Parrainage mensuel"})
    assert [c["kind"] for c in edited.get_json()["conflicts"]] == ["capacity"]
    assert [c.kind for c in live()] == ["capacity"]

# --- time: DST, holidays ------------------------------------------------------------------------

def test_a_conflict_appears_only_after_the_march_dst_change(overlap_area, create_event):
    """A partner's calendar imported in UTC (12:00–13:00 UTC) against a Paris wall-clock series
    (14:00–16:00): 13:00–14:00 in Paris in winter, 14:00–15:00 once summer time starts."""
    t = overlap_area
    change = next_march_dst_sunday()
    first = change - timedelta(days=13)  # two Mondays before the change, two after
    paris = create_event(t["bij"], [t["ml"]], start_date=first, duration_minutes=120, frequency="weekly", count=4)
    utc = create_event(t["bij"], [t["ft"]], title="Entretiens (agenda importé)", start_date=first,
                       start_time="12:00", duration_minutes=60, timezone="UTC", skip_public_holidays=False,
                       frequency="weekly", count=4)
    # The change may be further than the twelve months of the horizon: it starts the week before.
    detect_all(datetime.combine(first, datetime.min.time(), UTC) - timedelta(days=7))
    days = [c.starts_at.astimezone(PARIS).date() for c in live("place")]
    # The two Mondays after the change, less Easter Monday if it is one of them (the Paris series
    # skips it; in 2027 it is the day after the change).
    after = [change + timedelta(days=1), change + timedelta(days=8)]
    assert days == [d for d in after if d not in french_holidays(d.year)] and days
    assert [(c.a_event_id, c.b_event_id) for c in live("place")] == [(paris.id, utc.id)] * len(days)


def next_monday_holiday() -> date:
    """The next public holiday on a Monday (there are Easter and Whit Monday each year) with no
    holiday on the Mondays before and after it."""
    day = paris_today() + timedelta(days=7)
    days_off = french_holidays(day.year, day.year + 1)
    while not (day.weekday() == 0 and day in days_off
               and day - timedelta(weeks=1) not in days_off and day + timedelta(weeks=1) not in days_off):
        day += timedelta(days=1)
    return day


def test_a_public_holiday_removes_the_conflict_of_that_day(overlap_area, create_event):
    t = overlap_area
    holiday = next_monday_holiday()
    create_event(t["bij"], [t["ml"]], start_date=holiday - timedelta(weeks=1), frequency="weekly", count=3)  # skips it
    create_event(t["bij"], [t["ft"]], title="Forum", kind="forum", start_date=holiday, skip_public_holidays=False)
    after = holiday + timedelta(weeks=1)
    create_event(t["bij"], [t["ft"]], title="Réunion", kind="info_collective", start_date=after,
                 skip_public_holidays=False)
    detect_all()
    assert [c.starts_at.astimezone(PARIS).date() for c in live("place")] == [after]


# --- through the API: writes answer with their conflicts ---------------------------------------

def day_at(days: int) -> str:
    """MONDAY + days, as the API takes a date."""
    return (MONDAY + timedelta(days=days)).isoformat()


def at(days: int, hour: int, minute: int = 0) -> str:
    """MONDAY + days at that hour in Paris, in UTC as the API writes it."""
    return utc_z(local(MONDAY + timedelta(days=days), hour, minute))


def paris_iso(days: int, hour: int, minute: int = 0) -> str:
    """MONDAY + days at that hour in Paris, with its UTC offset."""
    return local(MONDAY + timedelta(days=days), hour, minute).isoformat()


def _payload(place, organisers, **values):
    return {"kind": "permanence", "title": "Permanence", "place": place.slug,
            "organisers": [p.slug for p in organisers],
            "start_date": day_at(0), "start_time": "14:00", "end_time": "17:00", **values}


def test_a_write_answers_with_the_conflicts_it_creates(client, overlap_area, create_event, token_for):
    t = overlap_area
    first = create_event(t["bij"], [t["ml"]], frequency="weekly", count=4)
    response = client.post("/api/v1/events", headers=token_for(), json=_payload(
        t["bij"], [t["ft"]], start_time="16:00", end_time="18:00",
        recurrence={"frequency": "weekly", "weekdays": ["MO"], "count": 2}))
    assert response.status_code == 201, response.get_json()
    conflicts = response.get_json()["conflicts"]
    assert [c["kind"] for c in conflicts] == ["place", "place"]
    assert conflicts[0]["a"]["event_id"] == first.id and conflicts[0]["a"]["starts_at"] == at(0, 14)
    assert conflicts[0]["status"] == "open"
    assert len(live("place")) == 2


def test_cancelling_an_occurrence_closes_its_conflict(client, overlap_area, create_event, token_for):
    from models import db
    from models.operations.audit import history

    t = overlap_area
    create_event(t["bij"], [t["ml"]], frequency="weekly", count=2)
    other = create_event(t["bij"], [t["ft"]], title="Entretiens", frequency="weekly", count=2)
    detect_all()
    assert len(live("place")) == 2
    response = client.post(f"/api/v1/events/{other.id}/occurrences/cancel", headers=token_for(),
                           json={"recurrence_start": at(0, 14), "reason": "Formation"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["conflicts"] == []  # those of the cancelled occurrence: none left
    db.session.expire_all()
    (remaining,) = live("place")
    assert remaining.starts_at == local(MONDAY + timedelta(weeks=1), 14)
    from models import ScheduleConflict

    closed = db.session.scalar(sa.select(ScheduleConflict).where(ScheduleConflict.status == "closed",
                                                                 ScheduleConflict.kind == "place"))
    assert closed.closed_at is not None
    assert [e.action for e in history("conflicts", closed.id)] == ["open", "close"]


def test_moving_an_occurrence_onto_a_busy_slot_creates_a_conflict(client, overlap_area, create_event, token_for):
    t = overlap_area
    create_event(t["bij"], [t["ml"]], start_date=MONDAY + timedelta(days=1))  # Tuesday 14:00–17:00
    weekly = create_event(t["bij"], [t["ft"]], title="Entretiens", frequency="weekly", count=3)
    detect_all()
    assert live() == []
    response = client.post(f"/api/v1/events/{weekly.id}/occurrences/move", headers=token_for(), json={
        "recurrence_start": at(0, 14), "starts_at": paris_iso(1, 15), "ends_at": paris_iso(1, 16)})
    assert response.status_code == 200, response.get_json()
    (conflict,) = response.get_json()["conflicts"]
    assert conflict["kind"] == "place" and conflict["b"]["starts_at"] == at(1, 15)
    assert conflict["b"]["recurrence_id"] == at(0, 14)


def test_an_occurrence_moved_before_the_first_date_of_its_series_clashes_with_what_is_there(
        client, overlap_area, create_event, token_for):
    t = overlap_area
    weekly = create_event(t["bij"], [t["ml"]], start_date=MONDAY + timedelta(weeks=1), frequency="weekly", count=3)
    headers = token_for()
    client.post(f"/api/v1/events/{weekly.id}/occurrences/move", headers=headers, json={
        "recurrence_start": at(7, 14), "starts_at": paris_iso(3, 14), "ends_at": paris_iso(3, 17)})
    response = client.post("/api/v1/events", headers=headers, json=_payload(t["bij"], [t["ft"]], start_date=day_at(3)))
    assert [(c["kind"], c["a"]["event_id"], c["a"]["starts_at"]) for c in response.get_json()["conflicts"]] == [
        ("place", weekly.id, at(3, 14))]

def test_an_accepted_conflict_reopens_when_either_side_changes(client, overlap_area, create_event, token_for):
    from models import db
    from models.operations.audit import history

    t = overlap_area
    a = create_event(t["bij"], [t["ml"]])
    b = create_event(t["bij"], [t["ft"]], title="Entretiens", start_time="15:00", duration_minutes=60)
    detect_all()
    (conflict,) = live()
    headers = token_for()
    accepted = client.post(f"/api/v1/conflicts/{conflict.id}/accept", headers=headers,
                           json={"reason": "Deux bureaux distincts ce jour-là."})
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "accepted"
    # A change that does not touch the overlap keeps the decision.
    assert client.patch(f"/api/v1/events/{a.id}", headers=headers, json={"title": "Permanence ML"}).status_code == 200
    db.session.expire_all()
    assert live()[0].status == "accepted"
    # The other side moves within the overlap: it must be looked at again.
    response = client.post(f"/api/v1/events/{b.id}/occurrences/move", headers=headers, json={
        "recurrence_start": at(0, 15), "starts_at": paris_iso(0, 15, 30), "ends_at": paris_iso(0, 16, 30)})
    assert response.status_code == 200, response.get_json()
    assert [(c["id"], c["status"]) for c in response.get_json()["conflicts"]] == [(conflict.id, "open")]
    db.session.expire_all()
    assert [(c.id, c.status) for c in live()] == [(conflict.id, "open")]
    assert [e.action for e in history("conflicts", conflict.id)] == ["open", "accept", "reopen"]


def test_editing_the_time_of_a_series_puts_its_accepted_conflicts_back_in_the_open_list(
        client, overlap_area, create_event, token_for):
    """The occurrences of the new rule are new occurrences (new RECURRENCE-IDs): the accepted
    conflict closes and the overlap, if still there, is open again under its new identity."""
    from models import ScheduleConflict, db

    t = overlap_area
    create_event(t["bij"], [t["ml"]])
    b = create_event(t["bij"], [t["ft"]], title="Entretiens", start_time="15:00", duration_minutes=60)
    detect_all()
    (conflict,) = live()
    headers = token_for()
    client.post(f"/api/v1/conflicts/{conflict.id}/accept", headers=headers, json={"reason": "Vu en GSE."})
    response = client.patch(f"/api/v1/events/{b.id}", headers=headers,
                            json={"start_time": "15:30", "end_time": "16:30"})
    assert [c["status"] for c in response.get_json()["conflicts"]] == ["open"]
    db.session.expire_all()
    assert db.session.get(ScheduleConflict, conflict.id).status == "closed"
    assert [c.status for c in live()] == ["open"]


def test_a_conflict_that_stops_being_true_closes_itself_and_reopens_if_it_comes_back(
        client, overlap_area, create_event, token_for):
    from models import ScheduleConflict, db

    t = overlap_area
    create_event(t["bij"], [t["ml"]])
    b = create_event(t["bij"], [t["ft"]], title="Entretiens", start_time="15:00", duration_minutes=60)
    detect_all()
    (conflict,) = live()
    headers = token_for()
    response = client.patch(f"/api/v1/events/{b.id}", headers=headers,
                            json={"start_time": "09:00", "end_time": "10:00"})
    assert response.get_json()["conflicts"] == []
    db.session.expire_all()
    assert db.session.get(ScheduleConflict, conflict.id).status == "closed"
    client.patch(f"/api/v1/events/{b.id}", headers=headers, json={"start_time": "15:00", "end_time": "16:00"})
    db.session.expire_all()
    assert db.session.get(ScheduleConflict, conflict.id).status == "open"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ScheduleConflict)) == 1


def test_strict_mode_refuses_a_hard_conflict_with_409_and_writes_nothing(client, overlap_area, create_event, token_for):
    from models import Event, db

    t = overlap_area
    create_event(t["bij"], [t["ml"]])
    headers = token_for()
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Event))
    response = client.post("/api/v1/events?strict=true", headers=headers, json=_payload(t["bij"], [t["ft"]]))
    assert response.status_code == 409
    body = response.get_json()
    assert set(body) >= {"code", "status", "message", "errors"} and body["code"] == 409
    assert [c["kind"] for c in body["conflicts"]] == ["place"]
    assert "Rien n'a été enregistré" in body["message"]
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == before
    assert live() == []
    # Without strict, the same write lands and answers with the conflict.
    assert client.post("/api/v1/events", headers=headers, json=_payload(t["bij"], [t["ft"]])).status_code == 201


def test_a_place_that_refuses_hard_conflicts_refuses_them_without_strict(client, overlap_area, create_event, token_for):
    from models import db

    t = overlap_area
    t["bij"].refuses_hard_conflicts = True
    db.session.commit()
    create_event(t["bij"], [t["ml"]], age_min=16, age_max=25)
    headers = token_for()
    assert client.post("/api/v1/events", headers=headers, json=_payload(t["bij"], [t["ft"]])).status_code == 409
    # A warning (same public elsewhere in the quartier) is never refused.
    response = client.post("/api/v1/events?strict=true", headers=headers, json=_payload(
        t["hall"], [t["ft"]], room="Bureau", kind="job_dating", audience={"age_min": 18, "age_max": 25}))
    assert response.status_code == 201
    assert [c["kind"] for c in response.get_json()["conflicts"]] == ["audience"]


def test_the_openapi_document_gives_strict_and_the_409_body_with_its_conflicts_on_every_event_write(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    writes = [("/api/v1/events", "post"), ("/api/v1/events/{event_id}", "patch"),
              ("/api/v1/events/{event_id}/occurrences/cancel", "post"),
              ("/api/v1/events/{event_id}/occurrences/move", "post"),
              ("/api/v1/events/{event_id}/occurrences/restore", "post")]
    for path, method in writes:
        operation = spec["paths"][path][method]
        (strict,) = [p for p in operation["parameters"] if p["name"] == "strict"]
        assert strict["in"] == "query" and strict["schema"]["type"] == "boolean", path
        refused = operation["responses"]["409"]["content"]["application/json"]["schema"]
        assert refused == {"$ref": "#/components/schemas/RefusedWrite"}, path
    body = spec["components"]["schemas"]["RefusedWrite"]["properties"]
    assert set(body) == {"code", "status", "message", "errors", "conflicts"}
    assert body["conflicts"]["items"] == {"$ref": "#/components/schemas/Conflict"}


def test_strict_is_a_boolean_and_a_patch_under_strict_that_double_books_is_refused(client, overlap_area,
                                                                                   create_event, token_for):
    from models import Event, db

    t = overlap_area
    create_event(t["bij"], [t["ml"]])
    moved = create_event(t["bij"], [t["ft"]], title="Entretiens", start_time="09:00", duration_minutes=60)
    headers = token_for()
    bad = client.patch(f"/api/v1/events/{moved.id}?strict=peut-etre", headers=headers, json={"title": "Entretiens FT"})
    assert bad.status_code == 422 and "strict" in bad.get_json()["errors"]["query"]
    refused = client.patch(f"/api/v1/events/{moved.id}?strict=true", headers=headers,
                           json={"start_time": "15:00", "end_time": "16:00"})
    assert refused.status_code == 409 and [c["kind"] for c in refused.get_json()["conflicts"]] == ["place"]
    assert "le mode strict les refuse" in refused.get_json()["message"]
    db.session.expire_all()
    assert db.session.get(Event, moved.id).start_time.hour == 9


# --- who sees and accepts -------------------------------------------------------------------

def test_an_editor_cannot_accept_another_partners_conflict(client, overlap_area, create_event, token_for):
    t = overlap_area
    create_event(t["bij"], [t["ml"]])
    create_event(t["bij"], [t["ft"]], title="Entretiens", start_time="15:00", duration_minutes=60)
    detect_all()
    (conflict,) = live()
    outsider = token_for("cs@example.fr", "editor", partner=t["cs"])
    assert client.get("/api/v1/conflicts", headers=outsider).get_json() == []
    refused = client.post(f"/api/v1/conflicts/{conflict.id}/accept", headers=outsider, json={"reason": "Pas moi."})
    assert refused.status_code == 404
    assert live()[0].status == "open"
    insider = token_for("ml@example.fr", "editor", partner=t["ml"])
    assert [c["id"] for c in client.get("/api/v1/conflicts", headers=insider).get_json()] == [conflict.id]
    accepted = client.post(f"/api/v1/conflicts/{conflict.id}/accept", headers=insider, json={"reason": "Vu avec FT."})
    assert accepted.status_code == 200 and accepted.get_json()["decided_by"] == "ml@example.fr"


def test_a_coordinator_sees_only_the_conflicts_of_their_territory(client, overlap_area, create_event, token_for):
    t = overlap_area
    create_event(t["bij"], [t["ml"]])
    create_event(t["bij"], [t["ft"]], title="Entretiens", start_time="15:00", duration_minutes=60)
    detect_all()
    elsewhere = token_for("essarts@example.fr", "coordinator", quartiers=[t["other_quartier"]])
    here = token_for("villeneuve@example.fr", "coordinator", quartiers=[t["quartier"]])
    assert client.get("/api/v1/conflicts", headers=elsewhere).get_json() == []
    listed = client.get("/api/v1/conflicts?status=open&kind=place&quartier=QN03801M", headers=here).get_json()
    assert len(listed) == 1
    assert client.get("/api/v1/conflicts?kind=audience", headers=here).get_json() == []
    after = utc_z(local(MONDAY + timedelta(days=1), 0))  # the conflict is on MONDAY
    assert client.get(f"/api/v1/conflicts?start={after}", headers=here).get_json() == []


def test_accepting_needs_a_reason(client, overlap_area, create_event, token_for):
    t = overlap_area
    create_event(t["bij"], [t["ml"]])
    create_event(t["bij"], [t["ft"]], title="Entretiens", start_time="15:00", duration_minutes=60)
    detect_all()
    (conflict,) = live()
    response = client.post(f"/api/v1/conflicts/{conflict.id}/accept", headers=token_for(), json={"reason": ""})
    assert response.status_code == 422
    assert live()[0].status == "open"


def test_each_new_conflict_leaves_notices_for_both_partners_and_the_coordinator(
        client, overlap_area, create_event, token_for):
    from models import ConflictNotice, db

    t = overlap_area
    token_for("villeneuve@example.fr", "coordinator", quartiers=[t["quartier"]])
    token_for("essarts@example.fr", "coordinator", quartiers=[t["other_quartier"]])
    create_event(t["bij"], [t["ml"]])
    create_event(t["bij"], [t["ft"]], title="Entretiens", start_time="15:00", duration_minutes=60)
    detect_all()
    notices = list(db.session.scalars(sa.select(ConflictNotice)))
    assert {n.change for n in notices} == {"opened"}
    assert {n.partner_id for n in notices if n.partner_id} == {t["ml"].id, t["ft"].id}
    assert {n.user.email for n in notices if n.user_id} == {"villeneuve@example.fr"}
    assert all(n.sent_at is None for n in notices)


# --- the engine -------------------------------------------------------------------------------

def test_the_sweep_finds_exactly_what_comparing_every_pair_finds():
    from scheduler.conflicts.detection import Audience, DetectionContext, detect, detect_pairwise
    from scheduler.time.recurrence import Occurrence

    rng = random.Random(7)
    base = int(datetime(2027, 3, 1, tzinfo=UTC).timestamp())
    occurrences = []
    for _i in range(600):
        start = base + rng.randrange(0, 14 * 86400, 900)
        occurrences.append(Occurrence(
            event_id=rng.randrange(1, 120), recurrence_id=start, starts_at=start,
            ends_at=start + rng.choice([3600, 5400, 7200, 10800]), place_id=rng.randrange(1, 15),
            room=rng.choice([None, "A", "B"]), person_ids=tuple(rng.sample(range(1, 25), rng.choice([0, 0, 1, 2]))),
            timezone="Europe/Paris", is_cancelled=rng.random() < 0.05))
    ctx = DetectionContext(
        place_quartier={p: p % 4 for p in range(1, 15)},
        audiences={e: Audience(rng.choice([None, 16, 18]), rng.choice([None, 25, 30]),
                               frozenset(rng.sample(["femmes", "rsa", "sans diplôme"], rng.choice([0, 1]))))
                   for e in range(1, 120) if e % 5},
        travel_margin={p: rng.choice([0, 900, 1800, 3600]) for p in range(1, 25)},
        max_concurrent={3: 3, 4: 2})
    swept, naive = detect(occurrences, ctx), detect_pairwise(occurrences, ctx)
    assert len(naive) > 50
    assert set(swept) == set(naive)
    assert {k: f.signature for k, f in swept.items()} == {k: f.signature for k, f in naive.items()}


def test_the_check_of_each_series_finds_what_the_full_detection_finds_for_it(overlap_area, create_event, add_person):
    """A random calendar of weekly, fortnightly, monthly and single events sharing places, rooms,
    people and publics, some occurrences moved: checking a series right after the full detection
    agrees with it on every conflict of that series, and changes nothing."""
    from helpers.actors import SYSTEM
    from models import db
    from scheduler import writes as series
    from scheduler.conflicts.check import check_event, person_ids_of
    from scheduler.time.recurrence import expand, rule_of

    t = overlap_area
    rng = random.Random(11)
    people = [add_person(t["cs"], name=f"Personne {n}", role=role)
              for n, role in enumerate(["adviser", "adviser", "interpreter", "sponsor", "sponsor"])]
    timing = [dict(frequency="weekly"), dict(frequency="weekly", interval=2), dict(frequency="once"),
              dict(frequency="monthly", month_week=2), dict(frequency="monthly", month_week=-1)]
    events = []
    for n in range(40):
        place = rng.choice([t["hall"], t["bij"], t["bij"], t["far"]])
        age_min, age_max, tags = rng.choice([(None, None, []), (16, 25, []), (18, 30, ["femmes"]), (26, 60, [])])
        events.append(create_event(
            place, [rng.choice([t["ml"], t["ft"], t["cs"]])], title=f"Série {n}",
            kind=rng.choice(["permanence", "atelier", "job_dating", "coordination"]),
            start_date=MONDAY + timedelta(days=rng.randrange(21)),
            start_time=rng.choice(["09:00", "10:00", "14:00"]), duration_minutes=rng.choice([60, 120, 180]),
            room=rng.choice([None, "Grande salle", "Bureau"]) if place is t["hall"] else None,
            people=[p.id for p in rng.sample(people, rng.choice([0, 1, 1, 2]))],
            age_min=age_min, age_max=age_max, audience_tags=tags, count=rng.randrange(2, 9), **rng.choice(timing)))
    now = datetime.now(UTC)
    window = (now, now + timedelta(days=365))
    for event in rng.sample(events, 12):  # moved in time, to another place, or to other people
        occurrence = rng.choice(expand([rule_of(event)], *window))
        change = rng.choice([dict(starts_at=occurrence.start + timedelta(days=rng.choice([-3, 1, 9]), hours=1)),
                             dict(place=rng.choice([t["bij"], t["far"]]).slug),
                             dict(person_ids=[rng.choice(people).id])])
        series.move_occurrence(SYSTEM, event, occurrence.recurrence_start, **change)
    db.session.commit()
    detect_all(now)
    stored = live()
    assert len(stored) > 50 and {c.kind for c in stored} == {"place", "staff", "audience", "capacity"}
    for event in events:
        limited = {f"person:{p.id}" for p in people if p.role == "sponsor" and p.id in person_ids_of(event)}
        outcome = check_event(event, now=now)
        assert outcome.created == [] and outcome.ended == []
        assert {c.identity for c in outcome.current} == {
            c.identity for c in stored if event.id in (c.a_event_id, c.b_event_id)
            or (c.kind == "capacity" and c.subject in limited)}, event.title
        db.session.rollback()


def test_the_command_line_detection_is_idempotent_and_agrees_with_the_writes(client, overlap_area, create_event,
                                                                             token_for, add_person):
    from models import Event, ScheduleConflict, db

    t = overlap_area
    nadia = add_person(t["cs"])
    headers = token_for()
    for payload in (_payload(t["bij"], [t["ml"]], people=[nadia.id], recurrence={"frequency": "weekly", "count": 5}),
                    _payload(t["bij"], [t["ft"]], start_time="16:00", end_time="18:00", kind="job_dating"),
                    _payload(t["far"], [t["cs"]], people=[nadia.id], start_date=day_at(8))):
        assert client.post("/api/v1/events", headers=headers, json=payload).status_code == 201
    first_id = db.session.scalar(sa.select(sa.func.min(Event.id)))
    # A move onto Nadia's other booking (the Tuesday: a day without a date of the series, as the move
    # guards require), a cancellation: each checked on its own occurrence only.
    moved = client.post(f"/api/v1/events/{first_id}/occurrences/move", headers=headers, json={
        "recurrence_start": at(14, 14), "starts_at": paris_iso(8, 15, 30), "ends_at": paris_iso(8, 16, 30)})
    assert moved.status_code == 200, moved.get_json()
    assert [c["kind"] for c in moved.get_json()["conflicts"]] == ["staff"]
    assert client.post(f"/api/v1/events/{first_id}/occurrences/cancel", headers=headers, json={
        "recurrence_start": at(0, 14)}).status_code == 200
    db.session.expire_all()
    by_writes = {(c.identity, c.status) for c in db.session.scalars(sa.select(ScheduleConflict))}
    runner = client.application.test_cli_runner()
    result = runner.invoke(args=["conflicts", "detect", "--now", datetime.now(UTC).isoformat()])
    assert result.exit_code == 0, result.output
    assert "0 nouveau(x) ou rouvert(s)" in result.output and "0 clos" in result.output
    db.session.expire_all()
    assert {(c.identity, c.status) for c in db.session.scalars(sa.select(ScheduleConflict))} == by_writes
    assert {identity[0] for identity, _ in by_writes} == {"place", "staff"}
    assert runner.invoke(args=["conflicts", "detect", "--now", "demain"]).exit_code != 0


def test_the_nightly_detection_is_registered_with_the_clock(app):
    from scheduler.clock import build_scheduler

    jobs = build_scheduler(app).get_jobs()
    assert "conflicts-nightly" in [j.id for j in jobs]


def test_a_person_booked_on_one_moved_occurrence_is_found_by_the_next_write(client, overlap_area, create_event,
                                                                            token_for, add_person):
    t = overlap_area
    nadia = add_person(t["cs"])
    weekly = create_event(t["bij"], [t["ml"]], frequency="weekly", count=3)
    headers = token_for()
    client.post(f"/api/v1/events/{weekly.id}/occurrences/move", headers=headers, json={
        "recurrence_start": at(7, 14), "people": [nadia.id]})
    response = client.post("/api/v1/events", headers=headers, json=_payload(
        t["far"], [t["ft"]], people=[nadia.id], start_date=day_at(7)))
    assert [(c["kind"], c["a"]["event_id"], c["a"]["recurrence_id"]) for c in response.get_json()["conflicts"]] == [
        ("staff", weekly.id, at(7, 14))]


# --- deleting an event ---------------------------------------------------------------------------

def _a_monday_from_now() -> date:
    """A Monday a week ahead at least whose Monday to Thursday are no public holidays (the
    sponsor's series start on those days: a holiday would start one a week later)."""
    monday = paris_today() + timedelta(days=14 - paris_today().weekday())
    while any(monday + timedelta(days=n) in french_holidays(monday.year) for n in range(4)):
        monday += timedelta(weeks=1)
    return monday


def test_deleting_an_event_closes_its_conflicts_through_their_lifecycle_and_leaves_no_row_behind(
        client, overlap_area, create_event, token_for):
    from models import ConflictNotice, Delivery, ScheduleConflict, db
    from models.operations.audit import history

    t = overlap_area
    start = _a_monday_from_now()
    create_event(t["bij"], [t["ml"]], start_date=start, frequency="weekly", count=2, skip_public_holidays=False)
    entretiens = create_event(t["bij"], [t["ft"]], title="Entretiens", start_date=start, frequency="weekly", count=2,
                              skip_public_holidays=False)
    token_for("villeneuve@example.fr", "coordinator", quartiers=[t["quartier"]])
    token_for("essarts@example.fr", "coordinator", quartiers=[t["other_quartier"]])
    detect_all(datetime.now(UTC))
    ids = sorted(c.id for c in live("place"))
    assert len(ids) == 2

    assert client.delete(f"/api/v1/events/{entretiens.id}", headers=token_for()).status_code == 204
    db.session.expire_all()
    for model in (ScheduleConflict, ConflictNotice):  # what the foreign keys would cascade, enforced or not
        assert db.session.scalar(sa.select(sa.func.count()).select_from(model)) == 0
    for conflict_id in ids:
        entries = history("conflicts", conflict_id)
        assert [e.action for e in entries] == ["open", "close"]
        assert entries[-1].changes["status"] == ["open", "closed"]
    # The notices became deliveries before their rows went, with what their message says.
    # One case (the two dates of one kind between two series): one change in one digest per address.
    closing = list(db.session.scalars(sa.select(Delivery).where(Delivery.kind == "conflict_digest")))
    assert sorted(d.recipient for d in closing) == ["coordo@example.fr", "villeneuve@example.fr"]
    for d in closing:  # an opening not sent yet goes in the same message (coordo came after it)
        assert [c["change"] for c in d.payload["changes"]] == (
            ["opened", "closed"] if d.recipient == "villeneuve@example.fr" else ["closed"])
        change = d.payload["changes"][-1]
        assert "« Entretiens »" in change["facts"]["description"]
        assert change["facts"]["dates"].startswith("les lundis du ") and change["facts"]["dates"].endswith(", 2 dates")


def test_deleting_one_of_a_sponsors_series_ends_the_capacity_conflict_it_was_part_of(
        client, overlap_area, create_event, add_person, token_for):
    from models import ScheduleConflict, db
    from models.operations.audit import history

    t = overlap_area
    sponsor = add_person(t["cs"], name="Jean-Pierre Le Gall", role="sponsor")
    start = _a_monday_from_now()
    series = [create_event(t["bij"], [t["cs"]], title=f"Parrainage {n}", kind="other", people=[sponsor.id],
                           start_date=start + timedelta(days=n), start_time="18:00", duration_minutes=60,
                           frequency="weekly", count=10) for n in range(4)]
    detect_all(datetime.now(UTC))
    (conflict,) = live()
    assert (conflict.a_event_id, conflict.b_event_id) == (series[0].id, series[3].id)
    # The second series is no side of it, but one of the three running at once.
    assert client.delete(f"/api/v1/events/{series[1].id}", headers=token_for()).status_code == 204
    db.session.expire_all()
    assert db.session.get(ScheduleConflict, conflict.id).status == "closed"
    assert [e.action for e in history("conflicts", conflict.id)] == ["open", "close"]
