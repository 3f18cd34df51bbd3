"""The public pages' blueprint: read-only requests, domain errors as French pages, the labels
their templates share. The pages themselves are in the modules beside this one."""
from __future__ import annotations

from flask import Blueprint, request

from models import db
from models.base import read_without_transaction
from models.errors import DomainError
from models.events import EVENT_KINDS
from web.errors import error_page

bp = Blueprint("public", __name__)


@bp.before_request
def _only_reading():
    if request.method in ("GET", "HEAD"):
        read_without_transaction()

# --- pages -------------------------------------------------------------------------------------

@bp.errorhandler(DomainError)
def domain_error(error: DomainError):
    db.session.rollback()
    return error_page(error.status, error.message)


@bp.app_template_global()
def kind_label(kind: str) -> str:
    return EVENT_KINDS.get(kind, kind)
