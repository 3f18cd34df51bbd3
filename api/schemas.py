"""What every API schema shares: French messages for people, strict unknown-field refusal."""
from __future__ import annotations

import re

import marshmallow as ma
import sqlalchemy as sa
from flask_smorest import Page
from marshmallow import ValidationError, fields, validate

from models import db
from models.errors import FIELD_MESSAGES
from models.operations.text import MAX_LIST_ENTRIES, sentence, unstorable

# People read these messages: marshmallow's defaults are English, so they are set once here.
fields.Field.default_error_messages.update(
    required=FIELD_MESSAGES["required"], null="Ce champ ne peut pas être vide.",
    validator_failed="Valeur invalide.")
for _field, _message in (
    (fields.String, "text"), (fields.Integer, "integer"), (fields.Float, "number"), (fields.Boolean, "boolean"),
    (fields.Date, "date"), (fields.Time, "time"), (fields.DateTime, "datetime"), (fields.AwareDateTime, "datetime"),
    (fields.List, "list"), (fields.Email, "email"), (fields.URL, "url"), (fields.Nested, "object"),
):
    _field.default_error_messages["invalid"] = FIELD_MESSAGES[_message]
fields.AwareDateTime.default_error_messages["invalid_awareness"] = (
    "Indiquez le décalage horaire (par exemple +01:00 ou Z).")
fields.Integer.default_error_messages["too_large"] = "Nombre trop grand."

SLUG = validate.Regexp(re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$"),
                       error="Identifiant en minuscules, chiffres et tirets (exemple : mission-locale-sud).")


def reference(value):
    """A reference to another row by its slug or code: text only (a list or an object would
    otherwise reach the database query)."""
    if not isinstance(value, str):
        raise ValidationError("Identifiant attendu (texte).")
    return value


def one_of(choices) -> validate.OneOf:
    return validate.OneOf(list(choices), error=FIELD_MESSAGES["choice"])


def length(max_: int, min_: int = 0) -> validate.Length:
    return validate.Length(min=min_, max=max_, error=FIELD_MESSAGES["length"].format(min=min_, max=max_))


def entries(max_: int = MAX_LIST_ENTRIES) -> validate.Length:
    """A list's length (the write path refuses longer ones too: this puts it in the document)."""
    return validate.Length(max=max_, error=f"Au plus {max_} entrées.")


def between(lo: int, hi: int) -> validate.Range:
    return validate.Range(min=lo, max=hi, error=FIELD_MESSAGES["range"].format(min=lo, max=hi))


def _unstorable(value) -> str | None:
    if isinstance(value, str):
        return unstorable(value)
    if isinstance(value, dict):
        return next((p for k, v in value.items() if (p := _unstorable(k) or _unstorable(v))), None)
    if isinstance(value, list | tuple):
        return next((p for v in value if (p := _unstorable(v))), None)
    return None


class BaseSchema(ma.Schema):
    error_messages = {"unknown": "Champ inconnu.", "type": "Objet JSON attendu."}

    @ma.pre_load
    def refuse_unstorable_characters(self, data, **kwargs):
        """No text we keep or look up may hold a NUL character (PostgreSQL refuses it) or a lone
        surrogate (no encoding has one): say so, field by field, before any query."""
        if hasattr(data, "keys"):
            bad = {key: [sentence(problem)] for key in data
                   if (problem := _unstorable(key) or _unstorable(data[key]))}
            if bad:
                raise ValidationError(bad)
        return data


class SelectPage(Page):
    """Pages a SQLAlchemy select in the database rather than in memory."""

    @property
    def items(self):
        p = self.page_params
        if p.first_item >= p.item_count:
            return []  # past the end: no query (an offset of page × size may not even fit an integer)
        return db.session.scalars(self.collection.limit(p.page_size).offset(p.first_item)).all()

    @property
    def item_count(self):
        # Without the order: counting needs no sort.
        return db.session.scalar(sa.select(sa.func.count()).select_from(self.collection.order_by(None).subquery()))
