"""Overlap cases: one kind between two series with its dates, kept by the full run and by the
check after each write; listed by the API; accepted whole (new dates too, until a series
changes) or one date at a time; told once per case."""
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from conftest import quiet_monday

WEEKS = 6


@pytest.fixture
def clash(create_quartier, create_partner, create_place, create_event, token_for):
    """Two weekly Monday series at one place, at the same time: one place case of WEEKS dates."""
    from models import db
    from scheduler.conflicts.nightly import run_full_detection

    quartier = create_quartier("QN03801M")
    ml = create_partner("mission-locale", contact_email="accueil@ml.example.fr")
    cs = create_partner("centre-social", type="centre_social", contact_email="accueil@cs.example.fr")
    bij = create_place("bij", quartier=quartier.code)
    headers = token_for("coordo@example.fr", "coordinator", quartiers=[quartier])
    permanence = create_event(bij, [ml], frequency="weekly", count=WEEKS, skip_public_holidays=False)
    atelier = create_event(bij, [cs], title="Atelier CV", kind="atelier", frequency="weekly", count=WEEKS,
                           skip_public_holidays=False)
    run_full_detection()
    db.session.commit()
    return {"headers": headers, "permanence": permanence, "atelier": atelier, "ml": ml, "cs": cs,
            "editor": token_for("conseillere@ml.example.fr", "editor", ml)}


def _cases():
    from models import ConflictCase, db

    db.session.expire_all()
    return list(db.session.scalars(sa.select(ConflictCase).order_by(ConflictCase.id)))


def test_a_weekly_clash_is_one_case_with_its_dates_and_one_notice_per_recipient(client, clash):
    from models import ConflictNotice, db

    [case] = _cases()
    assert (case.kind, case.status, case.open_count, case.accepted_count) == ("place", "open", WEEKS, 0)
    assert {case.a_event_id, case.b_event_id} == {clash["permanence"].id, clash["atelier"].id}
    notices = sorted((n.change, n.partner.slug if n.partner else n.user.email)
                     for n in db.session.scalars(sa.select(ConflictNotice)))
    assert notices == [("opened", "centre-social"), ("opened", "coordo@example.fr"), ("opened", "mission-locale")]

    listed = client.get("/api/v1/conflict-cases?status=open", headers=clash["headers"])
    assert listed.status_code == 200
    [item] = listed.get_json()
    assert item["id"] == case.id and item["dates"] == {"open": WEEKS, "accepted": 0, "ended": 0}
    assert item["a"]["title"] in ("Permanence mission locale", "Atelier CV")
    assert int(listed.headers["X-Pagination"].split('"total": ')[1].split(",")[0]) == 1
    one = client.get(f"/api/v1/conflict-cases/{case.id}", headers=clash["editor"]).get_json()
    assert len(one["conflicts"]) == WEEKS and {c["status"] for c in one["conflicts"]} == {"open"}
    # Filters as the conflicts': another kind, another partner, nothing.
    assert client.get("/api/v1/conflict-cases?kind=staff", headers=clash["headers"]).get_json() == []
    other = client.get("/api/v1/conflict-cases?partner=france-travail", headers=clash["headers"]).get_json()
    assert other == []


def test_an_editor_of_another_partner_does_not_see_the_case(client, clash, create_partner, token_for):
    outsider = token_for("autre@example.fr", "editor", create_partner("autre"))
    [case] = _cases()
    assert client.get("/api/v1/conflict-cases", headers=outsider).get_json() == []
    assert client.get(f"/api/v1/conflict-cases/{case.id}", headers=outsider).status_code == 404


def test_accepting_the_whole_case_accepts_every_date_in_one_action_and_says_so_nowhere_else(client, clash):
    from models import ConflictNotice, db

    [case] = _cases()
    db.session.execute(sa.update(ConflictNotice).values(sent_at=datetime.now(UTC)))
    db.session.commit()
    response = client.post(f"/api/v1/conflict-cases/{case.id}/accept", headers=clash["headers"],
                           json={"reason": "Deux salles tous les lundis."})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "accepted" and body["accepted_whole"] is True
    assert {c["status"] for c in body["conflicts"]} == {"accepted"}
    assert {c["reason"] for c in body["conflicts"]} == {"Deux salles tous les lundis."}
    [case] = _cases()
    assert (case.status, case.open_count, case.accepted_count) == ("accepted", 0, WEEKS)
    # The one who accepted knows: nobody else is told of an acceptance.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConflictNotice).where(
        ConflictNotice.sent_at.is_(None))) == 0
    again = client.post(f"/api/v1/conflict-cases/{case.id}/accept", headers=clash["headers"],
                        json={"reason": "Encore."})
    assert again.status_code == 409


def test_a_whole_case_acceptance_covers_the_dates_the_rules_add_later_until_a_series_changes(
        app, client, clash, monkeypatch):
    from models import ScheduleConflict, db
    from scheduler import writes
    from scheduler.conflicts.nightly import run_full_detection
    from tests.conftest import SYSTEM

    # A horizon of three weeks sees the first dates; the next runs see more as time passes.
    monkeypatch.setitem(app.config, "CONFLICT_HORIZON_DAYS", 21)
    db.session.execute(sa.delete(ScheduleConflict))
    db.session.commit()
    start = datetime.combine(quiet_monday(), datetime.min.time(), UTC)
    run_full_detection(start - timedelta(days=7))
    db.session.commit()
    [case] = _cases()
    seen = case.open_count
    assert 0 < seen < WEEKS
    assert client.post(f"/api/v1/conflict-cases/{case.id}/accept", headers=clash["headers"],
                       json={"reason": "La salle est partagée."}).status_code == 200
    run_full_detection(start + timedelta(days=14))  # two more Mondays come into the horizon
    db.session.commit()
    [case] = _cases()
    assert case.open_count == 0 and case.status == "accepted" and case.accepted_count > seen - 2

    # The atelier changes (a new title is a new version): what the rules add from now on is open.
    writes.update_event(SYSTEM, db.session.get(type(clash["atelier"]), clash["atelier"].id), {"title": "Atelier"})
    db.session.commit()
    run_full_detection(start + timedelta(days=28))
    db.session.commit()
    [case] = _cases()
    assert case.accepted_versions is None
    assert case.status == "open" and case.open_count >= 1


def test_accepting_one_date_leaves_the_case_open_with_one_date_fewer(client, clash):
    [case] = _cases()
    first = client.get(f"/api/v1/conflict-cases/{case.id}", headers=clash["headers"]).get_json()["conflicts"][0]
    response = client.post(f"/api/v1/conflict-cases/{case.id}/accept", headers=clash["headers"],
                           json={"reason": "Ce lundi-là, deux salles.", "conflict_id": first["id"]})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["dates"] == {"open": WEEKS - 1, "accepted": 1, "ended": 0}
    assert response.get_json()["status"] == "open"
    # The per-date record says so too, and a date of another case is refused.
    assert client.get(f"/api/v1/conflicts/{first['id']}", headers=clash["headers"]).get_json()["status"] == "accepted"
    wrong = client.post(f"/api/v1/conflict-cases/{case.id}/accept", headers=clash["headers"],
                        json={"reason": "Ce lundi-là.", "conflict_id": 999999})
    assert wrong.status_code == 404


def test_a_case_whose_dates_all_end_is_closed_and_told_once(client, clash):
    from models import ConflictNotice, db

    [case] = _cases()
    db.session.execute(sa.update(ConflictNotice).values(sent_at=datetime.now(UTC)))
    db.session.commit()
    response = client.patch(f"/api/v1/events/{clash['atelier'].id}", headers=clash["headers"],
                            json={"start_time": "09:00", "end_time": "11:00"})
    assert response.status_code == 200, response.get_json()
    [case] = _cases()
    assert (case.status, case.open_count, case.ended_count) == ("closed", 0, WEEKS)
    pending = sorted((n.change, n.partner.slug if n.partner else n.user.email) for n in db.session.scalars(
        sa.select(ConflictNotice).where(ConflictNotice.sent_at.is_(None))))
    assert pending == [("closed", "centre-social"), ("closed", "coordo@example.fr"), ("closed", "mission-locale")]
