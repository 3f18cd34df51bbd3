"""The CLI of the public contract, the demo territory, and the migrations."""
from datetime import date

import sqlalchemy as sa

from models import Event, Partner, Place, db


def test_tokens_create_prints_a_working_token_on_its_last_line(app, client, create_partner):
    create_partner("mission-locale-sud-isere")
    result = app.test_cli_runner().invoke(args=["tokens", "create", "ML@Example.fr", "--role", "editor",
                                                "--partner", "mission-locale-sud-isere"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    response = client.get("/api/v1/people", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_tokens_create_refuses_an_editor_without_partner(app):
    result = app.test_cli_runner().invoke(args=["tokens", "create", "x@example.fr", "--role", "editor"])
    assert result.exit_code != 0 and "partenaire" in result.output


def test_the_demo_loads_twice_without_duplicating_anything(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    counts = [db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in (Event, Partner, Place)]
    second = runner.invoke(args=["demo", "load"])
    assert second.exit_code == 0 and "0 série(s) ajoutée(s)" in second.output
    assert [db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in (Event, Partner, Place)] == counts


def test_the_demo_shows_each_scheduling_pattern_of_the_seed(app, client):
    from commands.demo import load_demo

    load_demo(date(2027, 3, 1))
    db.session.commit()
    events = {e.uid.removeprefix("demo-").removesuffix("@maillage"): e for e in db.session.scalars(sa.select(Event))}
    rule = lambda key: (events[key].frequency, events[key].interval, events[key].weekdays)  # noqa: E731
    assert rule("aller-vers-villeneuve") == ("weekly", 1, [2])  # every Wednesday afternoon
    assert events["aller-vers-villeneuve"].kind == "aller_vers" and len(events["aller-vers-villeneuve"].people) == 2
    assert rule("permanence-ml-bij") == ("weekly", 1, [0]) and events["permanence-ml-bij"].until  # a few months
    assert {events[k].month_week for k in ("villeneuve-tour-de-table", "villeneuve-permanence-partenaires",
                                           "villeneuve-debriefing")} == {2}  # one Thursday a month, 3 stages
    assert rule("gse-maurepas") == ("weekly", 6, [1])  # every six weeks
    assert len(events["lundis-emploi-maurepas"].organisers) == 5  # co-run by five partners
    assert rule("permanence-ml-pimms")[1] == rule("permanence-ml-cosmonautes")[1] == 2  # two hosts in turn
    assert events["club-ambition-reussite"].walk_in  # open entry
    assert rule("forum-val-emploi") == ("monthly", 6, [1]) and 5 <= len(events["forum-val-emploi"].employers) <= 7
    assert events["e2c-info-collectives"].count == 3  # three information meetings
    assert rule("atelier-cv-gavotte") == ("weekly", 1, [1, 3])  # two afternoons a week
    assert events["entretiens-interprete-ft"].people == events["accueil-allophones-ml"].people  # one interpreter
    assert sum(k.startswith("parrainage-") for k in events) == 4  # a sponsor, one young person too many
    assert events["permanence-chaudron"].timezone == "Indian/Reunion"
    # The occurrences are there, from the current week on, with a cancelled and a moved one.
    occurrences = client.get("/api/v1/occurrences?start=2027-03-01&end=2027-04-12").get_json()
    assert {o["kind"] for o in occurrences} >= {"permanence", "lundi_emploi", "aller_vers", "atelier",
                                               "info_collective", "job_dating", "forum"}
    assert any(o["is_cancelled"] for o in occurrences) and any(o["is_moved"] for o in occurrences)
    chaudron = [o for o in occurrences if o["place"]["slug"] == "case-chaudron"]
    assert chaudron and all(o["starts_at"].endswith("+04:00") for o in chaudron)


def test_the_demo_has_a_youth_structures_workshop_that_pauses_during_the_school_holidays(app, client):
    from commands.demo import load_demo

    load_demo(date(2027, 3, 1))
    db.session.commit()
    workshop = db.session.scalar(sa.select(Event).where(Event.uid == "demo-atelier-bij-jeunes@maillage"))
    assert workshop.pause_school_holidays and workshop.school_holidays_zone == "A"
    assert [p.type for p in workshop.organisers] == ["pij_bij"]
    april = client.get("/api/v1/occurrences?start=2027-04-01&end=2027-05-01&place=bij-echirolles").get_json()
    # Zone A's spring holidays: 10 to 25 April 2027.
    assert [o["starts_at"][:10] for o in april if o["event_id"] == workshop.id] == ["2027-04-07", "2027-04-28"]


def test_the_migrations_build_exactly_the_models(app):
    """Autogenerate against the migrated database finds nothing to add: no model change without
    its migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_the_demo_has_six_months_of_history_with_people_received_and_a_few_cancellations(app, client):
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    from commands.demo import load_demo
    from models import Attendance
    from scheduler.reports.coverage import Territory, territory_quartiers
    from scheduler.reports.review import review

    paris = ZoneInfo("Europe/Paris")
    load_demo(date(2027, 3, 1))
    db.session.commit()
    start, end = datetime(2026, 9, 1, tzinfo=paris), datetime.combine(date(2027, 3, 1), time(), paris)
    report = review(start, end, Territory(territory_quartiers(), national=True), now=end)
    t = report.total
    # Six months of the weekly series: hundreds of sessions held, most of them counted.
    assert t.held > 200 and t.people > 0 and 0.7 < t.counted / t.held < 0.95, (t.held, t.counted)
    assert t.cancelled >= 4 and "Grève des transports : salle fermée." in t.reasons
    assert t.to_come == 0
    by_title = {s.title: s.tally for s in report.series}
    assert by_title["Travail de rue avec la mission locale"].people > 0
    assert "Tour de table des partenaires" not in by_title or by_title["Tour de table des partenaires"].counted == 0
    # Counts only for what has happened, youth sessions split by age band within their total.
    for a in db.session.scalars(sa.select(Attendance)):
        assert a.recurrence_start < end and sum((a.by_age_band or {}).values()) <= a.total
    # The same figures at every load.
    noted = db.session.scalar(sa.select(sa.func.sum(Attendance.total)))
    again = app.test_cli_runner().invoke(args=["demo", "load"])
    assert again.exit_code == 0 and db.session.scalar(sa.select(sa.func.sum(Attendance.total))) == noted
