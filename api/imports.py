"""Import of a partner's calendar (.ics or CSV): a preview first, then the import, all or nothing.

Files of up to IMPORT_API_INLINE_MAX_EVENTS events are worked in the request (`/imports/preview`,
`/imports`); any file, however big, can be handed to the clock process as a job
(`/import-jobs`): 202 at once, then its state, progress and preview at its address, and a
confirmation that queues the import itself."""
from __future__ import annotations

from flask import Response, current_app, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import fields

from api.auth import require_api_user
from api.schemas import BaseSchema, one_of
from models import db
from models.errors import TooLarge
from models.events import EVENT_KINDS, VISIBILITIES
from models.operations.imports import confirm_import_job, import_job_for
from models.operations.partners import partner_by_slug
from models.operations.territory import place_by_slug
from scheduler.ical.imports import preview
from scheduler.ical.jobs import estimated_events, progress_view, submit, too_much_overlap_work
from scheduler.ical.parse_csv import csv_template, parse_file
from scheduler.ical.planned import ImportOptions

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
    notes = fields.List(fields.String(), metadata={"description": "ce que l'import fait de l'événement, à savoir "
                                                   "(une série écrite en UTC gardée en UTC…)"})


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


def _to_a_job(why: str, jobs: str) -> TooLarge:
    """413 before any work, with the address of the import jobs that take the file instead."""
    where = f"déposez-le par POST sur {jobs}, qui le traite en arrière-plan et en donne l'avancement."
    return TooLarge(f"{why} : {where}", {"file": [where], "import_jobs": [jobs]})


def run_import(user, form, upload, commit: bool) -> dict:
    """Preview, then (when asked) the import itself; one commit, or nothing."""
    options = _options(user, form)
    data = upload.read()
    # Before any work: what might outlive gunicorn's timeout goes to an import job.
    count, most = estimated_events(upload.filename or "", data), current_app.config["IMPORT_API_INLINE_MAX_EVENTS"]
    jobs = url_for("imports.ImportJobs", _external=True)
    if count > most:
        raise _to_a_job(f"Ce fichier compte {count} événements : au-delà de {most}", jobs)
    if (work := too_much_overlap_work(upload.filename or "", data, options)) is not None:
        raise _to_a_job(f"Ce fichier demande une longue recherche des chevauchements (estimée à {work} "
                        f"comparaisons, au-delà de {current_app.config['IMPORT_INLINE_MAX_OVERLAP_WORK']})", jobs)
    plan = parse_file(upload.filename, data, options)
    payload = _payload(preview(user, plan, options, dry_run=not commit))
    if commit:
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


class ImportJobSchema(BaseSchema):
    id = fields.Integer()
    state = fields.String(metadata={"description": "queued, running, ready (aperçu prêt), done (importé), "
                                                   "refused (rien n'est enregistré), failed"})
    state_label = fields.String(metadata={"description": "l'état en français"})
    step = fields.String(metadata={"description": "preview (aperçu), puis import après confirmation"})
    filename = fields.String()
    event_count = fields.Integer(metadata={"description": "événements comptés au dépôt"})
    progress = fields.Dict(metadata={"description": "label (la phase en français), done, total, percent"})
    result = fields.Dict(metadata={"description": "l'aperçu (state ready), ou ce que l'import a fait (done)"})
    errors = fields.List(fields.String(), metadata={"description": "pourquoi le fichier est refusé, ligne par ligne"})
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


def _job_payload(job) -> dict:
    view = progress_view(job)
    return {"id": job.id, "state": job.state, "state_label": job.state_label,
            "step": job.step, "filename": job.filename, "event_count": job.event_count,
            "progress": {k: view[k] for k in ("label", "done", "total", "percent")},
            "result": job.result or {}, "errors": job.errors or [], "created_at": job.created_at,
            "finished_at": job.finished_at}


@blp.route("/import-jobs")
class ImportJobs(MethodView):
    @blp.arguments(ImportFormSchema, location="form")
    @blp.arguments(ImportFileSchema, location="files")
    @blp.response(202, ImportJobSchema)
    def post(self, form, files):
        """Déposer un calendrier de toute taille : l'aperçu est préparé en arrière-plan ; suivre l'adresse du dépôt"""
        user = require_api_user()
        options = _options(user, form)
        upload = files["file"]
        job = submit(user, options.partner, options.place, options.kind, options.visibility,
                     upload.filename or "", upload.read())
        db.session.commit()
        return _job_payload(job)


@blp.route("/import-jobs/<int:job_id>")
class ImportJobById(MethodView):
    @blp.response(200, ImportJobSchema)
    def get(self, job_id):
        """Un dépôt : état, avancement, aperçu ou erreurs (les dépôts sont effacés après un jour)"""
        return _job_payload(import_job_for(require_api_user(), job_id))


@blp.route("/import-jobs/<int:job_id>/confirm")
class ImportJobConfirm(MethodView):
    @blp.response(202, ImportJobSchema)
    def post(self, job_id):
        """Confirmer l'import d'un aperçu prêt : l'import est fait en arrière-plan, tout ou rien"""
        user = require_api_user()
        job = confirm_import_job(user, import_job_for(user, job_id))
        db.session.commit()
        return _job_payload(job)
