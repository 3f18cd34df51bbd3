"""Quartiers (QPV) and places."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from api.auth import require_api_user
from api.schemas import SLUG, BaseSchema, SelectPage, entries, length, reference
from models import Place, Quartier, db
from models.errors import FIELD_MESSAGES
from models.operations import territory as ops
from scheduler.conflicts.check import PLACE_FIELDS_IN_DETECTION, check_events_sharing, detection_facts

blp = Blueprint("territory", __name__, url_prefix="/api/v1", description="Quartiers et lieux")


class QuartierSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    code = fields.String(required=True, validate=[length(20, 4), validate.Regexp(
        r"^[A-Z0-9]+$", error="Code officiel du QPV en majuscules et chiffres (exemple : QN03801M).")])
    name = fields.String(required=True, validate=length(200, 2))
    communes = fields.List(fields.String(validate=length(120, 1)), load_default=list, validate=entries())
    department = fields.String(allow_none=True, validate=validate.Regexp(
        r"^(\d{2}|2A|2B|97\d)$", error="Numéro de département (exemple : 38, 974)."))


class PlaceSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    slug = fields.String(required=True, validate=[length(80, 2), SLUG])
    name = fields.String(required=True, validate=length(200, 2))
    host_partner = fields.Function(lambda p: p.host_partner.slug if p.host_partner else None,
                                   deserialize=reference, allow_none=True)
    address = fields.String(allow_none=True, validate=length(300))
    postcode = fields.String(allow_none=True, validate=validate.Regexp(r"^\d{5}$", error=FIELD_MESSAGES["postcode"]))
    city = fields.String(allow_none=True, validate=length(120))
    department = fields.String(allow_none=True, validate=validate.Regexp(
        r"^(\d{2}|2A|2B|97\d)$", error="Numéro de département (exemple : 38, 974)."))
    quartier = fields.Function(lambda p: p.quartier.code if p.quartier else None,
                               deserialize=reference, allow_none=True)
    timezone = fields.String(validate=length(64))
    rooms = fields.List(fields.String(validate=length(120, 1)), validate=entries())
    accessibility = fields.String(allow_none=True, validate=length(2000))
    latitude = fields.Float(allow_none=True, validate=validate.Range(-90, 90))
    longitude = fields.Float(allow_none=True, validate=validate.Range(-180, 180))
    contact_email = fields.Email(allow_none=True)
    refuses_hard_conflicts = fields.Boolean()


@blp.route("/quartiers")
class Quartiers(MethodView):
    @blp.response(200, QuartierSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self):
        """Liste des quartiers"""
        return sa.select(Quartier).order_by(Quartier.code)

    @blp.arguments(QuartierSchema)
    @blp.response(201, QuartierSchema)
    def post(self, data):
        """Ajouter un quartier"""
        quartier = ops.create_quartier(require_api_user(), data)
        db.session.commit()
        return quartier


@blp.route("/quartiers/<code>")
class QuartierByCode(MethodView):
    @blp.response(200, QuartierSchema)
    def get(self, code):
        """Un quartier"""
        return ops.quartier_by_code(code)

    @blp.arguments(QuartierSchema(partial=True), required=False)  # no body: nothing changes
    @blp.response(200, QuartierSchema)
    def patch(self, data, code):
        """Modifier un quartier"""
        quartier = ops.update_quartier(require_api_user(), ops.quartier_by_code(code), data)
        db.session.commit()
        return quartier

    @blp.response(204)
    def delete(self, code):
        """Supprimer un quartier"""
        ops.delete_quartier(require_api_user(), ops.quartier_by_code(code))
        db.session.commit()


@blp.route("/places")
class Places(MethodView):
    @blp.response(200, PlaceSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self):
        """Liste des lieux"""
        return sa.select(Place).order_by(Place.name, Place.id)

    @blp.arguments(PlaceSchema)
    @blp.response(201, PlaceSchema)
    def post(self, data):
        """Ajouter un lieu"""
        place = ops.create_place(require_api_user(), data, current_app.config["DEFAULT_TIMEZONE"])
        db.session.commit()
        return place


@blp.route("/places/<slug>")
class PlaceBySlug(MethodView):
    @blp.response(200, PlaceSchema)
    def get(self, slug):
        """Un lieu"""
        return ops.place_by_slug(slug)

    @blp.arguments(PlaceSchema(partial=True), required=False)  # no body: nothing changes
    @blp.response(200, PlaceSchema)
    def patch(self, data, slug):
        """Modifier un lieu"""
        place, user = ops.place_by_slug(slug), require_api_user()
        before = detection_facts(place, PLACE_FIELDS_IN_DETECTION)
        place = ops.update_place(user, place, data)
        check_events_sharing(place, before, user)  # another quartier: other publics to share
        db.session.commit()
        return place

    @blp.response(204)
    def delete(self, slug):
        """Supprimer un lieu"""
        ops.delete_place(require_api_user(), ops.place_by_slug(slug))
        db.session.commit()
