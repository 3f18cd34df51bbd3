"""The clock process: APScheduler 3 running Maillage's periodic jobs, in exactly one process."""
from __future__ import annotations

import logging

from apscheduler.schedulers.blocking import BlockingScheduler

log = logging.getLogger("maillage.clock")


def build_scheduler(app) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone="UTC")
    # Jobs are registered by the modules that own them (conflicts, reminders, sync).
    for register in app.extensions.get("maillage_clock_jobs", []):
        register(scheduler, app)
    return scheduler


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from app import app

    scheduler = build_scheduler(app)
    log.info("horloge démarrée, %d tâche(s)", len(scheduler.get_jobs()))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("horloge arrêtée")
