"""Overlap cases: one kind of overlap between two series, with its dates; listed, read, and
accepted whole or one date at a time. The per-date records stay at /api/v1/conflicts."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields

from api.auth import require_api_user
from api.conflicts import REFUSED, ConflictQueryArgsSchema, ConflictSchema, title_for_caller
from api.schemas import BaseSchema, SelectPage, between, length, one_of
from models import ScheduleConflict, db
from models.errors import NotFound
from models.operations.cases import accept_case, accept_date, case_for, cases_query, dates_of
from scheduler.writes.decisions import ACTIONS, SCOPES, Decision, decide

AN_ID = between(1, 2**31 - 1)  # what an id column holds (a larger one is refused, not a database error)

blp = Blueprint("conflict_cases", __name__, url_prefix="/api/v1",
                description="Chevauchements par cas : un type entre deux séries, avec ses dates")


def _series(event) -> dict:
    return {"event_id": event.id, "title": title_for_caller(event), "kind": event.kind,
            "organisers": [p.slug for p in event.organisers], "place": event.place.slug if event.place else None}


class ConflictCaseSchema(BaseSchema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "place, staff, audience, capacity"})
    severity = fields.String(metadata={"description": "hard (bloquant) ou warning"})
    status = fields.String(metadata={"description": "open, accepted, resolved, closed"})
    a = fields.Function(lambda c: _series(c.a_event), metadata={"description": "la première série"})
    b = fields.Function(lambda c: _series(c.b_event),
                        metadata={"description": "la seconde (capacité : la même, celle de trop)"})
    dates = fields.Function(lambda c: {"open": c.open_count, "accepted": c.accepted_count, "ended": c.ended_count},
                            metadata={"description": "dates à venir ouvertes, acceptées ; dates passées, "
                                                     "résolues ou closes"})
    first_starts_at = fields.DateTime(allow_none=True)
    last_ends_at = fields.DateTime(allow_none=True)
    next_starts_at = fields.DateTime(allow_none=True, metadata={"description": "prochaine date ouverte ou acceptée"})
    reason = fields.String(metadata={"description": "raison de l'acceptation du cas entier"})
    accepted_whole = fields.Function(lambda c: c.accepted_versions is not None, metadata={
        "description": "accepté en entier : les dates ajoutées plus tard le sont aussi, tant qu'aucune des deux "
                       "séries ne change"})
    opened_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class ConflictCaseWithDatesSchema(ConflictCaseSchema):
    conflicts = fields.Function(lambda c: ConflictSchema(many=True).dump(dates_of(c)),
                                metadata={"description": "ses dates (un chevauchement par date)"})


class AcceptCaseSchema(BaseSchema):
    reason = fields.String(required=True, validate=length(2000, 3))
    conflict_id = fields.Integer(validate=AN_ID, metadata={
        "description": "une seule date ; sans : toutes les dates ouvertes à venir, et celles que les séries "
                       "ajouteront"})


@blp.route("/conflict-cases")
class ConflictCases(MethodView):
    @blp.arguments(ConflictQueryArgsSchema, location="query")
    @blp.response(200, ConflictCaseSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, args):
        """Cas de chevauchement visibles (territoire du coordinateur, ou partenaire du contributeur)"""
        return cases_query(require_api_user(), **args)


@blp.route("/conflict-cases/<int:case_id>")
class ConflictCaseById(MethodView):
    @blp.response(200, ConflictCaseWithDatesSchema)
    def get(self, case_id):
        """Un cas de chevauchement et ses dates"""
        return case_for(require_api_user(), case_id)


@blp.route("/conflict-cases/<int:case_id>/accept")
class AcceptConflictCase(MethodView):
    @blp.arguments(AcceptCaseSchema)
    @blp.response(200, ConflictCaseWithDatesSchema)
    def post(self, data, case_id):
        """Accepter un cas entier (ou une de ses dates), avec sa raison"""
        user = require_api_user()
        case = case_for(user, case_id)
        if data.get("conflict_id") is not None:
            accept_date(user, case, data["conflict_id"], data["reason"])
        else:
            accept_case(user, case, data["reason"])
        db.session.commit()
        return case


class ResolveCaseSchema(BaseSchema):
    event_id = fields.Integer(validate=AN_ID, required=True,
                              metadata={"description": "la série du cas sur laquelle agir"})
    scope = fields.String(required=True, validate=one_of(SCOPES), metadata={
        "description": "date (une date), following (cette date et les suivantes), series (toute la série)"})
    action = fields.String(required=True, validate=one_of(ACTIONS), metadata={
        "description": "cancel, move, room, place, person"})
    conflict_id = fields.Integer(validate=AN_ID, metadata={"description": "la date (pour date et following)"})
    starts_at = fields.AwareDateTime(metadata={"description": "move d'une date : le nouveau début"})
    ends_at = fields.AwareDateTime(metadata={"description": "move d'une date : la nouvelle fin"})
    start = fields.Time(metadata={"description": "move de la série : nouvelle heure de début"})
    end = fields.Time(metadata={"description": "move de la série : nouvelle heure de fin"})
    room = fields.String(validate=length(200), metadata={"description": "room (ou place) : la salle"})
    place = fields.String(validate=length(200), metadata={"description": "place : le lieu (slug)"})
    replace = fields.Integer(validate=AN_ID, metadata={"description": "person : la personne remplacée"})
    by = fields.Integer(validate=AN_ID, metadata={"description": "person : celle qui la remplace"})
    reason = fields.String(load_default="", validate=length(2000))


@blp.route("/conflict-cases/<int:case_id>/resolve")
class ResolveConflictCase(MethodView):
    @blp.arguments(ResolveCaseSchema)
    @blp.response(200, ConflictCaseWithDatesSchema)
    @blp.alt_response(409, **REFUSED)
    def post(self, data, case_id):
        """Résoudre un cas en agissant sur une de ses séries (une date, cette date et les suivantes, ou toute la
        série) : annuler, déplacer, changer de salle ou de lieu, remplacer une personne ; vérifié comme les
        écritures des événements (409 si un chevauchement bloquant est refusé)"""
        user = require_api_user()
        case = case_for(user, case_id)
        event = next((e for e in (case.a_event, case.b_event) if e.id == data["event_id"]), None)
        if event is None:
            raise NotFound("Cette série n'est pas l'une des deux séries de ce chevauchement.")
        conflict = db.session.get(ScheduleConflict, data["conflict_id"]) if data.get("conflict_id") else None
        decide(user, case, Decision(event=event, scope=data["scope"], action=data["action"], conflict=conflict,
                                    starts_at=data.get("starts_at"), ends_at=data.get("ends_at"),
                                    start=data.get("start"), end=data.get("end"), room=data.get("room"),
                                    place=data.get("place"), replace=data.get("replace"), by=data.get("by"),
                                    reason=data["reason"]))
        db.session.commit()
        db.session.refresh(case)
        return case
