"""`flask --app app conflicts detect`; the same detection runs every night in the clock process
(scheduler/clock.py)."""
from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from models import db
from scheduler.conflicts.nightly import run_full_detection

conflicts_cli = AppGroup("conflicts", help="Chevauchements entre partenaires.")


@conflicts_cli.command("detect")
@click.option("--now", default=None, help="instant ISO 8601 du début de l'horizon (par défaut : maintenant)")
def detect(now):
    """Détecte tous les chevauchements sur douze mois et met leurs fiches à jour."""
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
    click.echo(f"Chevauchements : {outcome.summary}")
