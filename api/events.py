"""Events (single or recurring series) and the cancelling or moving of one occurrence."""
from __future__ import annotations

from flask import jsonify
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import ValidationError, fields, post_load, pre_load, validate, validates_schema

from api.auth import api_user, require_api_user
from api.conflicts import REFUSED, ConflictSchema, StrictArgsSchema
from api.schemas import BaseSchema, SelectPage, between, entries, length, one_of, reference
from models import Event, db
from models.errors import FIELD_MESSAGES, NotFound
from models.events import (
    EVENT_KINDS,
    FREQUENCIES,
    STATUSES,
    VISIBILITIES,
    WEEKDAY_CODES,
)
from models.operations.audit import history
from models.operations.conflicts import with_sides_loaded
from models.operations.events import event_by_id
from models.territory import SCHOOL_ZONE_CHOICES
from scheduler import writes
from scheduler.time.calendar import CalendarFilter, events_query
from scheduler.writes.preview import dry_run

blp = Blueprint("events", __name__, url_prefix="/api/v1", description="Événements et séries")


class AudienceSchema(BaseSchema):
    age_min = fields.Integer(allow_none=True, load_default=None, validate=between(0, 120))
    age_max = fields.Integer(allow_none=True, load_default=None, validate=between(0, 120))
    tags = fields.List(fields.String(validate=length(60, 1)), load_default=list, validate=entries())

    @validates_schema
    def check_band(self, data, **kwargs):
        if data.get("age_min") is not None and data.get("age_max") is not None \
                and data["age_min"] > data["age_max"]:
            raise ValidationError("L'âge maximum est inférieur à l'âge minimum.", "age_max")


class RecurrenceSchema(BaseSchema):
    frequency = fields.String(required=True, validate=one_of(FREQUENCIES), metadata={
        "description": "once, daily (tous les n jours), weekly, monthly (nième ou dernier jour de semaine, ou "
                       "jours du mois), yearly (mois et jours du mois, ou nième jour de semaine du mois)"})
    interval = fields.Integer(load_default=1, validate=between(1, 52))
    weekdays = fields.List(fields.String(validate=one_of(WEEKDAY_CODES)), load_default=list)
    month_week = fields.Integer(allow_none=True, load_default=None,
                                validate=validate.OneOf([1, 2, 3, 4, -1], error="1 à 4, ou -1 pour le dernier."))
    month_days = fields.List(fields.Integer(validate=between(-31, 31)), load_default=list, metadata={
        "description": "monthly or yearly: days of the month, 1 to 31, -1 for the last (iCal BYMONTHDAY)"})
    months = fields.List(fields.Integer(validate=between(1, 12)), load_default=list, metadata={
        "description": "yearly: months, 1 to 12 (iCal BYMONTH); empty: the start's month"})
    extra_dates = fields.List(fields.Date(), load_default=list, validate=validate.Length(max=1000), metadata={
        "description": "dates added to the rule, at the series' time (iCal RDATE)"})
    until = fields.Date(allow_none=True, load_default=None)
    count = fields.Integer(allow_none=True, load_default=None, validate=between(1, 1000))

    @pre_load
    def refuse_no_weekday(self, data, **kwargs):
        """Weekdays left out take the start date's; an empty list given for a weekly rule is a
        rule of no day, refused as the form refuses it."""
        if isinstance(data, dict) and data.get("frequency") == "weekly" and data.get("weekdays") == []:
            raise ValidationError(FIELD_MESSAGES["no_weekday"], "weekdays")
        return data


class EventSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    uid = fields.String(dump_only=True)
    kind = fields.String(required=True, validate=one_of(EVENT_KINDS))
    title = fields.String(required=True, validate=length(200, 2))
    description = fields.String(load_default="", validate=length(10000))
    place = fields.Function(lambda e: e.place.slug, deserialize=reference, required=True)
    quartier = fields.Function(lambda e: e.place.quartier.code if e.place.quartier else None, dump_only=True)
    room = fields.String(allow_none=True, validate=length(120))
    organisers = fields.Function(lambda e: [p.slug for p in e.organisers], deserialize=lambda v: _str_list(v),
                                 required=True, metadata={"description": "slugs des partenaires organisateurs"})
    people = fields.Function(lambda e: [p.id for p in e.people], deserialize=lambda v: _int_list(v),
                             metadata={"description": "identifiants des personnes mobilisées"})
    visibility = fields.String(load_default="public", validate=one_of(VISIBILITIES))
    status = fields.String(load_default="confirmed", validate=one_of(STATUSES))
    capacity = fields.Integer(allow_none=True, validate=between(1, 100000))
    registration_url = fields.URL(allow_none=True, validate=length(500))
    employers = fields.List(fields.String(validate=length(200, 1)), load_default=list, validate=entries())
    walk_in = fields.Boolean(load_default=False, metadata={"description": "sans rendez-vous"})
    audience = fields.Nested(AudienceSchema, load_default=lambda: {"age_min": None, "age_max": None, "tags": []})
    timezone = fields.String(validate=length(64), metadata={"description": "par défaut, celui du lieu"})
    start_date = fields.Date(required=True)
    all_day = fields.Boolean(load_default=False, metadata={
        "description": "journée entière, gardée comme des dates : start_time 00:00 et une durée de jours entiers "
                       "(1440 minutes par jour)"})
    start_time = fields.Time(required=True, format="%H:%M")
    end_time = fields.Time(load_only=True, format="%H:%M")
    duration_minutes = fields.Integer(validate=between(1, 7 * 24 * 60))
    recurrence = fields.Nested(RecurrenceSchema, load_default=lambda: {"frequency": "once"})
    skip_public_holidays = fields.Boolean(load_default=True, metadata={
        "description": "la série saute les jours fériés de son lieu (une série seulement : un événement "
                       "daté a lieu le jour dit)"})
    pause_school_holidays = fields.Boolean(load_default=False, metadata={
        "description": "la série s'interrompt pendant les vacances scolaires de sa zone (une série seulement)"})
    school_zone = fields.String(allow_none=True, validate=one_of(SCHOOL_ZONE_CHOICES), metadata={
        "description": "zone des vacances scolaires (A, B ou C) ; vide : celle du département du lieu"})
    school_holidays_zone = fields.String(dump_only=True, allow_none=True, metadata={
        "description": "la zone dont les vacances scolaires s'appliquent (school_zone, sinon celle du lieu)"})
    starts_at = fields.DateTime(dump_only=True, metadata={"description": "premier instant (UTC)"})
    sequence = fields.Integer(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)
    conflicts = fields.List(fields.Nested(ConflictSchema), dump_only=True, metadata={
        "description": "après une écriture : les chevauchements de l'événement (nouveaux et existants)"})

    @validates_schema
    def check_times(self, data, partial=None, **kwargs):
        if "recurrence" in data and "frequency" not in data["recurrence"]:
            # A PATCH replaces the rule as a whole: half a rule would silently reset the rest.
            raise ValidationError({"frequency": ["Champ obligatoire : la règle se donne entière."]}, "recurrence")
        if "end_time" in data:
            if "start_time" not in data:
                raise ValidationError("Indiquez aussi start_time avec end_time.", "start_time")
            if data["end_time"] <= data["start_time"]:
                raise ValidationError(FIELD_MESSAGES["end_before_start"], "end_time")
        elif not partial and "duration_minutes" not in data:
            raise ValidationError("Indiquez end_time ou duration_minutes.", "end_time")

    @post_load
    def to_model_fields(self, data, **kwargs):
        """API shape -> Event columns."""
        if "end_time" in data:
            end, start = data.pop("end_time"), data["start_time"]
            data["duration_minutes"] = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
        if "audience" in data:
            audience = data.pop("audience")
            data.update(age_min=audience.get("age_min"), age_max=audience.get("age_max"),
                        audience_tags=audience.get("tags", []))
        if "recurrence" in data:
            r = data.pop("recurrence")
            data.update(frequency=r["frequency"], interval=r.get("interval", 1), month_week=r.get("month_week"),
                        until=r.get("until"), count=r.get("count"), month_days=r.get("month_days") or None,
                        months=r.get("months") or None,
                        extra_dates=[d.isoformat() for d in r.get("extra_dates") or []] or None,
                        weekdays=[WEEKDAY_CODES.index(code) for code in r.get("weekdays", [])])
        return data


def _str_list(value):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("Liste d'identifiants attendue.")
    return value


def _int_list(value):
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValidationError("Liste de nombres entiers attendue.")
    return value


class WriteArgsSchema(StrictArgsSchema):
    dry_run = fields.Boolean(load_default=False, metadata={
        "description": "true (ou 1) : rien n'est écrit ; la réponse (200) dit ce que l'écriture donnerait : la "
                       "règle en français, les prochaines occurrences, les dates sautées et pourquoi, les "
                       "chevauchements qu'elle ouvrirait"})


class EventSplitSchema(EventSchema):
    from_date = fields.Date(metadata={"description": "la date à partir de laquelle la série change"})

    @validates_schema
    def check_from_date(self, data, **kwargs):
        if "from_date" not in data:
            raise ValidationError("Champ obligatoire.", "from_date")


class EndSeriesSchema(BaseSchema):
    from_date = fields.Date(required=True, metadata={"description": "la première date qui n'a plus lieu"})


class PreviewOccurrenceSchema(BaseSchema):
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    is_cancelled = fields.Boolean()
    label = fields.String()


class SkippedDateSchema(BaseSchema):
    day = fields.Date()
    reason = fields.String()
    label = fields.String(metadata={"description": "« lundi 28 décembre : vacances de Noël »"})


class PreviewOverlapSchema(BaseSchema):
    kind = fields.String()
    is_hard = fields.Boolean()
    would_refuse = fields.Boolean(metadata={"description": "l'écriture serait refusée (409) pour lui"})
    starts_at = fields.DateTime()
    other_event_id = fields.Integer()
    other_title = fields.String()
    description = fields.String()


class PreviewSchema(BaseSchema):
    phrase = fields.String(metadata={"description": "la règle en français"})
    summary = fields.String(metadata={"description": "la règle et le nombre de séances"})
    sessions = fields.Integer(allow_none=True, metadata={"description": "séances d'une série qui a une fin"})
    occurrences = fields.List(fields.Nested(PreviewOccurrenceSchema))
    skipped = fields.List(fields.Nested(SkippedDateSchema))
    overlaps = fields.List(fields.Nested(PreviewOverlapSchema))
    would_be_refused = fields.Boolean()


DRY_RUN = {"schema": PreviewSchema, "description": "dry_run : ce que l'écriture donnerait ; rien n'est écrit"}


def previewed(actor, write, strict: bool | None):
    """A dry run's answer: 200 with the preview (flask-smorest passes a Response through)."""
    return jsonify(PreviewSchema().dump(dry_run(actor, write, strict=bool(strict))))


class EventQueryArgsSchema(BaseSchema):
    partner = fields.String()
    place = fields.String()
    quartier = fields.String()
    kind = fields.String(validate=one_of(EVENT_KINDS))


class OccurrenceRefSchema(BaseSchema):
    recurrence_start = fields.AwareDateTime(required=True, metadata={
        "description": "l'instant que la série donne à l'occurrence (son identité)"})
    reason = fields.String(load_default="", validate=length(2000))


class OccurrenceMoveSchema(OccurrenceRefSchema):
    starts_at = fields.AwareDateTime()
    ends_at = fields.AwareDateTime()
    place = fields.String()
    room = fields.String(validate=length(120))
    people = fields.List(fields.Integer())


class OccurrenceExceptionSchema(BaseSchema):
    recurrence_start = fields.DateTime()
    is_cancelled = fields.Boolean()
    starts_at = fields.DateTime(allow_none=True)
    duration_minutes = fields.Integer(allow_none=True)
    place = fields.Function(lambda x: x.place.slug if x.place else None)
    room = fields.String(allow_none=True)
    people = fields.Function(lambda x: x.person_ids)
    reason = fields.String()
    conflicts = fields.List(fields.Nested(ConflictSchema), dump_only=True)


class HistoryEntrySchema(BaseSchema):
    at = fields.DateTime()
    user = fields.Function(lambda a: a.user.email if a.user else None)
    action = fields.String()
    changes = fields.Dict()


def visible_event(event_id: int) -> Event:
    event = event_by_id(event_id)
    if event.visibility != "public" and api_user() is None:
        raise NotFound(f"Événement inconnu : {event_id}.")  # do not reveal that it exists
    return event


@blp.route("/events")
class Events(MethodView):
    @blp.arguments(EventQueryArgsSchema, location="query")
    @blp.response(200, EventSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, args):
        """Liste des événements et séries"""
        f = CalendarFilter(include_private=api_user() is not None, **args)
        return events_query(f).order_by(Event.starts_at, Event.id)

    @blp.arguments(EventSchema)
    @blp.arguments(WriteArgsSchema, location="query", as_kwargs=True)
    @blp.response(201, EventSchema)
    @blp.alt_response(200, **DRY_RUN)
    @blp.alt_response(409, **REFUSED)
    def post(self, data, strict, dry_run):
        """Créer un événement ou une série (dry_run : seulement voir ce que cela donnerait)"""
        if dry_run:
            return previewed(require_api_user(), lambda w: w.create(data), strict)
        written = writes.create_event(require_api_user(), data, strict=strict)
        return answered(written.event, written)


def answered(target, written: writes.Written):
    """Commits the write (at the edge: here), and gives its target back with the overlaps as they
    now stand, ready for the answer (the commit expired them)."""
    db.session.commit()
    target.conflicts = with_sides_loaded(written.conflicts)
    return target


@blp.route("/events/<int:event_id>")
class EventById(MethodView):
    @blp.response(200, EventSchema)
    def get(self, event_id):
        """Un événement"""
        return visible_event(event_id)

    @blp.arguments(EventSchema(partial=True), required=False)  # no body: nothing changes
    @blp.arguments(StrictArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, EventSchema)
    @blp.alt_response(409, **REFUSED)
    def patch(self, data, event_id, strict):
        """Modifier un événement ou toute sa série"""
        user, event = require_api_user(), event_by_id(event_id)
        return answered(event, writes.update_event(user, event, data, strict=strict))

    @blp.response(204)
    def delete(self, event_id):
        """Supprimer un événement (pour le garder annoncé comme annulé, passez son statut à cancelled)"""
        writes.delete_event(require_api_user(), event_by_id(event_id))
        db.session.commit()


@blp.route("/events/<int:event_id>/split")
class SplitEvent(MethodView):
    @blp.arguments(EventSplitSchema(partial=True))
    @blp.arguments(WriteArgsSchema, location="query", as_kwargs=True)
    @blp.response(201, EventSchema)
    @blp.alt_response(200, **DRY_RUN)
    @blp.alt_response(409, **REFUSED)
    def post(self, data, event_id, strict, dry_run):
        """Modifier une série à partir d'une date (cette date et les suivantes) : elle devient deux séries"""
        user, event = require_api_user(), event_by_id(event_id)
        from_date = data.pop("from_date")
        if dry_run:
            return previewed(user, lambda w: w.split(event, from_date, data), strict)
        written = writes.split_event(user, event, from_date, data, strict=strict)
        return answered(written.event, written)


@blp.route("/events/<int:event_id>/end")
class EndSeries(MethodView):
    @blp.arguments(EndSeriesSchema)
    @blp.response(200, EventSchema)
    def post(self, data, event_id):
        """Arrêter une série à partir d'une date (elle n'a plus lieu ce jour-là ni après)"""
        user, event = require_api_user(), event_by_id(event_id)
        return answered(event, writes.end_series(user, event, data["from_date"]))


@blp.route("/events/<int:event_id>/history")
class EventHistory(MethodView):
    @blp.response(200, HistoryEntrySchema(many=True))
    def get(self, event_id):
        """Historique des modifications d'un événement"""
        require_api_user()
        return history("events", event_by_id(event_id).id)


@blp.route("/events/<int:event_id>/occurrences/cancel")
class CancelOccurrence(MethodView):
    @blp.arguments(OccurrenceRefSchema)
    @blp.arguments(StrictArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, OccurrenceExceptionSchema)
    @blp.alt_response(409, **REFUSED)
    def post(self, data, event_id, strict):
        """Annuler une occurrence d'une série"""
        user, event = require_api_user(), event_by_id(event_id)
        written = writes.cancel_occurrence(user, event, data["recurrence_start"], data["reason"], strict=strict)
        return answered(written.exception, written)


@blp.route("/events/<int:event_id>/occurrences/move")
class MoveOccurrence(MethodView):
    @blp.arguments(OccurrenceMoveSchema)
    @blp.arguments(StrictArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, OccurrenceExceptionSchema)
    @blp.alt_response(409, **REFUSED)
    def post(self, data, event_id, strict):
        """Déplacer une occurrence (horaire, lieu, salle, personnes)"""
        user, event = require_api_user(), event_by_id(event_id)
        written = writes.move_occurrence(
            user, event, data["recurrence_start"], strict=strict,
            starts_at=data.get("starts_at"), ends_at=data.get("ends_at"), place=data.get("place"),
            room=data.get("room"), person_ids=data.get("people"), reason=data["reason"])
        return answered(written.exception, written)


@blp.route("/events/<int:event_id>/occurrences/restore")
class RestoreOccurrence(MethodView):
    @blp.arguments(OccurrenceRefSchema)
    @blp.arguments(StrictArgsSchema, location="query", as_kwargs=True)
    @blp.response(204)
    @blp.alt_response(409, **REFUSED)
    def post(self, data, event_id, strict):
        """Rétablir une occurrence annulée ou déplacée"""
        user, event = require_api_user(), event_by_id(event_id)
        writes.restore_occurrence(user, event, data["recurrence_start"], strict=strict)
        db.session.commit()
