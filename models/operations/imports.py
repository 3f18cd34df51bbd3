"""Import jobs: created by a user, read back by their owner, confirmed, cleaned up."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from models.base import db, rows_touched
from models.errors import InvalidInput, NotFound
from models.imports import ImportJob


def create_import_job(user, partner, place, kind: str, visibility: str, filename: str, data: bytes,
                      event_count: int) -> ImportJob:
    """A new job for `user` (who must be allowed to import for `partner`), waiting for its preview."""
    user.require(user.can_edit_partner(partner), "Vous ne pouvez importer que pour votre structure.")
    if not data:
        raise InvalidInput("Le fichier est vide.", {"file": ["Fichier vide."]})
    job = ImportJob(user_id=user.id, partner_id=partner.id, place_id=place.id, kind=kind, visibility=visibility,
                    filename=(filename or "calendrier.ics")[:255], size=len(data), data=data,
                    event_count=event_count, step="preview", state="queued", progress={}, result={}, errors=[])
    db.session.add(job)
    db.session.flush()
    return job


def import_job_for(user, job_id: int) -> ImportJob:
    """The job, if it is this user's (another's is not found: its existence is not revealed)."""
    job = db.session.get(ImportJob, job_id)
    if job is None or job.user_id != user.id:
        raise NotFound("Import inconnu ou expiré.")
    return job


def confirm_import_job(user, job: ImportJob) -> ImportJob:
    """After the preview: the import itself is to be done (queued again, same file)."""
    if job.user_id != user.id:
        raise NotFound("Import inconnu ou expiré.")
    if job.step != "preview" or job.state != "ready":
        raise InvalidInput("Cet import a déjà été confirmé, ou son aperçu n'est pas prêt.")
    if job.result.get("refused"):
        raise InvalidInput("L'aperçu a montré que cet import serait refusé : "
                           "corrigez le fichier et envoyez-le à nouveau.")
    job.step, job.state, job.progress = "import", "queued", {}
    job.started_at = job.heartbeat_at = job.finished_at = None
    db.session.flush()
    return job


def delete_import_jobs_before(instant: datetime) -> int:
    """Jobs created before `instant` (previews never confirmed, finished imports) and their files;
    not one that is running."""
    return rows_touched(db.session.execute(sa.delete(ImportJob).where(ImportJob.created_at < instant,
                                                                      ImportJob.state != "running")))
