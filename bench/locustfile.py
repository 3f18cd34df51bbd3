"""The users of bench/load.py (it runs this file with locust; not meant to be run on its own).

- Subscriber: a calendar application (Outlook, Google, Thunderbird…) polling one feed with the
  ETag it holds (If-None-Match): mostly 304, a 200 with a new ETag after a write in its scope.
- Visitor: a young person or a structure's hall screen on the public pages.
- Editor: partner staff writing through the API with a Bearer token (rename an event, cancel then
  restore one of its occurrences). Every write must be acknowledged (200); bench/load.py then
  checks that each acknowledged title is in the database.

What to request comes from the JSON file named by LOAD_TARGETS (written by bench/load.py):
{"feeds": [...], "pages": [...], "editors": [{"token": ..., "occurrences": [[event id,
recurrence_start], ...]}, ...], "acknowledged": path}. Each editor has events of its own partner,
so that two editors never write to the same event at once.

Every request of the run, ramp-up included, is also kept here and summed up at the end in the
file named by LOAD_RUN_LOG: locust's own figures (run with --reset-stats) start once every user
is spawned, and bench/load.py reports both.
"""
from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid

from locust import FastHttpUser, between, constant, events, task

TARGETS = json.load(open(os.environ["LOAD_TARGETS"], encoding="utf-8")) if os.environ.get("LOAD_TARGETS") else {}
FEEDS, PAGES = TARGETS.get("feeds", ["/feeds/all.ics"]), TARGETS.get("pages", ["/"])
EDITORS = TARGETS.get("editors", [])
_editor_numbers, _editors = itertools.count(), itertools.count()
_acknowledged = open(TARGETS["acknowledged"], "a", encoding="utf-8") if TARGETS.get("acknowledged") else None


class Subscriber(FastHttpUser):
    weight = 85
    # Real clients poll every 15 to 60 minutes; hundreds of them here stand for tens of thousands.
    wait_time = between(0.4, 1.0)

    def on_start(self):
        self.feed = random.choice(FEEDS)
        self.etag = None

    @task
    def poll(self):
        headers = {"If-None-Match": self.etag} if self.etag else {}
        with self.client.get(self.feed, headers=headers, name="feed (If-None-Match)", catch_response=True) as r:
            if r.status_code == 200 and r.headers.get("ETag"):
                self.etag = r.headers["ETag"]
                r.success()
            elif r.status_code == 304:
                r.success()
            else:
                r.failure(f"HTTP {r.status_code}")


class Visitor(FastHttpUser):
    weight = 15
    wait_time = between(0.5, 2.0)

    @task
    def page(self):
        path = random.choice(PAGES)
        with self.client.get(path, name="public page", catch_response=True) as r:
            if r.status_code != 200 or b"</html>" not in (r.content or b""):
                r.failure(f"HTTP {r.status_code}")


class Editor(FastHttpUser):
    fixed_count = max(1, len(EDITORS))  # "a few editors", whatever the number of users
    wait_time = between(5, 15)  # people, not scripts: a change every few seconds between them

    def on_start(self):
        me = EDITORS[next(_editors) % len(EDITORS)] if EDITORS else {"token": "", "occurrences": []}
        self.headers = {"Authorization": f"Bearer {me['token']}"}
        self.occurrences = me["occurrences"]

    @task(3)
    def rename(self):
        if not self.occurrences:
            return
        event_id = random.choice(self.occurrences)[0]
        title = f"Permanence emploi {next(_editor_numbers)}-{uuid.uuid4().hex[:6]}"
        with self.client.patch(f"/api/v1/events/{event_id}", json={"title": title}, headers=self.headers,
                               name="API write (PATCH event)", catch_response=True) as r:
            if r.status_code == 200:
                r.success()
                if _acknowledged is not None:
                    _acknowledged.write(json.dumps({"event": event_id, "title": title}) + "\n")
                    _acknowledged.flush()
            else:
                r.failure(f"HTTP {r.status_code}: {(r.text or '')[:200]}")

    @task(1)
    def cancel_and_restore(self):
        """Cancels the next occurrence of an event, then restores it (two acknowledged writes)."""
        if not self.occurrences:
            return
        event_id, recurrence_start = random.choice(self.occurrences)
        ref = {"recurrence_start": recurrence_start, "reason": "Conseillère absente (test de charge)"}
        for action in ("cancel", "restore"):
            with self.client.post(f"/api/v1/events/{event_id}/occurrences/{action}", json=ref, headers=self.headers,
                                  name=f"API write ({action} occurrence)", catch_response=True) as w:
                if w.status_code in (200, 204):
                    w.success()
                else:
                    w.failure(f"HTTP {w.status_code}: {(w.text or '')[:200]}")


class StaticFile(FastHttpUser):
    """The baseline of bench/load.py: a static file through the same gunicorn (no database)."""

    wait_time = constant(0.5)

    @task
    def css(self):
        self.client.get("/static/maillage.css", name="static file (baseline)")


# Every request from the first one: (seconds since the start, milliseconds, failed).
_requests: list[tuple[float, float, bool]] = []
_started = time.monotonic()
_spawned_at: list[float] = []


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception=None, **kw):
    _requests.append((time.monotonic() - _started, response_time, exception is not None))


@events.spawning_complete.add_listener
def _spawning_complete(user_count, **kw):
    _spawned_at.append(time.monotonic() - _started)


def _summary(rows: list) -> dict:
    times = sorted(ms for _, ms, _ in rows)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))] if times else 0.0
    return {"requests": len(rows), "failures": sum(1 for *_, failed in rows if failed), "p99": p99}


@events.quitting.add_listener
def _write_run_log(environment, **kw):
    if not os.environ.get("LOAD_RUN_LOG"):
        return
    spawned = _spawned_at[0] if _spawned_at else float("inf")
    summary = {"spawn_seconds": spawned if _spawned_at else None, "whole": _summary(_requests),
               "ramp_up": _summary([r for r in _requests if r[0] < spawned]),
               # The same requests as locust's figures: a check on them.
               "after_ramp_up": _summary([r for r in _requests if r[0] >= spawned])}
    with open(os.environ["LOAD_RUN_LOG"], "w", encoding="utf-8") as f:
        json.dump(summary, f)
