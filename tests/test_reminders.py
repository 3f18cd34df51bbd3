"""Reminders and notices, sent for real to an SMTP server (aiosmtpd) the tests start.

Times are given as UTC instants and read as the place's wall clock: Europe/Paris is UTC+1 in
winter and UTC+2 in summer (2027: from 28 March to 31 October).
"""
from __future__ import annotations

import re
import socket
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import vobject

from conftest import SYSTEM, a_weekday_after, french_day

PARIS = ZoneInfo("Europe/Paris")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mailbox(app):
    """A real SMTP server on a free port; the app sends to it."""
    from aiosmtpd.controller import Controller

    from scheduler.notifications.mailbox import Mailbox

    box = Mailbox()
    box.port = free_port()
    box.controller = Controller(box, hostname="127.0.0.1", port=box.port)
    box.controller.start()
    previous = app.config["SMTP_URL"]
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{box.port}"
    yield box
    if box.controller._thread is not None:  # some tests stop it themselves (SMTP down)
        box.controller.stop()
    app.config["SMTP_URL"] = previous


@pytest.fixture
def territory(create_partner, create_place, create_quartier):
    """A mission locale with one adviser, and the BIJ of Villeneuve where she holds permanences."""
    from models import db
    from models.operations.partners import create_person

    quartier = create_quartier()
    partner = create_partner("mission-locale", contact_email="accueil@ml.example.fr")
    place = create_place("bij-echirolles", name="BIJ d'Échirolles", quartier=quartier.code,
                         address="2 place de la Convention", city="Échirolles",
                         contact_email="accueil@bij.example.fr")
    adviser = create_person(SYSTEM, {"partner": partner.slug, "name": "Awa Diallo", "email": "awa@ml.example.fr"})
    db.session.commit()
    return {"partner": partner, "place": place, "adviser": adviser, "quartier": quartier}


def run(now: str | datetime):
    from scheduler.notifications.sending import run_due

    return run_due(at(now) if isinstance(now, str) else now)


def deliveries(**where):
    import sqlalchemy as sa

    from models import Delivery, db

    q = sa.select(Delivery).order_by(Delivery.due_at, Delivery.id)
    for name, value in where.items():
        q = q.where(getattr(Delivery, name) == value)
    return list(db.session.scalars(q))


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def ics_of(message):
    parts = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, "one .ics attached"
    assert parts[0].get_filename() == "evenement.ics"
    return vobject.readOne(parts[0].get_content() if isinstance(parts[0].get_content(), str)
                           else parts[0].get_content().decode())


# --- content and timing ------------------------------------------------------------------------

def test_a_reminder_two_days_before_arrives_at_nine_local_in_french_text_html_and_ics(
        app, mailbox, territory, create_event):
    event = create_event(territory["place"], [territory["partner"]], title="Permanence mission locale",
                         start_date=date(2027, 1, 14), start_time="14:00", people=[territory["adviser"].id])
    # Tuesday 12 January 2027, 9:00 in Paris is 8:00 UTC.
    run("2027-01-12T07:59:00Z")
    assert len(mailbox) == 0
    run("2027-01-12T08:00:00Z")
    assert len(mailbox) == 1
    message = mailbox.messages[0]
    assert message["To"] == "awa@ml.example.fr"
    assert message["Subject"] == "Rappel : Permanence mission locale, le jeudi 14 janvier 2027 à 14 h 00"
    text = text_of(message)
    assert "Quand : jeudi 14 janvier 2027, de 14 h 00 à 17 h 00" in text
    assert "Où : BIJ d'Échirolles, 2 place de la Convention" in text
    assert "Organisé par : Mission Locale" in text
    assert "List-Unsubscribe" not in message  # staff are told as staff, not as subscribers
    assert "<th scope=\"row\" style=\"text-align: left; padding-right: 1em;\">Quand</th>" in html_of(message)
    vevent = ics_of(message).vevent
    assert vevent.uid.value == event.uid
    assert vevent.dtstart.value == datetime(2027, 1, 14, 14, 0, tzinfo=vevent.dtstart.value.tzinfo)
    assert vevent.dtstart.value.utcoffset() == timedelta(hours=1)
    [delivery] = deliveries(kind="reminder")
    assert (delivery.state, delivery.offset, delivery.due_at) == ("sent", "J-2@09:00", at("2027-01-12T08:00:00Z"))

    run("2027-01-12T08:01:00Z")  # a tick later: nothing twice
    run("2027-01-14T06:59:00Z")
    assert len(mailbox) == 1
    run("2027-01-14T07:00:00Z")  # the same morning at 8:00
    assert len(mailbox) == 2
    assert mailbox.messages[1]["Subject"] == "Rappel : Permanence mission locale, aujourd'hui à 14 h 00"


def test_two_reminders_due_in_one_run_for_one_adviser_are_one_message_with_both_calendars_attached(
        app, mailbox, territory, create_event):
    morning = create_event(territory["place"], [territory["partner"]], title="Atelier CV",
                           start_date=date(2027, 1, 14), start_time="09:30", duration_minutes=90,
                           people=[territory["adviser"].id])
    afternoon = create_event(territory["place"], [territory["partner"]], title="Permanence mission locale",
                             start_date=date(2027, 1, 14), start_time="14:00", people=[territory["adviser"].id])
    run("2027-01-12T08:00:00Z")  # both due two days before at 9:00 in Paris
    [message] = mailbox.messages
    assert message["To"] == "awa@ml.example.fr"
    assert message["Subject"] == "Maillage : 2 avis vous concernent"
    text = text_of(message)
    assert "— Rappel : Atelier CV, le jeudi 14 janvier 2027 à 9 h 30 —" in text
    assert "— Rappel : Permanence mission locale, le jeudi 14 janvier 2027 à 14 h 00 —" in text
    calendars = {part.get_filename(): vobject.readOne(part.get_content()) for part in message.iter_attachments()}
    assert sorted(calendars) == ["evenement-1.ics", "evenement-2.ics"]
    assert {c.vevent.uid.value for c in calendars.values()} == {morning.uid, afternoon.uid}
    assert sorted(d.state for d in deliveries(kind="reminder")) == ["grouped", "grouped"]
    run("2027-01-12T08:01:00Z")
    assert len(mailbox) == 1  # nothing twice


@pytest.mark.parametrize("dates, instants", [
    # March: Sunday 28 March 2027 is the change itself (CET until 2:00, then CEST).
    ([date(2027, 3, 23), date(2027, 3, 30), date(2027, 4, 6)],
     ["2027-03-21T08:00:00Z", "2027-03-28T07:00:00Z", "2027-04-04T07:00:00Z"]),
    # October: Sunday 31 October 2027 is the change back.
    ([date(2027, 10, 19), date(2027, 10, 26), date(2027, 11, 2)],
     ["2027-10-17T07:00:00Z", "2027-10-24T07:00:00Z", "2027-10-31T08:00:00Z"]),
], ids=["march", "october"])
def test_two_days_before_at_nine_stays_at_nine_local_across_the_dst_change(
        app, mailbox, territory, create_event, dates, instants):
    create_event(territory["place"], [territory["partner"]], start_date=dates[0], start_time="14:00",
                 frequency="weekly", count=3, people=[territory["adviser"].id])
    for number, (day, instant) in enumerate(zip(dates, instants), 1):
        run(at(instant) - timedelta(minutes=1))
        assert len(mailbox) == number - 1, f"nothing before {instant}"
        run(instant)
        assert len(mailbox) == number, f"the reminder at {instant}"
        assert f"{day.day} " in mailbox.messages[-1]["Subject"]
    due = [d.due_at for d in deliveries(kind="reminder", offset="J-2@09:00")]
    assert due == [at(i) for i in instants]
    assert {d.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris")).hour for d in due} == {9}


def test_a_partner_sets_the_day_before_at_nine_and_a_reunion_place_gets_it_at_nine_reunion_time(
        app, mailbox, create_partner, create_place, create_event):
    from models import db
    from models.operations.deliveries import set_reminder_settings

    partner = create_partner("mission-locale-est", contact_email="contact@mle.example.re")
    set_reminder_settings(SYSTEM, partner, {"offsets": [{"days_before": 1, "at": "09:00"}]})
    db.session.commit()
    place = create_place("pij-saint-denis", postcode="97400")
    assert place.timezone == "Indian/Reunion"
    create_event(place, [partner], start_date=date(2027, 3, 30), start_time="14:00")
    run("2027-03-29T04:59:00Z")
    assert len(mailbox) == 0
    run("2027-03-29T05:00:00Z")  # 9:00 in Réunion (UTC+4, no DST)
    assert [m["To"] for m in mailbox.messages] == ["contact@mle.example.re"]
    assert mailbox.messages[0]["Subject"].endswith("demain à 14 h 00")
    assert "Heure locale : Indian/Reunion" in text_of(mailbox.messages[0])


def test_a_cancelled_occurrence_gets_a_notice_and_no_reminder(app, mailbox, territory, create_event):
    from models import db
    from scheduler.writes import cancel_occurrence

    # Two Tuesdays ahead (the notice is for what is to come; no reminder falls due now).
    first = a_weekday_after(9, 1, weeks=2)
    second = first + timedelta(weeks=1)
    event = create_event(territory["place"], [territory["partner"]], title="Permanence mission locale",
                         start_date=first, start_time="14:00", frequency="weekly", count=2,
                         people=[territory["adviser"].id])
    cancel_occurrence(SYSTEM, event, paris(second, 14), reason="Conseillère en formation")
    db.session.commit()
    run(datetime.now(UTC))
    assert sorted(m["To"] for m in mailbox.messages) == ["accueil@bij.example.fr", "awa@ml.example.fr"]
    notice = mailbox.messages[0]
    assert notice["Subject"] == f"Annulé : Permanence mission locale, {french_day(second)} à 14 h 00"
    assert "Motif : Conseillère en formation" in text_of(notice)
    assert ics_of(notice).vevent.status.value == "CANCELLED"
    mailbox.messages.clear()

    run(paris(first - timedelta(days=2), 9))  # the first occurrence's reminder
    assert [m["Subject"] for m in mailbox.messages] == [
        f"Rappel : Permanence mission locale, le {french_day(first)} à 14 h 00"]
    run(paris(second - timedelta(days=2), 8, 59))
    run(paris(second - timedelta(days=2), 9))  # the cancelled one's would be now
    run(paris(second, 8))
    assert len(mailbox) == 1
    assert not [d for d in deliveries(kind="reminder") if d.recurrence_start == paris(second, 14)]


def test_a_reminder_recorded_before_the_cancellation_is_not_sent(app, mailbox, territory, create_event):
    from models import db
    from scheduler.notifications.sending import scan, send_due
    from scheduler.writes import cancel_occurrence

    day = a_weekday_after(9, 3)  # a Thursday ahead: the cancellation's notices are due before its reminder
    event = create_event(territory["place"], [territory["partner"]], start_date=day,
                         people=[territory["adviser"].id])
    due = paris(day - timedelta(days=2), 9)
    scan(due)
    db.session.commit()
    cancel_occurrence(SYSTEM, event, paris(day, 14))
    db.session.commit()
    send_due(due)
    [reminder] = deliveries(kind="reminder")
    assert reminder.state == "skipped" and "annulée" in reminder.last_error
    assert [m["Subject"].split(" :")[0] for m in mailbox.messages] == ["Annulé", "Annulé"]


def test_a_moved_occurrence_gets_a_notice_and_its_reminder_follows_the_new_date(
        app, mailbox, territory, create_event):
    from models import db
    from scheduler.writes import move_occurrence

    first = a_weekday_after(9, 1, weeks=2)  # a Tuesday
    second, wednesday = first + timedelta(weeks=1), first + timedelta(weeks=1, days=1)
    event = create_event(territory["place"], [territory["partner"]], title="Atelier CV", kind="atelier",
                         start_date=first, start_time="14:00", frequency="weekly", count=2,
                         people=[territory["adviser"].id])
    move_occurrence(SYSTEM, event, paris(second, 14), starts_at=paris(wednesday, 10), reason="Salle prise mardi")
    db.session.commit()
    run(datetime.now(UTC))
    notice = next(m for m in mailbox.messages if m["To"] == "awa@ml.example.fr")
    assert notice["Subject"] == f"Changement : Atelier CV, {french_day(second)} à 14 h 00"
    assert f"Quand : {french_day(wednesday)}, de 10 h 00 à 13 h 00" in text_of(notice)
    mailbox.messages.clear()
    run(paris(second - timedelta(days=2), 9))  # Sunday: two days before the old date, nothing
    assert len(mailbox) == 0
    run(paris(wednesday - timedelta(days=2), 8, 59))
    run(paris(wednesday - timedelta(days=2), 9))  # Monday 9:00: two days before the new one
    assert [m["Subject"] for m in mailbox.messages] == [f"Rappel : Atelier CV, le {french_day(wednesday)} à 10 h 00"]


def test_a_place_contact_gets_the_programme_of_next_week_on_friday_morning(app, mailbox, territory, create_event):
    create_event(territory["place"], [territory["partner"]], title="Permanence mission locale",
                 start_date=date(2027, 1, 11), start_time="14:00", frequency="weekly", weekdays=[0, 2])
    run("2027-01-15T08:59:00Z")
    assert not [m for m in mailbox.messages if m["To"] == "accueil@bij.example.fr"]
    run("2027-01-15T09:00:00Z")  # Friday 10:00 in Paris
    [programme] = [m for m in mailbox.messages if m["To"] == "accueil@bij.example.fr"]
    assert programme["Subject"] == "BIJ d'Échirolles : le programme de la semaine du lundi 18 janvier 2027"
    text = text_of(programme)
    assert "- lundi 18 janvier 2027, 14 h 00–17 h 00 : Permanence mission locale (Mission Locale)" in text
    assert "- mercredi 20 janvier 2027, 14 h 00–17 h 00 : Permanence mission locale" in text
    assert "lundi 25 janvier" not in text


# --- whatever happens --------------------------------------------------------------------------

def test_an_smtp_server_down_then_back_loses_nothing(app, mailbox, territory, create_event):
    from aiosmtpd.controller import Controller

    create_event(territory["place"], [territory["partner"]], start_date=date(2027, 1, 14),
                 people=[territory["adviser"].id])
    mailbox.controller.stop()
    counts = run("2027-01-12T08:00:00Z")
    assert counts["failed"] == 1 and counts["sent"] == 0
    [delivery] = deliveries(kind="reminder")
    assert (delivery.state, delivery.attempts) == ("failed", 1)
    assert delivery.next_attempt_at == at("2027-01-12T08:01:00Z")
    assert "injoignable" in delivery.last_error
    run("2027-01-12T08:01:00Z")  # still down: backoff doubles
    delivery = deliveries(kind="reminder")[0]
    assert (delivery.attempts, delivery.next_attempt_at) == (2, at("2027-01-12T08:03:00Z"))

    mailbox.controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    mailbox.controller.start()
    run("2027-01-12T08:02:00Z")  # back, but not yet time to retry
    assert len(mailbox) == 0
    counts = run("2027-01-12T08:03:00Z")
    assert counts["sent"] == 1 and len(mailbox) == 1
    assert deliveries(kind="reminder")[0].state == "sent"
    run("2027-01-12T08:10:00Z")
    assert len(mailbox) == 1


def test_after_a_downtime_what_fell_due_within_the_grace_period_is_sent_and_older_is_logged_as_skipped(
        app, mailbox, territory, create_event, create_partner, caplog):
    from models import db
    from models.operations.deliveries import set_reminder_settings

    noon = create_partner("centre-social", contact_email="accueil@cs.example.fr")
    set_reminder_settings(SYSTEM, noon, {"offsets": [{"days_before": 2, "at": "12:00"}]})
    db.session.commit()
    create_event(territory["place"], [territory["partner"]], start_date=date(2027, 1, 14),
                 people=[territory["adviser"].id])  # due 8:00 UTC
    create_event(territory["place"], [noon], title="Atelier du centre social",
                 start_date=date(2027, 1, 14))  # 11:00 UTC
    run("2027-01-12T07:00:00Z")  # the clock's last tick before it stopped
    counts = run("2027-01-12T12:30:00Z")  # back 5 h 30 later; grace is 3 h
    assert (counts["missed"], counts["sent"]) == (1, 1)
    assert [m["To"] for m in mailbox.messages] == ["accueil@cs.example.fr"]
    missed = deliveries(recipient="awa@ml.example.fr")[0]
    assert missed.state == "skipped" and "grâce" in missed.last_error
    assert "awa@ml.example.fr" in caplog.text


def test_two_locks_never_make_two_active_clocks(app):
    from models import ClockLock, db
    from scheduler.clock import SingleClockLock

    first, second = SingleClockLock(), SingleClockLock()
    assert first.acquire() is True
    assert second.acquire() is False
    assert first.acquire() is True  # the heartbeat renews it
    assert second.acquire() is False
    if db.engine.dialect.name == "sqlite":
        # A holder that stopped beating (killed) loses the row after LOCK_TTL.
        db.session.get(ClockLock, "clock").heartbeat_at -= timedelta(minutes=5)
        db.session.commit()
        assert second.acquire() is True
        assert first.acquire() is False
        second.release()
    else:
        first.release()
    assert second.acquire() is True if db.engine.dialect.name == "postgresql" else first.acquire() is True
    first.release()
    second.release()


def test_only_the_clock_holding_the_lock_runs_jobs_and_the_job_sends_what_is_due(
        app, mailbox, territory, create_event):
    from models import db
    from scheduler.clock import Clock
    from scheduler.writes import cancel_occurrence

    event = create_event(territory["place"], [territory["partner"]], start_date=date.today() + timedelta(days=2),
                         people=[territory["adviser"].id])
    cancel_occurrence(SYSTEM, event, event.starts_at)  # notices due now
    db.session.commit()
    active, standby = Clock(app), Clock(app)
    try:
        assert active.beat() is True and active.is_running_jobs
        assert standby.beat() is False and not standby.is_running_jobs
        assert active.beat() is True  # the heartbeat renews it
        [job] = [j for j in active.scheduler.get_jobs() if j.id == "reminders.run_due"]
        job.func()  # what the clock runs every minute
        assert len(mailbox) == 2  # the notices of the cancellation: the adviser, the place
        active.stop()  # the active clock stops: the standby takes over at its next beat
        assert standby.beat() is True and standby.is_running_jobs
    finally:
        active.stop()
        standby.stop()


# --- public subscriptions ---------------------------------------------------------------------

def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_a_young_person_subscribes_confirms_gets_reminders_and_unsubscribes_in_one_click(
        app, client, mailbox, territory, create_event):
    first = a_weekday_after(9, 1, weeks=3)  # three Tuesdays ahead
    second, third = first + timedelta(weeks=1), first + timedelta(weeks=2)
    event = create_event(territory["place"], [territory["partner"]], title="Job dating", kind="job_dating",
                         start_date=first, start_time="14:00", frequency="weekly", count=3)
    page = client.get("/abonnement?lieu=bij-echirolles")
    assert page.status_code == 200 and "le lieu BIJ d&#39;Échirolles" in page.text
    refused = client.post("/abonnement?lieu=bij-echirolles",
                          data={"csrf_token": _csrf(page.text), "email": "pas-une-adresse"})
    assert refused.status_code == 422 and "Adresse électronique invalide" in refused.text
    done = client.post("/abonnement?lieu=bij-echirolles",
                       data={"csrf_token": _csrf(page.text), "email": "Yanis@Example.fr"})
    assert done.status_code == 200 and "Vérifiez votre boîte" in done.text

    run(paris(first - timedelta(days=1), 9))  # not confirmed yet: no reminder, but the confirmation
    assert [m["To"] for m in mailbox.messages] == ["yanis@example.fr"]
    assert mailbox.messages[0]["Subject"] == "Confirmez votre abonnement aux rappels Maillage"
    link = re.search(r"http://maillage.test(/abonnement/confirmer/\S+)", text_of(mailbox.messages[0])).group(1)
    assert "Abonnement confirmé" in client.get(link).text
    mailbox.messages.clear()

    run(paris(second - timedelta(days=1), 8, 59))
    run(paris(second - timedelta(days=1), 9))  # the day before at 9:00
    [reminder] = [m for m in mailbox.messages if m["To"] == "yanis@example.fr"]
    assert reminder["Subject"] == "Rappel : Job dating, demain à 14 h 00"
    unsubscribe = re.search(r"Ne plus recevoir ces messages : http://maillage.test(\S+)", text_of(reminder)).group(1)
    assert reminder["List-Unsubscribe"].strip() == f"<http://maillage.test{unsubscribe}>"
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Ne plus recevoir ces messages" in html_of(reminder)

    response = client.get(unsubscribe)
    assert response.status_code == 200 and "Désabonnement effectué" in response.text
    run(paris(third - timedelta(days=1), 9))
    assert not [m for m in mailbox.messages if m["Subject"].startswith("Rappel") and m["To"] == "yanis@example.fr"
                and french_day(third).rsplit(" ", 1)[0] in m["Subject"]]
    assert [m["To"] for m in mailbox.messages].count("yanis@example.fr") == 1
    assert client.post(unsubscribe).status_code == 200  # the mail client's one-click POST works too
    assert client.get("/abonnement/confirmer/inconnu").status_code == 404
    del event


def test_a_subscription_link_is_signed_and_nothing_in_the_database_gives_it(app, client, mailbox, territory):
    """The link's token is nowhere in the database (an export or a leaked backup makes no link);
    one changed character, or another SECRET_KEY, and it is refused; an old key listed in
    SECRET_KEY_FALLBACKS keeps the links it signed working."""
    import json

    from models import db
    from models.operations.backup import export_calendar

    page = client.get("/abonnement?quartier=QN03801M")
    client.post("/abonnement?quartier=QN03801M", data={"csrf_token": _csrf(page.text), "email": "lina@example.fr"})
    run(datetime.now(UTC))
    link = re.search(r"http://maillage.test(/abonnement/confirmer/(\S+))", text_of(mailbox.messages[0]))
    path, token = link.group(1), link.group(2)
    assert token not in json.dumps(export_calendar(), default=str)
    assert token.split(".")[1] not in json.dumps(export_calendar(), default=str)

    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.get(f"/abonnement/confirmer/{forged}").status_code == 404
    assert client.get(f"/abonnement/desabonner/{token.split('.')[0]}.{'A' * 43}").status_code == 404
    previous = app.config["SECRET_KEY"]
    try:
        app.config["SECRET_KEY"] = "a new key"
        assert client.get(path).status_code == 404
        app.config["SECRET_KEY_FALLBACKS"] = [previous]
        response = client.get(path)
        assert response.status_code == 200 and "Abonnement confirmé" in response.text
    finally:
        app.config["SECRET_KEY"], app.config["SECRET_KEY_FALLBACKS"] = previous, []
    db.session.expire_all()


def test_asking_again_within_a_day_sends_no_second_confirmation(app, client, mailbox, territory):
    from models import Subscription, db
    from scheduler.notifications.notices import request_confirmation

    page = client.get("/abonnement?lieu=bij-echirolles")
    for _ in range(3):
        done = client.post("/abonnement?lieu=bij-echirolles", data={"csrf_token": _csrf(page.text),
                                                                    "email": "yanis@example.fr"})
        assert done.status_code == 200
    assert "déjà été envoyé à yanis@example.fr" in done.text and "moins de 24" in done.text
    # Another scope is another request.
    client.post("/abonnement?quartier=QN03801M", data={"csrf_token": _csrf(page.text), "email": "yanis@example.fr"})
    run(datetime.now(UTC))
    assert [m["To"] for m in mailbox.messages] == ["yanis@example.fr", "yanis@example.fr"]

    subscription = db.session.scalar(sa.select(Subscription).where(Subscription.target_type == "place"))
    assert not request_confirmation(subscription, datetime.now(UTC) + timedelta(hours=23))
    assert request_confirmation(subscription, datetime.now(UTC) + timedelta(hours=25))
    db.session.commit()


def test_links_mailed_before_links_were_signed_still_work_after_the_upgrade(backend, tmp_path):
    from flask_migrate import downgrade, upgrade

    from app import create_app
    from conftest import fresh_database

    with fresh_database(backend, tmp_path) as url:
        old = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "test", "RATELIMITS": {}})
        with old.app_context():
            from models import db

            upgrade()
            downgrade(revision="5e0c2a7d9b41")
            now = datetime.now(UTC).replace(tzinfo=None)
            db.session.execute(sa.text(
                "INSERT INTO subscriptions (email, target_type, target_id, token, created_at, confirmed_at) "
                "VALUES ('lina@example.fr', 'quartier', 1, 'ancien-jeton-en-clair', :now, :now)"), {"now": now})
            db.session.execute(sa.text(
                "INSERT INTO deliveries (key, kind, channel, recipient, payload, due_at, state, attempts, last_error, "
                "created_at, updated_at) VALUES ('subscription_confirm:ancien-jeton-en-clair:email:lina@example.fr', "
                "'subscription_confirm', 'email', 'lina@example.fr', '{}', :now, 'sent', 1, '', :now, :now)"),
                {"now": now})
            db.session.commit()
            upgrade()
            columns = {c["name"] for c in sa.inspect(db.engine).get_columns("subscriptions")}
            assert "token" not in columns
            assert "ancien-jeton-en-clair" not in db.session.scalar(sa.text("SELECT key FROM deliveries"))
            response = old.test_client().get("/abonnement/desabonner/ancien-jeton-en-clair")
            assert response.status_code == 200 and "Désabonnement effectué" in response.text
            db.session.remove()
            db.engine.dispose()


def test_a_subscriber_to_a_quartier_is_told_when_an_occurrence_is_cancelled(app, mailbox, territory, create_event):
    from models import db
    from models.operations.subscriptions import confirm, subscribe
    from scheduler.writes import cancel_occurrence

    first = a_weekday_after(9, 1, weeks=2)  # a Tuesday
    event = create_event(territory["place"], [territory["partner"]], start_date=first, frequency="weekly")
    confirm(subscribe("lina@example.fr", "quartier", territory["quartier"].id))
    subscribe("pas-confirme@example.fr", "quartier", territory["quartier"].id)
    db.session.commit()
    cancel_occurrence(SYSTEM, event, paris(first + timedelta(weeks=1), 14))
    db.session.commit()
    run(datetime.now(UTC))
    to_lina = [m for m in mailbox.messages if m["To"] == "lina@example.fr"]
    assert [m["Subject"].split(" :")[0] for m in to_lina] == ["Annulé"]
    assert to_lina[0]["List-Unsubscribe"]
    assert "pas-confirme@example.fr" not in {m["To"] for m in mailbox.messages if m["Subject"].startswith("Annulé")}


# --- webhooks ---------------------------------------------------------------------------------

def test_a_partner_webhook_gets_signed_json_and_is_retried_until_it_answers(app, mailbox, territory, create_event,
                                                                           webhook_receiver, private_urls_allowed):
    import hashlib
    import hmac
    import json

    from models import db
    from models.operations.deliveries import set_reminder_settings

    received = webhook_receiver.received
    webhook_receiver.answers[:] = [500, 204]
    settings = set_reminder_settings(SYSTEM, territory["partner"], {"webhook_url": webhook_receiver.url},
                                     allow_private=True)
    db.session.commit()
    secret = settings.webhook_secret
    create_event(territory["place"], [territory["partner"]], start_date=date(2027, 1, 14),
                 people=[territory["adviser"].id])
    run("2027-01-12T08:00:00Z")
    assert len(received) == 1
    [hook] = deliveries(channel="webhook")
    assert (hook.state, hook.attempts) == ("failed", 1)
    run("2027-01-12T08:01:00Z")
    assert len(received) == 2 and deliveries(channel="webhook")[0].state == "sent"
    headers, body = received[-1]
    expected = hmac.new(secret.encode(), headers["X-Maillage-Timestamp"].encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    assert headers["X-Maillage-Signature"] == f"sha256={expected}"
    assert headers["X-Maillage-Delivery"] == received[0][0]["X-Maillage-Delivery"]  # the same delivery
    data = json.loads(body)
    assert data["type"] == "reminder"
    assert data["occurrence"]["starts_at"] == "2027-01-14T14:00:00+01:00"
    run("2027-01-12T08:05:00Z")
    assert len(received) == 2


# --- the coordination page ------------------------------------------------------------------------

def test_coordinators_see_what_was_sent_what_failed_and_what_waits(app, client, mailbox, territory, create_event,
                                                                    sign_in):
    create_event(territory["place"], [territory["partner"]], title="Permanence mission locale",
                 start_date=date(2027, 1, 14), people=[territory["adviser"].id])
    run("2027-01-12T08:00:00Z")  # sent to the adviser
    create_event(territory["place"], [territory["partner"]], title="Atelier CV", start_date=date(2027, 1, 15))
    mailbox.controller.stop()
    run("2027-01-13T08:00:00Z")  # the partner's contact: SMTP down, retried later
    assert client.get("/coordination/envois/").status_code == 302  # signed out: to the sign-in page

    sign_in(client)
    page = client.get("/coordination/envois/").get_data(as_text=True)
    assert "Envoyé (1)" in page and "En échec (1)" in page
    assert "awa@ml.example.fr" in page and "accueil@ml.example.fr" in page
    assert "nouvel essai le mercredi 13 janvier 2027 à 9 h 01" in page
    failed = client.get("/coordination/envois/?etat=failed").get_data(as_text=True)
    assert "Atelier CV" in failed and "Permanence mission locale" not in failed


def test_an_editor_cannot_read_the_deliveries(app, client, territory, sign_in):
    sign_in(client, "editrice@ml.example.fr", role="editor", partner=territory["partner"])
    assert client.get("/coordination/envois/").status_code == 403


def test_a_partner_sets_its_offsets_and_webhook_through_the_api(app, client, territory, token_for, create_partner):
    headers = token_for("editrice@ml.example.fr", role="editor", partner=territory["partner"])
    url = "/api/v1/partners/mission-locale/reminder-settings"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=headers).get_json()["offsets"] == [
        {"days_before": 2, "at": "09:00"}, {"days_before": 0, "at": "08:00"}]
    bad = client.put(url, headers=headers, json={"offsets": [{"days_before": 30, "at": "25:00"}]})
    assert bad.status_code == 422 and bad.get_json()["code"] == 422
    saved = client.put(url, headers=headers, json={"offsets": [{"days_before": 1, "at": "09:00"}],
                                                    "webhook_url": "https://si.ml.example.fr/maillage"}).get_json()
    assert saved["offsets"] == [{"days_before": 1, "at": "09:00"}]
    assert saved["webhook_url"] == "https://si.ml.example.fr/maillage" and len(saved["webhook_secret"]) == 64
    other = token_for("autre@cs.example.fr", role="editor", partner=create_partner("centre-social"))
    assert client.put(url, headers=other, json={"offsets": []}).status_code == 403


# --- conflicts: notices and the coordinators' morning digest -----------------------------------

def test_a_conflict_opened_is_told_to_both_partners_and_the_coordinator_and_the_morning_digest_lists_it(
        app, mailbox, territory, create_event, create_partner):
    from models import db
    from models.operations.users import get_or_create_user
    from scheduler.conflicts.nightly import run_full_detection

    get_or_create_user("coordo@example.fr", "coordinator")
    db.session.commit()
    other = create_partner("centre-social", contact_email="accueil@cs.example.fr")
    day = a_weekday_after(9, 3)  # a Thursday within the conflicts' horizon
    create_event(territory["place"], [territory["partner"]], title="Permanence mission locale", start_date=day)
    create_event(territory["place"], [other], title="Atelier du centre social", start_date=day)
    run_full_detection()  # the same place at the same time: a hard conflict, and its notices
    db.session.commit()
    run(datetime.now(UTC))
    # Alone, or a section of the run's one message to that address (the coordinator's morning digest may
    # be due in the same run, depending on the hour the test runs).
    opened = [m for m in mailbox.messages if m["Subject"] == "Chevauchements : 1 nouveau"
              or "— Chevauchements : 1 nouveau —" in text_of(m)]
    assert sorted(m["To"] for m in opened) == ["accueil@cs.example.fr", "accueil@ml.example.fr", "coordo@example.fr"]
    assert len(mailbox) == 3  # one message per address
    text = text_of(opened[0])
    assert "Permanence mission locale" in text and "Atelier du centre social" in text
    assert f"{french_day(day)} à 14 h 00" in text
    mailbox.messages.clear()
    run(datetime.now(UTC) + timedelta(minutes=1))
    assert len(mailbox) == 0  # each notice once

    run(paris(day - timedelta(days=2), 7, 59))
    assert not [m for m in mailbox.messages if m["To"] == "coordo@example.fr"]
    run(paris(day - timedelta(days=2), 8))  # 8:00 in Paris
    [digest] = [m for m in mailbox.messages if m["To"] == "coordo@example.fr"]
    assert digest["Subject"] == "Chevauchements : 0 nouveau(x), 1 ouvert(s)"
    assert "Lieu ou salle occupé deux fois (bloquant)" in text_of(digest)


# --- changes to a whole event: cancelled, retimed, deleted, by hand or by a sync -----------------

def first_monday() -> date:
    """A Monday a week away at least (none of its series' reminders falls in the first scan's
    look-back) that is no public holiday (series skip those by default)."""
    import holidays

    today = date.today()
    monday = today + timedelta(days=14 - today.weekday())
    while monday in holidays.France(years=monday.year):
        monday += timedelta(weeks=1)
    return monday


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), PARIS)


def test_cancelling_a_whole_series_tells_each_person_once_and_none_of_its_reminders_is_sent(
        app, client, mailbox, territory, create_event, token_for, webhook_receiver, private_urls_allowed):
    import json

    from models import db
    from models.operations.deliveries import set_reminder_settings
    from models.operations.subscriptions import confirm, subscribe
    from scheduler.french import french_date

    first = first_monday()
    event = create_event(territory["place"], [territory["partner"]], start_date=first, frequency="weekly", count=3,
                         people=[territory["adviser"].id], skip_public_holidays=False)
    confirm(subscribe("lina@example.fr", "quartier", territory["quartier"].id))
    set_reminder_settings(SYSTEM, territory["partner"], {"webhook_url": webhook_receiver.url}, allow_private=True)
    db.session.commit()

    response = client.patch(f"/api/v1/events/{event.id}", headers=token_for(), json={"status": "cancelled"})
    assert response.status_code == 200, response.get_json()
    run(datetime.now(UTC))
    assert sorted(m["To"] for m in mailbox.messages) == ["accueil@bij.example.fr", "awa@ml.example.fr",
                                                         "lina@example.fr"]
    dates = [first + timedelta(weeks=n) for n in range(3)]
    for message in mailbox.messages:
        assert message["Subject"] == f"Annulé : Permanence mission locale, à partir du {french_date(first)}"
        text = text_of(message)
        assert "« Permanence mission locale » (permanence) est annulé. Voici les dates à venir concernées :" in text
        for day in dates:
            assert f"- {french_date(day)}, 14 h 00–17 h 00, BIJ d'Échirolles : annulé" in text
        assert "L'événement, tel qu'il est désormais, est joint à ce message" in text
        assert ics_of(message).vevent.status.value == "CANCELLED"
    to_lina = next(m for m in mailbox.messages if m["To"] == "lina@example.fr")
    assert to_lina["List-Unsubscribe"] and "Ne plus recevoir ces messages" in text_of(to_lina)
    assert "List-Unsubscribe" not in next(m for m in mailbox.messages if m["To"] == "awa@ml.example.fr")
    [(_headers, body)] = webhook_receiver.received
    data = json.loads(body)
    assert (data["type"], data["change"], data["event"]["id"]) == ("event_cancelled", "cancelled", event.id)
    assert [(d["before"]["starts_at"], d["after"]["is_cancelled"]) for d in data["dates"]] == [
        (paris(day, 14).isoformat(), True) for day in dates]

    mailbox.messages.clear()
    run(datetime.now(UTC) + timedelta(minutes=1))
    for day in dates:  # every reminder time of every date: the adviser's and the subscriber's
        for due in (paris(day - timedelta(days=2), 9), paris(day - timedelta(days=1), 9), paris(day, 8)):
            run(due - timedelta(minutes=1))
            run(due)
    assert len(mailbox) == 0 and deliveries(kind="reminder") == []
    assert len(webhook_receiver.received) == 1


def test_a_reminder_recorded_before_the_whole_event_is_cancelled_is_not_sent(app, mailbox, territory, create_event):
    from models import db
    from scheduler.french import french_datetime
    from scheduler.notifications.sending import scan, send_due
    from scheduler.writes import update_event

    day = first_monday()
    event = create_event(territory["place"], [territory["partner"]], start_date=day, people=[territory["adviser"].id])
    due = paris(day - timedelta(days=2), 9)
    scan(due)
    db.session.commit()
    update_event(SYSTEM, event, {"status": "cancelled"})
    db.session.commit()
    send_due(due)
    [reminder] = deliveries(kind="reminder")
    assert reminder.state == "skipped" and "annulée" in reminder.last_error
    assert sorted((m["To"], m["Subject"]) for m in mailbox.messages) == [
        (to, f"Annulé : Permanence mission locale, {french_datetime(paris(day, 14))}")
        for to in ("accueil@bij.example.fr", "awa@ml.example.fr")]
    assert "Voici la date concernée :" in text_of(mailbox.messages[0])


def test_a_new_time_for_the_series_is_one_notice_per_person_and_a_patch_that_moves_no_date_sends_none(
        app, client, mailbox, territory, create_event, token_for):
    from scheduler.french import french_date

    first = first_monday()
    event = create_event(territory["place"], [territory["partner"]], start_date=first, frequency="weekly", count=4,
                         people=[territory["adviser"].id], skip_public_holidays=False)
    headers, url = token_for(), f"/api/v1/events/{event.id}"
    second = first + timedelta(weeks=1)
    assert client.post(f"{url}/occurrences/cancel", headers=headers, json={
        "recurrence_start": paris(second, 14).isoformat(), "reason": "Bureau de vote"}).status_code == 200
    run(datetime.now(UTC))
    assert [m["Subject"].split(" :")[0] for m in mailbox.messages] == ["Annulé", "Annulé"]
    mailbox.messages.clear()

    for unchanged_dates in ({"title": "Permanence de la mission locale"}, {"start_time": "14:00", "end_time": "17:00"},
                            {"description": "Sans rendez-vous, CV et candidatures."}):
        assert client.patch(url, headers=headers, json=unchanged_dates).status_code == 200
    run(datetime.now(UTC))
    assert len(mailbox) == 0 and deliveries(kind="event_changed") == []

    assert client.patch(url, headers=headers, json={"start_time": "15:00", "end_time": "18:00"}).status_code == 200
    run(datetime.now(UTC))
    assert sorted(m["To"] for m in mailbox.messages) == ["accueil@bij.example.fr", "awa@ml.example.fr"]
    message = mailbox.messages[0]
    assert message["Subject"] == f"Changement : Permanence de la mission locale, à partir du {french_date(first)}"
    text = text_of(message)
    assert "« Permanence de la mission locale » (permanence) change. Voici les dates à venir concernées :" in text
    for day in (first, first + timedelta(weeks=2), first + timedelta(weeks=3)):
        assert f"- {french_date(day)}, 15 h 00–18 h 00, BIJ d'Échirolles (au lieu de 14 h 00–17 h 00)" in text
    assert french_date(second) not in text  # still cancelled: nothing changes for anyone that day
    [cancelled] = [v for v in ics_of(message).vevent_list if hasattr(v, "recurrence_id")]
    assert cancelled.status.value == "CANCELLED" and cancelled.recurrence_id.value == paris(second, 15)
    mailbox.messages.clear()
    run(datetime.now(UTC) + timedelta(minutes=1))
    assert len(mailbox) == 0


def test_new_weekdays_say_which_dates_go_which_come_and_that_a_cancellation_no_longer_holds(
        app, client, mailbox, territory, create_event, token_for):
    from scheduler.french import french_date

    first = first_monday()
    event = create_event(territory["place"], [territory["partner"]], start_date=first, frequency="weekly",
                         until=first + timedelta(weeks=2), people=[territory["adviser"].id],
                         skip_public_holidays=False)
    headers, url = token_for(), f"/api/v1/events/{event.id}"
    second = first + timedelta(weeks=1)
    client.post(f"{url}/occurrences/cancel", headers=headers, json={"recurrence_start": paris(second, 14).isoformat()})
    run(datetime.now(UTC))
    mailbox.messages.clear()

    response = client.patch(url, headers=headers, json={"recurrence": {
        "frequency": "weekly", "weekdays": ["TU"], "until": (first + timedelta(weeks=2, days=1)).isoformat()}})
    assert response.status_code == 200, response.get_json()
    run(datetime.now(UTC))
    assert sorted(m["To"] for m in mailbox.messages) == ["accueil@bij.example.fr", "awa@ml.example.fr"]
    text = text_of(mailbox.messages[0])
    assert mailbox.messages[0]["Subject"] == f"Changement : Permanence mission locale, à partir du {french_date(first)}"
    for monday in (first, first + timedelta(weeks=2)):
        assert f"- {french_date(monday)}, 14 h 00–17 h 00, BIJ d'Échirolles : n'a plus lieu" in text
    for week in range(3):
        tuesday = first + timedelta(weeks=week, days=1)
        assert f"- {french_date(tuesday)}, 14 h 00–17 h 00, BIJ d'Échirolles : nouvelle date" in text
    assert ("Ne valent plus, la série n'ayant plus de date ces jours-là : "
            f"l'annulation du {french_date(second)}.") in text
    assert f"- {french_date(second)}" not in text


def test_deleting_an_event_tells_its_people_and_its_conflicts_close_with_notices_that_still_arrive(
        app, client, mailbox, territory, create_event, create_partner, token_for):
    import sqlalchemy as sa

    from models import ConflictNotice, ScheduleConflict, db
    from models.operations.audit import history
    from scheduler.french import french_date, french_datetime

    headers = token_for("coordo@example.fr")
    create_partner("centre-social", contact_email="accueil@cs.example.fr")
    day = first_monday()
    create_event(territory["place"], [territory["partner"]], start_date=day, people=[territory["adviser"].id])
    response = client.post("/api/v1/events", headers=headers, json={
        "kind": "atelier", "title": "Atelier du centre social", "place": "bij-echirolles",
        "organisers": ["centre-social"], "start_date": day.isoformat(), "start_time": "14:00", "end_time": "16:00"})
    assert response.status_code == 201, response.get_json()
    atelier, [conflict] = response.get_json()["id"], response.get_json()["conflicts"]
    run(datetime.now(UTC))
    # Alone or as a section of the run's one message (the morning digest may be due too, by the hour).
    assert len([m for m in mailbox.messages if m["Subject"] == "Chevauchements : 1 nouveau"
                or "— Chevauchements : 1 nouveau —" in text_of(m)]) == 3
    mailbox.messages.clear()

    assert client.delete(f"/api/v1/events/{atelier}", headers=headers).status_code == 204
    db.session.expire_all()
    # The records went with the event (nothing left pointing at it), their history stays.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ScheduleConflict)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConflictNotice)) == 0
    assert [e.action for e in history("conflicts", conflict["id"])] == ["open", "close"]

    run(datetime.now(UTC))
    # One message per address: the centre social, told of both, reads both in one.
    assert sorted(m["To"] for m in mailbox.messages) == [
        "accueil@bij.example.fr", "accueil@cs.example.fr", "accueil@ml.example.fr", "coordo@example.fr"]
    by_address = {m["To"]: m for m in mailbox.messages}
    assert by_address["accueil@cs.example.fr"]["Subject"] == "Maillage : 2 avis vous concernent"
    for to in ("accueil@ml.example.fr", "coordo@example.fr", "accueil@cs.example.fr"):
        text = text_of(by_address[to])
        assert "Clos — Lieu ou salle occupé deux fois (bloquant) :" in text
        assert "« Permanence mission locale » et « Atelier du centre social »" in text
        assert "« Atelier du centre social » a été retiré du calendrier." in text
    deleted = by_address["accueil@bij.example.fr"]
    assert deleted["Subject"] == f"Supprimé : Atelier du centre social, {french_datetime(paris(day, 14))}"
    for message in (deleted, by_address["accueil@cs.example.fr"]):
        text = text_of(message)
        assert "« Atelier du centre social » (atelier) a été retiré du calendrier. Voici la date concernée :" in text
        assert f"{french_date(day)}, 14 h 00–16 h 00, BIJ d'Échirolles : n'a plus lieu" in text
        assert "http://maillage.test/lieux/bij-echirolles" in text
        assert not list(message.iter_attachments())
    assert len(mailbox) == 4
    run(datetime.now(UTC) + timedelta(minutes=1))
    assert len(mailbox) == 4


def _calendar(*vevents: str) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Agenda de la mission locale//FR", *vevents, "END:VCALENDAR"]
    return ("\r\n".join(lines) + "\r\n").encode()


def _vevent(uid: str, title: str, start: datetime, hours: int, *extra: str) -> str:
    return "\r\n".join(["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20261201T080000Z",
                        f"DTSTART;TZID=Europe/Paris:{start:%Y%m%dT%H%M%S}",
                        f"DTEND;TZID=Europe/Paris:{start + timedelta(hours=hours):%Y%m%dT%H%M%S}",
                        f"SUMMARY:{title}", *extra, "END:VEVENT"])


def test_a_sync_that_retimes_cancels_or_drops_events_tells_their_people_once(
        app, mailbox, create_partner, create_place):
    from models import db
    from models.operations.feeds import create_sync_source
    from models.operations.users import get_or_create_user
    from scheduler.french import french_date, french_datetime
    from scheduler.ical.imports import preview
    from scheduler.ical.parse_ics import parse_ics
    from scheduler.ical.planned import ImportOptions
    from scheduler.ical.sync import Fetched, SyncActor, sync_source

    ml = create_partner("mission-locale-sud", contact_email="contact@mls.example.fr")
    bij = create_place("bij-echirolles", name="BIJ d'Échirolles", contact_email="accueil@bij.example.fr")
    source = create_sync_source(get_or_create_user("conseillere@example.fr", "editor", ml), ml, bij,
                                "https://agenda.example.fr/mission-locale.ics")
    db.session.commit()
    first = first_monday()
    weekly = "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3"
    atelier, forum = paris(first + timedelta(days=2), 10), paris(first + timedelta(days=3), 9)
    sync_source(source, Fetched(200, _calendar(
        _vevent("permanence@ml", "Permanence", paris(first, 14), 3, weekly),
        _vevent("atelier@ml", "Atelier CV", atelier, 2), _vevent("forum@ml", "Forum emploi", forum, 4))))
    db.session.commit()
    run(datetime.now(UTC))
    assert len(mailbox) == 0  # new events: nothing to tell yet

    changed = _calendar(_vevent("permanence@ml", "Permanence", paris(first, 15), 3, weekly),
                        _vevent("atelier@ml", "Atelier CV", atelier, 2, "STATUS:CANCELLED"))
    options = ImportOptions(partner=ml, place=bij, source=f"sync:{source.id}")
    assert preview(SyncActor(ml), parse_ics(changed, options), options).summary()["changed"] == 2
    assert deliveries() == []  # a preview is a dry run: nothing recorded
    sync_source(db.session.merge(source), Fetched(200, changed))
    db.session.commit()
    run(datetime.now(UTC))
    # Each address is told of the three changes once, in one message of the run.
    told = sorted((m["Subject"], m["To"]) for m in mailbox.messages)
    recipients = ("accueil@bij.example.fr", "contact@mls.example.fr")
    assert told == [("Maillage : 3 avis vous concernent", to) for to in recipients]
    expected = [f"Annulé : Atelier CV, {french_datetime(atelier)}",
                f"Changement : Permanence, à partir du {french_date(first)}",
                f"Supprimé : Forum emploi, {french_datetime(forum)}"]
    for message in mailbox.messages:
        text = text_of(message)
        assert all(f"— {subject} —" in text for subject in expected), text
    mailbox.messages.clear()
    sync_source(db.session.merge(source), Fetched(200, changed))  # the same calendar again: nothing new
    db.session.commit()
    run(datetime.now(UTC) + timedelta(minutes=1))
    assert len(mailbox) == 0
