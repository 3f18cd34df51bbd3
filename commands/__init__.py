"""The flask CLI commands: `flask --app app demo load`, `tokens create`, and those of the
scheduler (conflicts, reminders). Each commits once, at its end."""
from __future__ import annotations

from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup

from commands.backup import export_command, import_command
from commands.conflicts import conflicts_cli
from commands.demo import load_demo
from commands.reminders import reminders_cli
from commands.users import users_cli
from models import db, utcnow
from models.errors import DomainError
from models.operations.partners import partner_by_slug
from models.operations.territory import quartier_by_code
from models.operations.users import api_tokens, get_or_create_user, issue_api_token, revoke_token_row, user_by_email
from models.users import ApiToken
from scheduler.french import french_datetime

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
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="durée de validité en jours (par défaut API_TOKEN_DAYS, 365)")
def tokens_create(email, role, partner_slug, quartier_codes, days):
    """Crée l'utilisateur si besoin et affiche un nouveau jeton d'API (dernière ligne)."""
    try:
        partner = partner_by_slug(partner_slug) if partner_slug else None
        user = get_or_create_user(email, role, partner)
        for code in quartier_codes:
            quartier = quartier_by_code(code)
            if quartier not in user.quartiers:
                user.quartiers.append(quartier)
        token, row = issue_api_token(user, days or current_app.config["API_TOKEN_DAYS"])
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Jeton n° {row.id} créé pour {user.email} ({role}), valable jusqu'au "
               f"{_when(row.expires_at)}. Gardez-le : il ne sera plus affiché.")
    click.echo(token)


def _when(moment) -> str:
    return french_datetime(moment.astimezone(ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])))


@tokens_cli.command("list")
@click.option("--email", default=None, help="les jetons de ce compte seulement")
def tokens_list(email):
    """Liste les jetons d'API : numéro, compte, création, fin de validité, état."""
    try:
        rows = api_tokens([user_by_email(email)] if email else None)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    now = utcnow()
    for row in rows:
        click.echo(f"{row.id}\t{row.user.email}\tcréé le {_when(row.created_at)}\t"
                   f"jusqu'au {_when(row.expires_at)}\t{row.state(now)}"
                   + (f" le {_when(row.revoked_at)}" if row.revoked_at else ""))
    if not rows:
        click.echo("Aucun jeton.")


@tokens_cli.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id):
    """Révoque un jeton d'API par son numéro (flask tokens list) : il cesse aussitôt de servir."""
    row = db.session.get(ApiToken, token_id)
    if row is None:
        raise click.ClickException(f"Aucun jeton n° {token_id}.")
    if not revoke_token_row(row):
        click.echo(f"Le jeton n° {token_id} ({row.user.email}) était déjà révoqué.")
        return
    db.session.commit()
    click.echo(f"Jeton n° {token_id} de {row.user.email} révoqué.")


def init_app(app) -> None:
    app.cli.add_command(demo_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(conflicts_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(reminders_cli)
    app.cli.add_command(export_command)
    app.cli.add_command(import_command)
