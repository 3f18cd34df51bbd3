"""`flask --app app users set-password EMAIL`: the way to give someone a password for the pages."""
from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from models import db
from models.errors import DomainError
from models.operations.partners import partner_by_slug
from models.operations.users import deactivate_user, get_or_create_user, reactivate_user, user_by_email
from models.users import User

users_cli = AppGroup("users", help="Comptes des coordinateur·rices et contributeur·rices.")


@users_cli.command("set-password")
@click.argument("email")
@click.option("--stdin", "from_stdin", is_flag=True, help="lire le mot de passe sur l'entrée standard")
@click.option("--role", type=click.Choice(["coordinator", "editor"]), default=None,
              help="crée le compte s'il n'existe pas")
@click.option("--partner", "partner_slug", default=None, help="slug du partenaire (contributeur·rice)")
def set_password(email, from_stdin, role, partner_slug):
    """Définit le mot de passe d'un compte (demandé sans écho, ou lu sur l'entrée standard)."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Mot de passe", hide_input=True, confirmation_prompt="Confirmez le mot de passe")
    try:
        user = db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))
        if user is None:
            if role is None:
                raise click.ClickException(f"Aucun compte pour {email} : précisez --role pour le créer.")
            user = get_or_create_user(email, role, partner_by_slug(partner_slug) if partner_slug else None)
        user.set_password(password)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Mot de passe enregistré pour {user.email}.")


@users_cli.command("deactivate")
@click.argument("email")
def deactivate(email):
    """Désactive un compte : plus de connexion, ses sessions ouvertes et ses jetons d'API cessent aussitôt."""
    try:
        user = user_by_email(email)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    revoked = deactivate_user(user)
    db.session.commit()
    click.echo(f"Compte {user.email} désactivé ; {revoked} jeton(s) d'API révoqué(s).")


@users_cli.command("reactivate")
@click.argument("email")
def reactivate(email):
    """Réactive un compte désactivé (ses anciens jetons restent révoqués)."""
    try:
        user = user_by_email(email)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    reactivate_user(user)
    db.session.commit()
    click.echo(f"Compte {user.email} réactivé.")
