"""Domain errors. Operations raise them; the API and the pages map them in one place each."""
from __future__ import annotations

# What people read next to a field they got wrong, the same on the API (api/schemas.py sets
# marshmallow's messages from it) and in the pages' forms (web/events.py): one table.
FIELD_MESSAGES = {
    "required": "Champ obligatoire.",
    "text": "Texte attendu.",
    "integer": "Nombre entier attendu.",
    "number": "Nombre attendu.",
    "boolean": "Vrai ou faux attendu.",
    "date": "Date attendue (AAAA-MM-JJ).",
    "time": "Heure attendue (HH:MM).",
    "datetime": "Date et heure attendues (ISO 8601, avec décalage horaire).",
    "list": "Liste attendue.",
    "email": "Adresse électronique invalide.",
    "url": "Adresse web invalide.",
    "object": "Objet attendu.",
    "choice": "Valeur inconnue ; valeurs possibles : {choices}.",
    "length": "Entre {min} et {max} caractères.",
    "range": "Valeur entre {min} et {max} attendue.",
    "end_before_start": "La fin est avant le début.",
    "no_weekday": "Choisissez au moins un jour de la semaine.",
    "postcode": "Code postal à 5 chiffres.",
}


class DomainError(Exception):
    status = 400

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class InvalidInput(DomainError):
    status = 422

    @classmethod
    def on(cls, field: str, message: str) -> InvalidInput:
        """An error about one field: the message, and the same words next to that field."""
        return cls(message, {field: [message]})


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


class TooLarge(DomainError):
    status = 413


# --- the database's own troubles ---------------------------------------------------------------
# Not domain errors: nothing the request did wrong. Down or restarting, read-only, disk full: the
# API and the pages answer 503 with these words (the transaction rolled back: nothing half-written).
DATABASE_DOWN = "La base de données ne répond pas : rien n'a été enregistré. Réessayez dans quelques secondes."
DATABASE_READ_ONLY = ("La base de données est en lecture seule pour le moment : la consultation marche, "
                      "mais rien ne peut être enregistré. Réessayez plus tard.")
DATABASE_FULL = ("Le disque de la base de données est plein : rien n'a été enregistré. "
                 "Prévenez l'administrateur du service.")


def database_trouble(error: Exception) -> str | None:
    """The French message for a database error that comes from the database's state (the
    SQLAlchemy DBAPIError of a driver error), or None when it is a bug (then a 500)."""
    cause = getattr(error, "orig", None) or error
    state = getattr(cause, "sqlstate", None)  # PostgreSQL (psycopg)
    text = str(cause).lower()
    if state == "25006" or "read-only" in text or "readonly" in text:
        return DATABASE_READ_ONLY
    if state in ("53100", "53200") or "disk is full" in text or "no space left" in text:
        return DATABASE_FULL
    if (getattr(error, "connection_invalidated", False) or (state or "").startswith(("08", "57P"))
            or "connection" in text or "server closed" in text or "terminating" in text
            or "shutting down" in text or "starting up" in text or "unable to open" in text):
        return DATABASE_DOWN
    return None
