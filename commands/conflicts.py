"""`flask --app app conflicts detect`, and the same detection every night in the clock process."""
from __future__ import annotations

import logging
from datetime import datetime

import click
from flask.cli import AppGroup

from models import db

conflicts_cli = AppGroup("conflicts", help="Chevauchements entre partenaires.")
log = logging.getLogger("maillage.conflicts")


def _summary(outcome) -> str:
    return (f"{len(outcome.created)} nouveau(x) ou rouvert(s), {len(outcome.still)} toujours vrai(s), "
            f"{len(outcome.ended)} clos.")


@conflicts_cli.command("detect")
@click.option("--now", default=None, help="instant ISO 8601 du début de l'horizon (par défaut : maintenant)")
def detect(now):
    """Détecte tous les chevauchements sur douze mois et met leurs fiches à jour."""
    from scheduler.conflicts.check import run_full_detection

    instant = None
    if now:
        try:
            instant = datetime.fromisoformat(now)
        except ValueError:
            raise click.BadParameter("date et heure ISO 8601 attendues, avec décalage horaire") from None
        if instant.tzinfo is None:
            raise click.BadParameter("indiquez le décalage horaire (par exemple +01:00 ou Z)")
    outcome = run_full_detection(instant)
    db.session.commit()
    click.echo(f"Chevauchements : {_summary(outcome)}")


def nightly_detection(app) -> None:
    """The clock's job: safe to run twice (it reconciles), and a kill halfway commits nothing."""
    from scheduler.conflicts.check import run_full_detection

    with app.app_context():
        try:
            outcome = run_full_detection()
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("détection des chevauchements en échec")
            raise
        finally:
            db.session.remove()
    log.info("chevauchements : %s", _summary(outcome))


def register_clock_job(scheduler, app) -> None:
    # 02:30 in Paris: after the day's edits, before anyone reads the morning digest.
    scheduler.add_job(nightly_detection, "cron", args=[app], hour=2, minute=30, timezone="Europe/Paris",
                      id="conflicts-nightly", replace_existing=True, coalesce=True, max_instances=1,
                      misfire_grace_time=3600)


def init_app(app) -> None:
    app.cli.add_command(conflicts_cli)
    app.extensions.setdefault("maillage_clock_jobs", []).append(register_clock_job)
