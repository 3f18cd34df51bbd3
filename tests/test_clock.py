"""The clock's one list of jobs (scheduler/clock.py JOBS): what `python -m scheduler` schedules."""
from __future__ import annotations

import logging
from datetime import UTC, datetime


def test_the_clock_schedules_the_jobs_of_its_one_list_and_each_runs_in_its_own_app_context(app, caplog):
    from scheduler.clock import JOBS, build_scheduler

    scheduler = build_scheduler(app)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"conflicts-nightly", "feeds-sync", "imports", "reminders.run_due",
                         "subscriptions-forget"} == {j.id for j in JOBS}
    nightly = jobs["conflicts-nightly"]
    assert str(nightly.trigger.timezone) == "Europe/Paris"
    assert nightly.trigger.get_next_fire_time(None, datetime(2027, 1, 11, 12, tzinfo=UTC)).isoformat() == \
        "2027-01-12T02:30:00+01:00"
    assert (nightly.misfire_grace_time, jobs["reminders.run_due"].misfire_grace_time) == (3600, 50)
    assert jobs["imports"].max_instances == 2 and jobs["feeds-sync"].max_instances == 1
    assert all(job.coalesce for job in jobs.values())
    with caplog.at_level(logging.INFO):
        for job in jobs.values():
            job.func()  # what the clock runs, on an empty calendar
    assert "a échoué" not in caplog.text
    assert "chevauchements : 0 nouveau(x) ou rouvert(s), 0 toujours vrai(s), 0 clos." in caplog.text
