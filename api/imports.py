"""Import of a partner's calendar (.ics or CSV): a preview first, then the import, all or nothing."""
from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import fields

from api.auth import require_api_user
from api.schemas import BaseSchema, one_of
from models import db
from models.events import EVENT_KINDS, VISIBILITIES
from models.partners import partner_by_slug
from models.territory import place_by_slug
from scheduler.ical_import import ImportOptions, apply_plan, csv_template, parse_file, preview

blp = Blueprint("imports", __name__, url_prefix="/api/v1", description="Import de calendriers (.ics, CSV)")


class ImportFormSchema(BaseSchema):
    partner = fields.String(required=True, metadata={"description": "slug du partenaire organisateur"})
    place = fields.String(required=True, metadata={"description": "lieu par défaut (slug), quand LOCATION "
                                                                  "ne nomme aucun lieu connu"})
    kind = fields.String(load_default="permanence", validate=one_of(EVENT_KINDS))
    visibility = fields.String(load_default="public", validate=one_of(VISIBILITIES))


class ImportFileSchema(BaseSchema):
    file = Upload(required=True, metadata={"description": ".ics (Outlook, Google, Thunderbird) ou CSV du modèle"})


class PlannedEventSchema(BaseSchema):
    uid = fields.String()
    title = fields.String()
    place = fields.Function(lambda p: p.values["place"].slug)
    starts = fields.Function(lambda p: f"{p.values['start_date'].isoformat()}T{p.values['start_time']:%H:%M}")
    frequency = fields.Function(lambda p: p.values["frequency"])
    exceptions = fields.Function(lambda p: len(p.exceptions))
    line = fields.Integer(allow_none=True)
    changes = fields.List(fields.String())


class ImportResultSchema(BaseSchema):
    created = fields.List(fields.Nested(PlannedEventSchema))
    changed = fields.List(fields.Nested(PlannedEventSchema))
    unchanged = fields.List(fields.Nested(PlannedEventSchema))
    overlaps = fields.List(fields.Dict(), metadata={"description": "chevauchements que l'import créerait"})
    overlaps_checked = fields.Boolean()
    refused = fields.List(fields.String(), metadata={
        "description": "chevauchements bloquants dans des lieux qui les refusent : l'import serait refusé en entier"})
    summary = fields.Dict()


def _options(user, form) -> ImportOptions:
    partner = partner_by_slug(form["partner"])
    user.require(user.can_edit_partner(partner), "Vous ne pouvez importer que pour votre structure.")
    return ImportOptions(partner=partner, place=place_by_slug(form["place"]), kind=form["kind"],
                         visibility=form["visibility"])


def _payload(result) -> dict:
    def item(planned, changes=()):
        planned.changes = list(changes)
        return planned

    return {
        "created": [item(p) for p in result.created],
        "changed": [item(p, c) for p, _, c in result.changed],
        "unchanged": [item(p) for p, _ in result.unchanged],
        "overlaps": result.overlaps, "overlaps_checked": result.overlaps_checked,
        "refused": [str(e) for e in result.refused], "summary": result.summary(),
    }


def run_import(user, form, upload, commit: bool) -> dict:
    """Preview, then (when asked) the import itself; one commit, or nothing."""
    options = _options(user, form)
    plan = parse_file(upload.filename, upload.read(), options)
    result = preview(user, plan, options)
    payload = _payload(result)
    if commit:
        apply_plan(user, plan, _options(user, form))
        db.session.commit()
    return payload


@blp.route("/imports/preview")
class ImportPreview(MethodView):
    @blp.arguments(ImportFormSchema, location="form")
    @blp.arguments(ImportFileSchema, location="files")
    @blp.response(200, ImportResultSchema)
    def post(self, form, files):
        """Aperçu d'un import : créés, modifiés, inchangés, chevauchements ; rien n'est enregistré"""
        return run_import(require_api_user(), form, files["file"], commit=False)


@blp.route("/imports")
class Imports(MethodView):
    @blp.arguments(ImportFormSchema, location="form")
    @blp.arguments(ImportFileSchema, location="files")
    @blp.response(200, ImportResultSchema)
    def post(self, form, files):
        """Importer un calendrier : tout ou rien, sans doublon (par UID)"""
        return run_import(require_api_user(), form, files["file"], commit=True)


@blp.route("/imports/template.csv")
class ImportTemplate(MethodView):
    @blp.response(200, content_type="text/csv")
    def get(self):
        """Modèle CSV des permanences (en-têtes en français, dates JJ/MM/AAAA)"""
        return Response(csv_template(), content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="modele-permanences.csv"'})
