"""Partners and their people."""
from __future__ import annotations

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields

from api.auth import require_api_user
from api.schemas import SLUG, BaseSchema, SelectPage, between, length, one_of, reference
from models import Partner, Person, db
from models.errors import NotFound
from models.operations import partners as ops
from models.partners import PARTNER_TYPES, PERSON_ROLES
from scheduler.conflicts.check import PERSON_FIELDS_IN_DETECTION, check_events_sharing, detection_facts

blp = Blueprint("partners", __name__, url_prefix="/api/v1", description="Partenaires et personnes")


class PartnerSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    slug = fields.String(required=True, validate=[length(80, 2), SLUG])
    name = fields.String(required=True, validate=length(200, 2))
    type = fields.String(required=True, validate=one_of(PARTNER_TYPES))
    is_spe = fields.Boolean(metadata={"description": "Membre du service public de l'emploi"})
    contact_email = fields.Email(allow_none=True)
    contact_phone = fields.String(allow_none=True, validate=length(40))
    website = fields.URL(allow_none=True, validate=length(500))


class PersonSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    partner = fields.Function(lambda p: p.partner.slug, deserialize=reference, required=True,
                              metadata={"description": "slug du partenaire"})
    name = fields.String(required=True, validate=length(200, 2))
    email = fields.Email(allow_none=True)
    phone = fields.String(allow_none=True, validate=length(40))
    role = fields.String(load_default=None, validate=one_of(PERSON_ROLES))
    travel_margin_minutes = fields.Integer(validate=between(0, 600))
    max_concurrent = fields.Integer(allow_none=True, validate=between(1, 100), metadata={
        "description": "séries suivies en même temps au plus (parrainage : 3 par défaut)"})


class PersonQueryArgsSchema(BaseSchema):
    partner = fields.String(metadata={"description": "slug du partenaire"})


def _partner(slug: str) -> Partner:
    return ops.partner_by_slug(slug)


def _person(person_id: int) -> Person:
    person = db.session.get(Person, person_id)
    if person is None:
        raise NotFound(f"Personne inconnue : {person_id}.")
    return person


@blp.route("/partners")
class Partners(MethodView):
    @blp.response(200, PartnerSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self):
        """Liste des partenaires"""
        return sa.select(Partner).order_by(Partner.name, Partner.id)

    @blp.arguments(PartnerSchema)
    @blp.response(201, PartnerSchema)
    def post(self, data):
        """Ajouter un partenaire"""
        partner = ops.create_partner(require_api_user(), data)
        db.session.commit()
        return partner


@blp.route("/partners/<slug>")
class PartnerById(MethodView):
    @blp.response(200, PartnerSchema)
    def get(self, slug):
        """Un partenaire"""
        return _partner(slug)

    @blp.arguments(PartnerSchema(partial=True), required=False)  # no body: nothing changes
    @blp.response(200, PartnerSchema)
    def patch(self, data, slug):
        """Modifier un partenaire"""
        partner = ops.update_partner(require_api_user(), _partner(slug), data)
        db.session.commit()
        return partner

    @blp.response(204)
    def delete(self, slug):
        """Supprimer un partenaire"""
        ops.delete_partner(require_api_user(), _partner(slug))
        db.session.commit()


@blp.route("/people")
class People(MethodView):
    @blp.arguments(PersonQueryArgsSchema, location="query")
    @blp.response(200, PersonSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, args):
        """Liste des personnes (conseillers, éducateurs, interprètes…)"""
        require_api_user()  # names of staff are not public
        q = sa.select(Person).order_by(Person.name, Person.id)
        if args.get("partner"):
            q = q.where(Person.partner_id == _partner(args["partner"]).id)
        return q

    @blp.arguments(PersonSchema)
    @blp.response(201, PersonSchema)
    def post(self, data):
        """Ajouter une personne à un partenaire"""
        data = {k: v for k, v in data.items() if v is not None or k != "role"}
        person = ops.create_person(require_api_user(), data)
        db.session.commit()
        return person


@blp.route("/people/<int:person_id>")
class PersonById(MethodView):
    @blp.response(200, PersonSchema)
    def get(self, person_id):
        """Une personne"""
        require_api_user()
        return _person(person_id)

    @blp.arguments(PersonSchema(partial=True), required=False)  # no body: nothing changes
    @blp.response(200, PersonSchema)
    def patch(self, data, person_id):
        """Modifier une personne"""
        data = {k: v for k, v in data.items() if v is not None or k != "role"}
        person, user = _person(person_id), require_api_user()
        before = detection_facts(person, PERSON_FIELDS_IN_DETECTION)
        person = ops.update_person(user, person, data)
        check_events_sharing(person, before, user)  # a new margin or capacity: their overlaps now
        db.session.commit()
        return person

    @blp.response(204)
    def delete(self, person_id):
        """Supprimer une personne"""
        ops.delete_person(require_api_user(), _person(person_id))
        db.session.commit()
