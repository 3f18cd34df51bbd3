"""Imports of a partner's calendar as jobs: the uploaded file, kept in the database until it is
imported, and where its preview or import stands.

A big file takes longer to check and write than a web worker may spend on one request (gunicorn
kills a sync worker after 30 s), so the file is stored here and the work done by the clock
process (`scheduler.ical.jobs`), which records its progress for the page to show. A small file
goes through the same row, worked at once in the request. The row is the same on every web
process and machine: the confirmation may land on another worker than the upload did.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Model, UTCDateTime, utcnow

IMPORT_STEPS = {"preview": "Aperçu", "import": "Import"}
IMPORT_STATES = {"queued": "En attente", "running": "En cours", "ready": "Aperçu prêt", "done": "Importé",
                 "refused": "Refusé", "failed": "Échec"}
FINISHED_STATES = ("ready", "done", "refused", "failed")


class ImportJob(Model):
    """One uploaded file, previewed and then (on confirmation) imported, for one user."""

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    partner_id: Mapped[int] = mapped_column(sa.ForeignKey("partners.id", ondelete="CASCADE"))
    place_id: Mapped[int] = mapped_column(sa.ForeignKey("places.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(30))
    visibility: Mapped[str] = mapped_column(sa.String(20))
    filename: Mapped[str] = mapped_column(sa.String(255))
    size: Mapped[int] = mapped_column(default=0)
    # VEVENTs or CSV lines counted at upload: chooses between the request and the clock.
    event_count: Mapped[int] = mapped_column(default=0)
    # The file, until it is imported (then emptied). Not read with the row: pages poll the row.
    data: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    step: Mapped[str] = mapped_column(sa.String(10), default="preview")  # IMPORT_STEPS
    state: Mapped[str] = mapped_column(sa.String(10), default="queued", index=True)  # IMPORT_STATES; the clock polls it
    # {"phase", "done", "total"} while it runs (on SQLite, see scheduler.ical.jobs.ProgressChannel).
    progress: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    result: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # the preview, or what the import changed
    errors: Mapped[list] = mapped_column(sa.JSON, default=list)  # located errors of a refused file
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the runner's last sign of life
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User")
    partner = relationship("Partner")
    place = relationship("Place")

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def state_label(self) -> str:
        return IMPORT_STATES.get(self.state, self.state)
