"""/healthz for the load balancer, /metrics for Prometheus."""
from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from app import create_app


def scrape(client) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of one /metrics answer."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True)) for s in family.samples}


def test_healthz_says_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["database"]["status"] == "ok" and body["database"]["latency_ms"] >= 0
    assert body["clock"]["status"] in ("ok", "down", "late", "unknown")
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_answers_503_when_the_database_is_unreachable():
    # Nothing listens on port 9 of this machine: the database is "down" for this app.
    app = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:9/nothing",
                      "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}}})
    response = app.test_client().get("/healthz")
    body = response.get_json()
    assert response.status_code == 503, body
    assert body["status"] == "down" and body["database"]["status"] == "down" and body["database"]["error"]
    # No host, port, driver or user for anyone who asks (issue 15, item 9): the log has them.
    text = response.get_data(as_text=True)
    assert not any(word in text for word in ("127.0.0.1", ":9", "port 9", "psycopg", "postgres", "nothing")), text


def test_metrics_count_requests_by_endpoint_and_status(client):
    before = scrape(client)
    for _ in range(3):
        assert client.get("/api/v1/partners").status_code == 200
    assert client.get("/api/v1/partners/inconnu").status_code == 404
    after = scrape(client)
    key = ("maillage_http_requests_total", (("endpoint", "partners.Partners"), ("method", "GET"), ("status", "200")))
    assert after[key] - before.get(key, 0) == 3
    missing = ("maillage_http_requests_total",
               (("endpoint", "partners.PartnerById"), ("method", "GET"), ("status", "404")))
    assert after[missing] - before.get(missing, 0) == 1
    count = ("maillage_http_request_duration_seconds_count", (("endpoint", "partners.Partners"),))
    assert after[count] - before.get(count, 0) == 3


def test_metrics_give_the_share_of_feed_polls_answered_304(client):
    first = client.get("/feeds/all.ics")
    assert first.status_code == 200
    before = scrape(client)
    for _ in range(3):
        assert client.get("/feeds/all.ics", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert client.get("/feeds/all.ics").status_code == 200
    after = scrape(client)
    full = ("maillage_feed_responses_total", (("result", "full"),))
    not_modified = ("maillage_feed_responses_total", (("result", "not_modified"),))
    assert after[not_modified] - before.get(not_modified, 0) == 3
    assert after[full] - before.get(full, 0) == 1
    ratio = after[("maillage_feed_not_modified_ratio", ())]
    assert ratio == after[not_modified] / (after[not_modified] + after[full])


def test_healthz_tells_whether_the_clock_holds_its_lock(app, client, backend):
    """PostgreSQL: the clock's advisory lock held by a live session; SQLite: its heartbeat row."""
    from datetime import timedelta

    import sqlalchemy as sa

    from models import ClockLock, db, utcnow
    from scheduler.clock import ADVISORY_LOCK_KEY

    assert client.get("/healthz").get_json()["clock"]["status"] == "down"  # no clock running
    if backend == "postgresql":
        with db.engine.connect() as clock:  # what a live clock process holds
            assert clock.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY}).scalar()
            body = client.get("/healthz").get_json()
            clock.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
            clock.commit()
        assert body["clock"]["status"] == "ok" and body["status"] == "ok"
    else:
        db.session.add(ClockLock(name="clock", holder="test:1", heartbeat_at=utcnow()))
        db.session.commit()
        assert client.get("/healthz").get_json()["clock"]["status"] == "ok"
        db.session.execute(sa.update(ClockLock).values(heartbeat_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
        body = client.get("/healthz").get_json()
        assert body["clock"]["status"] == "late" and body["status"] == "degraded"
    assert client.get("/healthz").status_code == 200  # a stopped clock delays reminders, not pages
    assert scrape(client)[("maillage_clock_up", ())] == 0  # released on PostgreSQL, late on SQLite


def test_metrics_read_reminders_sent_and_failed_and_open_conflicts_from_the_database(
        app, client, create_partner, create_place, create_event):
    from models import Delivery, db, utcnow

    for i, state in enumerate(["sent", "sent", "failed", "pending"]):
        db.session.add(Delivery(key=f"test-{i}", kind="reminder", recipient="a@example.fr", due_at=utcnow(),
                                state=state))
    db.session.commit()
    ml, fjt = create_partner("mission-locale-sud"), create_partner("fjt-echirolles", type="fjt")
    place = create_place("bij-echirolles")
    create_event(place, [ml], title="Permanence mission locale")
    create_event(place, [fjt], title="Atelier CV")  # same place, same Monday afternoon
    result = app.test_cli_runner().invoke(args=["conflicts", "detect"])
    assert result.exit_code == 0, result.output
    figures = scrape(client)
    assert figures[("maillage_deliveries", (("state", "sent"),))] == 2
    assert figures[("maillage_deliveries", (("state", "failed"),))] == 1
    assert figures[("maillage_conflicts", (("status", "open"),))] >= 1
