"""Pages for feeds, private links, import and sync.

- /agenda?flux=/feeds/…ics: how to subscribe in Outlook, Google, Apple and Thunderbird (public);
- /coordination/liens-prives: one's private feed links, created, renewed, revoked;
- /coordination/import: upload an .ics or CSV, read the preview, confirm (a big file: its job's
  page, /coordination/import/<id>, shows the progress of the clock's work);
- /coordination/synchronisation: calendars synced from elsewhere, with their last result.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for

from models import Partner, Place, Quartier, db
from models.errors import DomainError
from models.events import EVENT_KINDS, VISIBILITIES
from models.feeds import SYNC_STATUSES
from models.operations.feeds import (
    can_manage_feed_token,
    create_feed_token,
    create_sync_source,
    delete_sync_source,
    feed_token_for,
    feed_tokens_of,
    renew_feed_token,
    revoke_feed_token,
    sync_source_for,
    sync_sources_of,
)
from models.operations.imports import confirm_import_job, import_job_for
from models.operations.partners import partner_by_slug
from models.operations.territory import place_by_slug
from scheduler.ical.jobs import process, progress_view, runs_inline, start_inline, submit
from scheduler.ical.parse_csv import csv_template
from scheduler.ical.planned import ImportOptions
from scheduler.ical.sync import run_source
from web.auth import current_user, login_required, too_many_attempts

bp = Blueprint("feeds_pages", __name__)
bp.register_error_handler(429, too_many_attempts)  # creating private links is rate-limited (settings.py, extensions.py)


def feed_addresses(path: str) -> dict:
    """The https and webcal addresses of a feed path (BASE_URL is the public https address)."""
    base = current_app.config["BASE_URL"]
    https = base + path
    return {"path": path, "https": https, "webcal": "webcal://" + https.split("://", 1)[1]}


# --- subscribing ---------------------------------------------------------------------------------

@bp.get("/agenda")
def subscribe():
    """How to subscribe to a feed; without one, the list of the territory's feeds."""
    path = request.args.get("flux", "")
    if path and not (path.startswith("/feeds/") and path.split("?", 1)[0].endswith(".ics")):
        abort(404)
    feeds = [("Tout le territoire", "/feeds/all.ics")]
    feeds += [(f"Quartier {q.name}", f"/feeds/quartiers/{q.code}.ics")
              for q in db.session.scalars(sa.select(Quartier).order_by(Quartier.name))]
    feeds += [(p.name, f"/feeds/places/{p.slug}.ics")
              for p in db.session.scalars(sa.select(Place).order_by(Place.name))]
    feeds += [(p.name, f"/feeds/partners/{p.slug}.ics")
              for p in db.session.scalars(sa.select(Partner).order_by(Partner.name))]
    chosen = feed_addresses(path or "/feeds/all.ics")
    return render_template("feeds/subscribe.html", chosen=chosen, feeds=[(n, feed_addresses(p)) for n, p in feeds])


# --- private links -------------------------------------------------------------------------------

@bp.route("/coordination/liens-prives", methods=["GET", "POST"])
@login_required
def private_links():
    user = current_user
    new_address = None
    if request.method == "POST":
        action = request.form.get("action")
        # Another's link is not found: 404, its existence not revealed, nothing changed.
        row = _id_or_404(feed_token_for, "token_id") if action in ("renew", "revoke") else None
        try:
            if action == "create":
                owner = request.form.get("owner", "me")
                partner = user.partner if owner == "partner" else None
                if owner == "partner" and partner is None:
                    raise DomainError("Vous n'êtes rattaché·e à aucun partenaire.")
                _, token = create_feed_token(user, user=None if partner else user, partner=partner,
                                             label=request.form.get("label", "")[:120])
                new_address = feed_addresses(f"/feeds/private/{token}.ics")
                flash("Lien privé créé : copiez-le maintenant, il ne sera plus affiché.", "success")
            elif row is not None:
                if action == "renew":
                    _, token = renew_feed_token(user, row)
                    new_address = feed_addresses(f"/feeds/private/{token}.ics")
                    flash("Nouveau lien créé ; l'ancien ne fonctionne plus.", "success")
                else:
                    revoke_feed_token(user, row)
                    flash("Lien révoqué : les agendas abonnés ne reçoivent plus rien.", "success")
            db.session.commit()
        except (DomainError, ValueError) as error:
            db.session.rollback()
            flash(getattr(error, "message", "Demande invalide."), "error")
    tokens = [t for t in feed_tokens_of(user) if can_manage_feed_token(user, t)]
    return render_template("feeds/private_links.html", tokens=tokens, new_address=new_address)


def _id_or_404(find, field: str):
    """What the form's `field` names, among what the user may act on; else 404."""
    try:
        return find(current_user, int(request.form.get(field, "")))
    except (DomainError, ValueError):
        abort(404)


# --- import --------------------------------------------------------------------------------------
# Every upload becomes an ImportJob (models/imports.py): its preview, then on confirmation its
# import. A small file is worked in the request and the page answers with the outcome; a big one
# is worked by the clock process, and the job's page shows its progress (scheduler/import_jobs.py).

def _partners_for(user) -> list[Partner]:
    """The partners a user may import or sync for."""
    if user.is_coordinator:
        return [p for p in db.session.scalars(sa.select(Partner).order_by(Partner.name)) if user.can_edit_partner(p)]
    return [user.partner] if user.partner else []


def _places_for(user) -> list[Place]:
    """The places offered to import or sync into: a coordinator's territory (all for a national
    one); any place for an editor, as the event form offers."""
    places = db.session.scalars(sa.select(Place).order_by(Place.name))
    return [p for p in places if not user.is_coordinator or user.covers_place(p)]


def _import_form_values() -> dict:
    return {"partner": request.form.get("partner", ""), "place": request.form.get("place", ""),
            "kind": request.form.get("kind", "permanence"), "visibility": request.form.get("visibility", "public")}


def _options(user, values: dict) -> ImportOptions:
    partner = partner_by_slug(values["partner"])
    user.require(user.can_edit_partner(partner), "Vous ne pouvez importer que pour votre structure.")
    if values["kind"] not in EVENT_KINDS or values["visibility"] not in VISIBILITIES:
        raise DomainError("Type ou visibilité inconnus.")
    return ImportOptions(partner=partner, place=place_by_slug(values["place"]), kind=values["kind"],
                         visibility=values["visibility"])


def _import_page(status: int = 200, job=None, values=None):
    user = current_user
    context = {"partners": _partners_for(user), "kinds": EVENT_KINDS, "visibilities": VISIBILITIES,
               "places": _places_for(user), "values": values or {},
               "job": job, "progress": progress_view(job) if job is not None else None,
               "max_mb": current_app.config["IMPORT_MAX_CONTENT_LENGTH"] // (1024 * 1024)}
    if job is not None and job.step == "import" and values is None:
        context["values"] = {"partner": job.partner.slug, "place": job.place.slug, "kind": job.kind,
                             "visibility": job.visibility}
    return render_template("feeds/import.html", **context), status


def _outcome(job):
    """After a job's step: its page (a big one: where its progress shows), or, for an import
    done at once, back to the form with the news."""
    if not job.is_finished:
        return redirect(url_for("feeds_pages.import_job", job_id=job.id), 303)
    if job.state == "done":
        r = job.result
        flash(f"Import terminé : {r.get('created', 0)} créé(s), {r.get('changed', 0)} modifié(s), "
              f"{r.get('unchanged', 0)} inchangé(s) ; rien d'autre n'a changé.", "success")
        return redirect(url_for("feeds_pages.import_calendar"), 303)
    return _import_page(422 if job.state in ("refused", "failed") else 200, job)


def _work(job):
    """Works the job in this request when it is small, else leaves it to the clock; commits."""
    if runs_inline(job):
        start_inline(job)
        db.session.commit()
        return process(job.id)  # commits its outcome
    db.session.commit()
    return job


@bp.route("/coordination/import", methods=["GET", "POST"])
@login_required
def import_calendar():
    if request.method == "GET":
        return _import_page()
    values = _import_form_values()
    try:
        options = _options(current_user, values)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise DomainError("Choisissez un fichier .ics ou .csv.")
        job = submit(current_user, options.partner, options.place, options.kind, options.visibility,
                     upload.filename, upload.read())
        return _outcome(_work(job))
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _import_page(error.status, values=values)


@bp.errorhandler(413)
def file_too_large(error):
    """A file over IMPORT_MAX_CONTENT_LENGTH: said in French on the import page."""
    if request.endpoint != "feeds_pages.import_calendar":
        return error
    flash(f"Le fichier dépasse {current_app.config['IMPORT_MAX_CONTENT_LENGTH'] // (1024 * 1024)} Mo : rien n'a "
          "été importé. Découpez-le en plusieurs fichiers (par période, par exemple) et importez-les l'un après "
          "l'autre.", "error")
    return _import_page(413)


def _job_or_404(job_id: int):
    try:
        return import_job_for(current_user, job_id)
    except DomainError:
        abort(404)


@bp.get("/coordination/import/<int:job_id>")
@login_required
def import_job(job_id: int):
    """Where a job stands: its progress, its preview (to confirm), or its outcome."""
    job = _job_or_404(job_id)
    return _import_page(200, job)


@bp.get("/coordination/import/<int:job_id>/etat")
@login_required
def import_job_status(job_id: int):
    """The progress of a job, polled by the page's script."""
    return progress_view(_job_or_404(job_id))


@bp.post("/coordination/import/<int:job_id>/confirmer")
@login_required
def confirm_import(job_id: int):
    job = _job_or_404(job_id)
    try:
        confirm_import_job(current_user, job)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("feeds_pages.import_job", job_id=job_id), 303)
    return _outcome(_work(job))


@bp.get("/coordination/import/modele.csv")
@login_required
def import_template():
    return Response(csv_template(), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="modele-permanences.csv"'})


# --- sync ----------------------------------------------------------------------------------------

@bp.route("/coordination/synchronisation", methods=["GET", "POST"])
@login_required
def sync_settings():
    user = current_user
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "create":
                partner = partner_by_slug(request.form.get("partner", ""))
                create_sync_source(user, partner, place_by_slug(request.form.get("place", "")),
                                   request.form.get("url", ""), kind=request.form.get("kind", "permanence"),
                                   interval_minutes=int(request.form.get("interval_minutes", "60") or 60),
                                   allow_private=current_app.config["ALLOW_PRIVATE_URLS"])
                db.session.commit()
                flash("Calendrier ajouté : il sera synchronisé par l'horloge.", "success")
            else:
                source = _id_or_404(sync_source_for, "source_id")
                if action == "delete":
                    delete_sync_source(user, source)
                    db.session.commit()
                    flash("Synchronisation supprimée (les événements déjà importés restent).", "success")
                elif action == "run":
                    db.session.commit()
                    source = run_source(source.id)  # commits its own result
                    flash(f"Synchronisation faite : {source.last_message}",
                          "error" if source.last_status == "error" else "success")
        except (DomainError, ValueError) as error:
            db.session.rollback()
            flash(getattr(error, "message", "Demande invalide."), "error")
        return redirect(url_for("feeds_pages.sync_settings"))
    return render_template("feeds/sync.html", sources=sync_sources_of(user), statuses=SYNC_STATUSES,
                           partners=_partners_for(user), places=_places_for(user), kinds=EVENT_KINDS)
