"""Overlaps between partners: the list, accepting one, and the check every event write goes through."""
from __future__ import annotations

from datetime import UTC, datetime

from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.error_handler import ErrorSchema
from marshmallow import fields, post_load

from api.auth import api_user, require_api_user
from api.schemas import BaseSchema, SelectPage, length, one_of
from models import db
from models.conflicts import CONFLICT_KINDS, CONFLICT_STATUSES
from models.operations.cases import accept_conflict
from models.operations.conflicts import conflict_for, conflicts_query
from scheduler.conflicts.check import HardConflictsRefused
from scheduler.conflicts.detection import SERIES
from scheduler.french import title_for

blp = Blueprint("conflicts", __name__, url_prefix="/api/v1", description="Chevauchements entre partenaires")


def _iso(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def title_for_caller(event) -> str:
    """An event's title as the token's holder may read it (scheduler.french.title_for): another
    partner's partners-only event by its kind and organisers, not its title (it may name a young
    person). Read-only answers only: nothing that a client sends back as the event's title."""
    user = api_user()
    return title_for(event, user.partner_id if user is not None else None)


def _side(conflict, which: str) -> dict:
    event = conflict.a_event if which == "a" else conflict.b_event
    recurrence_id = conflict.a_recurrence_id if which == "a" else conflict.b_recurrence_id
    seen = (conflict.details or {}).get(which, {})
    return {
        "event_id": event.id,
        "recurrence_id": None if recurrence_id == SERIES else _iso(recurrence_id),
        "title": title_for_caller(event),
        "kind": event.kind,
        "organisers": [p.slug for p in event.organisers],
        "place": event.place.slug if event.place else None,
        "starts_at": _iso(seen.get("starts_at")),
        "ends_at": _iso(seen.get("ends_at")),
        "room": seen.get("room"),
        "people": seen.get("person_ids", []),
    }


class ConflictSchema(BaseSchema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "place, staff, audience, capacity"})
    severity = fields.String(metadata={"description": "hard (bloquant) ou warning"})
    status = fields.String(metadata={"description": "open, accepted, resolved, closed"})
    a = fields.Function(lambda c: _side(c, "a"))
    b = fields.Function(lambda c: _side(c, "b"))
    subject = fields.String(metadata={"description": "ce qui est partagé : place:ID, person:ID, quartier:ID"})
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    details = fields.Function(lambda c: {k: v for k, v in (c.details or {}).items() if k not in ("a", "b")})
    reason = fields.String()
    decided_by = fields.Function(lambda c: c.decided_by.email if c.decided_by else None)
    decided_at = fields.DateTime(allow_none=True)
    opened_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class ConflictQueryArgsSchema(BaseSchema):
    status = fields.String(validate=one_of(CONFLICT_STATUSES))
    kind = fields.String(validate=one_of(CONFLICT_KINDS))
    quartier = fields.String(metadata={"description": "code du QPV"})
    partner = fields.String(metadata={"description": "slug d'un partenaire organisateur d'un des côtés"})
    start = fields.AwareDateTime(metadata={"description": "chevauchements qui finissent après"})
    end = fields.AwareDateTime(metadata={"description": "chevauchements qui commencent avant"})


class AcceptSchema(BaseSchema):
    reason = fields.String(required=True, validate=length(2000, 3))


@blp.route("/conflicts")
class Conflicts(MethodView):
    @blp.arguments(ConflictQueryArgsSchema, location="query")
    @blp.response(200, ConflictSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, args):
        """Chevauchements visibles (territoire du coordinateur, ou partenaire du contributeur)"""
        return conflicts_query(require_api_user(), **args)


@blp.route("/conflicts/<int:conflict_id>")
class ConflictById(MethodView):
    @blp.response(200, ConflictSchema)
    def get(self, conflict_id):
        """Un chevauchement"""
        return conflict_for(require_api_user(), conflict_id)


@blp.route("/conflicts/<int:conflict_id>/accept")
class AcceptConflict(MethodView):
    @blp.arguments(AcceptSchema)
    @blp.response(200, ConflictSchema)
    def post(self, data, conflict_id):
        """Accepter un chevauchement, avec sa raison"""
        user = require_api_user()
        conflict = accept_conflict(user, conflict_for(user, conflict_id), data["reason"])
        db.session.commit()
        return conflict


# --- what every event write answers when a hard overlap refuses it -------------------------
# Every event write goes through scheduler.writes, whose check refuses hard conflicts (strict
# mode, places that refuse them); the API adds the query parameter and the 409 body.

class StrictArgsSchema(BaseSchema):
    strict = fields.Boolean(metadata={
        "description": "true : un chevauchement bloquant (lieu, personne, capacité) que l'écriture créerait la "
                       "refuse (409, rien n'est enregistré). Les lieux qui refusent les chevauchements bloquants "
                       "(refuses_hard_conflicts) le font sans ce paramètre. Une écriture qui ouvrirait plus de "
                       "CONFLICT_MAX_OPENED (200) chevauchements est refusée (422) sauf avec false, donné par "
                       "une coordinatrice ou un coordinateur."})

    @post_load
    def unsaid(self, data, **kwargs):
        """Absent is neither true nor false (None): only an explicit false lifts the cap."""
        data.setdefault("strict", None)
        return data


class RefusedWriteSchema(ErrorSchema):
    conflicts = fields.List(fields.Nested(ConflictSchema), metadata={
        "description": "les chevauchements bloquants qui refusent l'écriture"})


REFUSED = {"schema": RefusedWriteSchema,
           "description": "Refusé : l'écriture créerait un chevauchement bloquant "
                          "(mode strict, ou lieu qui les refuse) ; rien n'est enregistré"}


def refused_response(error: HardConflictsRefused):
    conflicts = ConflictSchema(many=True).dump(error.conflicts)  # before the rollback expires them
    db.session.rollback()
    return {"code": 409, "status": "Conflict", "message": error.message, "errors": {"json": error.errors},
            "conflicts": conflicts}, 409
