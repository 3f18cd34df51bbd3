"""The flask CLI commands: `flask --app app demo load`, `tokens create`, and those of the
scheduler (conflicts, reminders). Each commits once, at its end."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from commands.backup import export_command, import_command
from commands.conflicts import conflicts_cli
from commands.demo import load_demo
from commands.reminders import reminders_cli
from commands.users import users_cli
from models import db
from models.errors import DomainError
from models.operations.partners import partner_by_slug
from models.operations.territory import quartier_by_code
from models.operations.users import create_api_token, get_or_create_user

demo_cli = AppGroup("demo", help="Le territoire de démonstration.")
tokens_cli = AppGroup("tokens", help="Jetons d'API.")


@demo_cli.command("load")
def demo_load():
    """Charge (ou met à jour) le territoire de démonstration ; sans effet si déjà chargé."""
    summary = load_demo()
    db.session.commit()
    click.echo(summary)


@tokens_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(["coordinator", "editor"]), required=True)
@click.option("--partner", "partner_slug", default=None, help="slug du partenaire (contributeur·rice)")
@click.option("--quartier", "quartier_codes", multiple=True, help="code QPV du territoire (coordinateur·rice)")
def tokens_create(email, role, partner_slug, quartier_codes):
    """Crée l'utilisateur si besoin et affiche un nouveau jeton d'API (dernière ligne)."""
    try:
        partner = partner_by_slug(partner_slug) if partner_slug else None
        user = get_or_create_user(email, role, partner)
        for code in quartier_codes:
            quartier = quartier_by_code(code)
            if quartier not in user.quartiers:
                user.quartiers.append(quartier)
        token = create_api_token(user)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Jeton créé pour {user.email} ({role}). Gardez-le : il ne sera plus affiché.")
    click.echo(token)


def init_app(app) -> None:
    app.cli.add_command(demo_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(conflicts_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(reminders_cli)
    app.cli.add_command(export_command)
    app.cli.add_command(import_command)
