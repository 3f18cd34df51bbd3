"""Maillage requests only public addresses for the URLs partners give (synced calendars,
webhooks): refused when saved, with a French message, and again when fetched, after DNS
resolution, since a name may resolve to the machine or a private network later. Calendars and
webhooks served by the tests themselves (127.0.0.1) need ALLOW_PRIVATE_URLS."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from helpers.actors import SYSTEM

PRIVATE_URLS = {
    "loopback": "http://127.0.0.1:8080/calendrier.ics",
    "a name of the machine": "http://localhost/calendrier.ics",
    "IPv6 loopback": "http://[::1]:8080/calendrier.ics",
    "private network": "http://10.20.30.40/calendrier.ics",
    "cloud metadata": "http://169.254.169.254/latest/meta-data/",
    "IPv4 inside IPv6": "http://[::ffff:127.0.0.1]/calendrier.ics",
}
# Octal or short IPv4 (0177.0.0.1, 127.1) and credentials before the host (…@192.168.1.10) are
# refused before this rule, as malformed: tests/test_sync_addresses.py.


@pytest.fixture
def partner_and_place(create_partner, create_place):
    return create_partner("mission-locale-sud"), create_place("bij-echirolles")


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
                                     "100.64.0.1", "0.0.0.0", "fe80::1%eth0", "fd12:3456::1", "::ffff:10.0.0.1",
                                     "224.0.0.1"])
def test_addresses_of_the_machine_and_of_private_networks_are_not_public(address):
    from models.operations.urls import is_public_ip

    assert not is_public_ip(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "193.51.24.1", "2001:4860:4860::8888"])
def test_internet_addresses_are_public(address):
    from models.operations.urls import is_public_ip

    assert is_public_ip(address)


@pytest.mark.parametrize("url", PRIVATE_URLS.values(), ids=PRIVATE_URLS.keys())
def test_a_calendar_to_sync_on_the_machine_or_a_private_network_is_refused_in_french(app, partner_and_place, url):
    from models.errors import InvalidInput
    from models.operations.feeds import create_sync_source

    with pytest.raises(InvalidInput) as refused:
        create_sync_source(SYSTEM, *partner_and_place, url)
    assert "réseau privé" in refused.value.message and refused.value.errors == {
        "url": ["Adresse locale ou privée refusée."]}


@pytest.mark.parametrize("url", [PRIVATE_URLS[k] for k in ("loopback", "a name of the machine", "IPv6 loopback",
                                                          "private network", "cloud metadata")])
def test_a_webhook_on_the_machine_or_a_private_network_is_refused_by_the_api(client, partner_and_place, token_for,
                                                                              url):
    from models import PartnerReminderSettings, db

    response = client.put("/api/v1/partners/mission-locale-sud/reminder-settings", headers=token_for(),
                          json={"webhook_url": url})
    body = response.get_json()
    assert response.status_code == 422 and set(body) == {"code", "status", "message", "errors"}
    assert "réseau privé" in body["message"] and "webhook_url" in body["errors"]["json"]
    assert db.session.get(PartnerReminderSettings, partner_and_place[0].id) is None  # nothing saved


def test_the_sync_page_refuses_a_private_address_and_says_why(client, sign_in, partner_and_place):
    from helpers.pages import csrf_token_in
    from models import SyncSource, db

    sign_in(client, "conseillere@example.fr", role="editor", partner=partner_and_place[0])
    page = client.get("/coordination/synchronisation").get_data(as_text=True)
    page = client.post("/coordination/synchronisation", follow_redirects=True, data={
        "csrf_token": csrf_token_in(page), "action": "create", "url": "http://169.254.169.254/latest/meta-data/",
        "partner": "mission-locale-sud", "place": "bij-echirolles", "kind": "permanence",
        "interval_minutes": "60"}).get_data(as_text=True)
    assert "réseau privé" in page
    assert db.session.query(SyncSource).count() == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_calendar_whose_address_leads_to_the_machine_when_fetched_is_not_asked(app, partner_and_place,
                                                                                 published, host):
    """Saved while the name was public (here: while allowed); by fetch time it leads to the
    machine: the clock refuses to connect and says so on the sync page."""
    from models import db
    from models.operations.feeds import create_sync_source
    from scheduler.ical.sync import run_source

    url = published.url.replace("127.0.0.1", host)
    source = create_sync_source(SYSTEM, *partner_and_place, url, allow_private=True)
    db.session.commit()
    app.config["ALLOW_PRIVATE_URLS"] = False  # the fixture puts it back

    source = run_source(source.id)
    assert source.last_status == "error" and "réseau privé" in source.last_message
    assert published.requests == []

    app.config["ALLOW_PRIVATE_URLS"] = True
    assert run_source(source.id).last_status == "ok"
    assert len(published.requests) == 1


def test_a_webhook_whose_address_leads_to_the_machine_when_sent_is_not_posted(app, create_partner, create_place,
                                                                               create_event, webhook_receiver,
                                                                               private_urls_allowed):
    from models import Delivery, db
    from models.operations.deliveries import set_reminder_settings
    from scheduler.notifications.sending import run_due

    partner = create_partner("mission-locale", contact_email="accueil@ml.example.fr")
    place = create_place("bij-echirolles")
    set_reminder_settings(SYSTEM, partner, {"webhook_url": webhook_receiver.url.replace("127.0.0.1", "localhost")},
                          allow_private=True)
    db.session.commit()
    day = date.today() + timedelta(days=9)
    create_event(place, [partner], start_date=day, frequency="once")
    app.config["ALLOW_PRIVATE_URLS"] = False  # the fixture puts it back
    previous_smtp, app.config["SMTP_URL"] = app.config["SMTP_URL"], "smtp://127.0.0.1:9"  # mail is not the point
    try:
        two_days_before = datetime.combine(day - timedelta(days=2), time(9, 0), ZoneInfo("Europe/Paris"))
        run_due(two_days_before.astimezone(UTC))
    finally:
        app.config["SMTP_URL"] = previous_smtp
    hook = db.session.query(Delivery).filter_by(channel="webhook").one()
    assert hook.state == "failed" and "réseau privé" in hook.last_error
    assert webhook_receiver.received == []


def test_with_allow_private_urls_a_local_calendar_and_webhook_are_accepted(client, partner_and_place, token_for,
                                                                          private_urls_allowed):
    from models.operations.feeds import create_sync_source

    assert create_sync_source(SYSTEM, *partner_and_place, "http://localhost:8080/cal.ics",
                              allow_private=True).url == "http://localhost:8080/cal.ics"
    response = client.put("/api/v1/partners/mission-locale-sud/reminder-settings", headers=token_for(),
                          json={"webhook_url": "http://127.0.0.1:8080/maillage"})
    assert response.status_code == 200 and response.get_json()["webhook_url"] == "http://127.0.0.1:8080/maillage"
