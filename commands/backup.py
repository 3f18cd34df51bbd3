"""`flask --app app export FILE` and `flask --app app import FILE`: the whole calendar in one file."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from models import db
from models.errors import DomainError
from models.operations.backup import export_calendar, import_calendar


@click.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def export_command(path):
    """Écrit tout le calendrier (partenaires, lieux, séries, exceptions, utilisateurs, historique…) dans FILE (JSON)."""
    data = export_calendar()
    db.session.rollback()  # read only: end the snapshot's transaction
    target = Path(path)
    # Written aside, then renamed: a crash never leaves half an export under the real name.
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=target.parent or ".", delete=False,
                                     prefix=f".{target.name}.", suffix=".tmp") as out:
        json.dump(data, out, ensure_ascii=False, indent=1)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(out.name, target)
    rows = sum(len(t["rows"]) for t in data["tables"].values())
    click.echo(f"Export écrit dans {target} : {len(data['tables'])} tables, {rows} lignes.")


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_command(path):
    """Restaure dans une base vide un export écrit par `flask export` (tout ou rien)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise click.ClickException(f"Fichier illisible (JSON attendu) : {error}.") from None
    try:
        counts = import_calendar(data)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    except (SQLAlchemyError, ValueError, TypeError, KeyError) as error:
        db.session.rollback()
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise click.ClickException(f"Import annulé, rien n'a été écrit : {reason}") from None
    click.echo(f"Import terminé : {sum(counts.values())} lignes dans {len(counts)} tables.")
