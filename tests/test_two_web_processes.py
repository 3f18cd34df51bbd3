"""Past one machine: two web processes (gunicorn, as the Procfile runs them) on one PostgreSQL.
A change made through one is in the API, the feeds and the pages served by the other at once:
each process remembers only what the database's notices keep current (models/version_watch.py)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from helpers.database import fresh_database
from helpers.processes import free_port, procfile_web_command, stop_process_groups

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def deployment(tmp_path):
    """(url_a, url_b, env): two gunicorn processes on one new, migrated PostgreSQL database."""
    with fresh_database("postgresql", tmp_path) as url:
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "two-processes", "BASE_URL": "http://maillage.test",
               "RATELIMIT_FEEDS": "10000 per minute", "PYTHONPATH": str(ROOT)}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        flask = [str(Path(sys.executable).with_name("flask")), "--app", "app"]
        subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
        created = subprocess.run([*flask, "tokens", "create", "coordo@example.fr", "--role", "coordinator"],
                                 cwd=ROOT, env=env, check=True, capture_output=True, text=True)
        token = created.stdout.strip().splitlines()[-1]
        processes, urls, logs = [], [], []
        try:
            for _ in range(2):
                port = free_port()
                logs.append(tmp_path / f"gunicorn-{port}.log")
                with open(logs[-1], "w") as log:
                    processes.append(subprocess.Popen(procfile_web_command(port), cwd=ROOT, env=env, stdout=log,
                                                      stderr=subprocess.STDOUT, start_new_session=True))
                urls.append(f"http://127.0.0.1:{port}")
            for url_, process, log in zip(urls, processes, logs):
                deadline = time.monotonic() + 60
                while True:
                    assert process.poll() is None, log.read_text()
                    try:
                        if requests.get(f"{url_}/healthz", timeout=5).status_code == 200:
                            break
                    except requests.RequestException:  # not listening yet, or still loading the app
                        pass
                    assert time.monotonic() < deadline, f"{url_} did not start within 60 s"
                    time.sleep(0.2)
            yield urls[0], urls[1], {"Authorization": f"Bearer {token}"}
        finally:
            stop_process_groups(processes, wait=10)


def test_a_change_made_through_one_process_is_served_by_the_other_at_once(deployment):
    a, b, token = deployment
    assert requests.get(f"{b}/api/v1/occurrences?start=2027-03-01&end=2027-04-01").json() == []
    feed_before = requests.get(f"{b}/feeds/all.ics")
    assert feed_before.status_code == 200
    etag_before = feed_before.headers["ETag"]

    # Written through A...
    for path, body in (("/api/v1/quartiers", {"code": "QN03801M", "name": "Villeneuve", "department": "38"}),
                       ("/api/v1/partners", {"slug": "mission-locale-sud-isere", "name": "Mission locale Sud Isère",
                                             "type": "mission_locale"}),
                       ("/api/v1/places", {"slug": "bij-echirolles", "name": "BIJ d'Échirolles",
                                           "quartier": "QN03801M", "postcode": "38130"})):
        response = requests.post(f"{a}{path}", json=body, headers=token)
        assert response.status_code == 201, response.text
    created = requests.post(f"{a}/api/v1/events", headers=token, json={
        "kind": "permanence", "title": "Permanence au BIJ", "place": "bij-echirolles",
        "organisers": ["mission-locale-sud-isere"], "start_date": "2027-03-01", "start_time": "14:00",
        "end_time": "17:00", "recurrence": {"frequency": "weekly", "weekdays": ["MO"], "count": 4}})
    assert created.status_code == 201, created.text
    event = created.json()

    # ...read through B at once: API, feed (a new ETag, not a 304), page.
    occurrences = requests.get(f"{b}/api/v1/occurrences?start=2027-03-01&end=2027-04-01").json()
    assert [o["starts_at"] for o in occurrences] == ["2027-03-01T14:00:00+01:00", "2027-03-08T14:00:00+01:00",
                                                     "2027-03-15T14:00:00+01:00", "2027-03-22T14:00:00+01:00"]
    feed = requests.get(f"{b}/feeds/all.ics", headers={"If-None-Match": etag_before})
    assert feed.status_code == 200 and feed.headers["ETag"] != etag_before
    assert f"UID:{event['uid']}" in feed.text and "SUMMARY:Permanence au BIJ" in feed.text
    page = requests.get(f"{b}/evenements/{event['id']}")
    assert page.status_code == 200 and "Permanence au BIJ" in page.text

    # And the other way round: renamed and one Monday cancelled through B, seen through A.
    assert requests.patch(f"{b}/api/v1/events/{event['id']}", headers=token,
                          json={"title": "Permanence emploi au BIJ"}).status_code == 200
    cancelled = requests.post(f"{b}/api/v1/events/{event['id']}/occurrences/cancel", headers=token,
                              json={"recurrence_start": occurrences[1]["recurrence_id"], "reason": "Formation"})
    assert cancelled.status_code == 200, cancelled.text
    feed_a = requests.get(f"{a}/feeds/places/bij-echirolles.ics", headers={"If-None-Match": feed.headers["ETag"]})
    assert feed_a.status_code == 200
    assert "SUMMARY:Permanence emploi au BIJ" in feed_a.text
    assert "RECURRENCE-ID" in feed_a.text and "STATUS:CANCELLED" in feed_a.text  # the cancelled Monday
    assert "Permanence emploi au BIJ" in requests.get(f"{a}/evenements/{event['id']}").text
    seen_by_a = requests.get(f"{a}/api/v1/occurrences?start=2027-03-01&end=2027-04-01").json()
    assert [o["is_cancelled"] for o in seen_by_a] == [False, True, False, False]
    # An unchanged feed is a 304 from either process: both compute the same ETag from the database.
    again = requests.get(f"{b}/feeds/places/bij-echirolles.ics", headers={"If-None-Match": feed_a.headers["ETag"]})
    assert again.status_code == 304
