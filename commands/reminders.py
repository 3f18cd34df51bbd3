"""`flask --app app reminders run-due [--now ISO]` and `reminders mailbox` (the local mailbox)."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from models import utcnow
from scheduler.notifications.mailbox import stored_messages
from scheduler.notifications.sending import run_due

reminders_cli = AppGroup("reminders", help="Rappels, avis et programmes envoyés.")


@reminders_cli.command("run-due")
@click.option("--now", "now_text", default=None, help="instant ISO 8601 avec décalage (défaut : maintenant)")
def run_due_command(now_text):
    """Fait exactement ce que l'horloge ferait à cet instant : relève ce qui est dû et l'envoie."""
    now = utcnow()
    if now_text:
        try:
            now = datetime.fromisoformat(now_text)
        except ValueError:
            raise click.BadParameter("instant ISO 8601 attendu, par exemple 2027-03-28T09:00:00+02:00") from None
        if now.tzinfo is None:
            raise click.BadParameter("indiquez le décalage horaire (…+01:00 ou …Z)")
    counts = run_due(now)
    click.echo(f"{now.isoformat()} : {counts['recorded']} enregistré(s), {counts['missed']} manqué(s), "
               f"{counts['sent']} envoyé(s), {counts['failed']} en échec, {counts['skipped']} non envoyé(s)")


@reminders_cli.command("mailbox")
@click.option("--show", type=int, default=None, help="affiche le message n° N")
def mailbox_command(show):
    """Les messages reçus par la boîte aux lettres locale de `make run`."""
    folder = Path(current_app.config["MAILBOX_DIR"])
    messages = stored_messages(folder)
    if show is not None:
        if not 1 <= show <= len(messages):
            raise click.ClickException(f"Pas de message n° {show} ({len(messages)} reçu(s)).")
        _path, message = messages[show - 1]
        click.echo(f"De : {message['From']}\nÀ : {message['To']}\nObjet : {message['Subject']}\n")
        click.echo(message.get_body(("plain",)).get_content())
        return
    for number, (_path, message) in enumerate(messages, 1):
        click.echo(f"{number:4d}  {message['Date'] or ''}  {message['To']}  {message['Subject']}")
    click.echo(f"{len(messages)} message(s) dans {folder}")
