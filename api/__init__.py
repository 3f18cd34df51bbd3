"""The JSON API under /api/v1 (flask-smorest) and, later, the iCal feeds."""
from __future__ import annotations

import sqlalchemy as sa
from flask import render_template, request
from apispec.ext.marshmallow import MarshmallowPlugin
from flask_smorest import Api
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from api.auth import api_user
from models import db
from models.errors import DomainError, database_trouble

# Messages people read when nothing more precise was said.
_DEFAULT_MESSAGES = {
    400: "Requête invalide.",
    401: "Authentification requise.",
    403: "Vous n'avez pas le droit de faire cela.",
    404: "Introuvable.",
    405: "Méthode non autorisée sur cette adresse.",
    409: "Conflit avec l'état actuel.",
    415: "Type de contenu non pris en charge : envoyez du JSON.",
    422: "Données invalides : le détail est dans « errors ».",
    429: "Trop de requêtes : réessayez dans un instant.",
    500: "Erreur interne du serveur.",
    503: "Service momentanément indisponible : réessayez dans quelques secondes.",
}
JSON_PREFIXES = ("/api/", "/feeds/")


class MaillageApi(Api):
    def handle_http_exception(self, error: HTTPException):
        """The one JSON error shape for the API and feeds; pages keep their HTML errors."""
        if not request.path.startswith(JSON_PREFIXES):
            return error
        payload, code, headers = super().handle_http_exception(error)
        if code == 413:  # the import endpoints take more than the others (app.py, UPLOAD_ENDPOINTS)
            payload.setdefault("message", too_large_message())
        payload.setdefault("message", _DEFAULT_MESSAGES.get(code, error.description))
        payload.setdefault("errors", {})
        return payload, code, headers

    def _register_pagination_header(self):
        """X-Pagination carries JSON: OpenAPI 3 says so with `content`; flask-smorest's `schema`
        would promise the `simple` style (`total,3,page,1`), which clients would then misread."""
        from flask_smorest.pagination import PaginationMetadataSchema

        self.spec.components.header("PAGINATION", {
            "description": "Pagination metadata",
            "content": {"application/json": {"schema": PaginationMetadataSchema}},
        }, lazy=True)


def too_large_message() -> str:
    limit = request.max_content_length or 0
    return f"La requête est trop volumineuse ({limit / 1024 / 1024:.0f} Mo au plus)."


def domain_error_response(error: DomainError):
    """Domain errors raised by operations, mapped to 4xx in this one place."""
    db.session.rollback()  # a rejected write changes nothing
    payload = {"code": error.status, "status": HTTP_STATUS_CODES[error.status], "message": error.message,
               "errors": {"json": error.errors} if error.errors else {}}
    return payload, error.status


def database_error_response(error: sa.exc.DBAPIError):
    """The database down, restarting, read-only or full: 503 with a French message and
    Retry-After, the transaction rolled back (nothing half-written). Any other database error is
    a bug: 500. App-wide, for every request: the JSON shape on the API and feeds, a French page
    (templates/unavailable.html, which reads nothing from the database) everywhere else."""
    message = database_trouble(error)
    try:
        db.session.rollback()
    except sa.exc.SQLAlchemyError:
        db.session.remove()  # the connection is gone: drop the session with it
    if message is None:
        raise error
    headers = {"Retry-After": "5"}
    if request.path.startswith(JSON_PREFIXES):
        return {"code": 503, "status": HTTP_STATUS_CODES[503], "message": message, "errors": {}}, 503, headers
    return render_template("unavailable.html", message=message), 503, headers


def _schema_name(schema) -> str:
    """Component names: EventSchema -> Event, EventSchema(partial=True) -> EventPatch."""
    from apispec.ext.marshmallow.common import resolve_schema_cls

    name = resolve_schema_cls(schema).__name__.removesuffix("Schema")
    if getattr(schema, "partial", False) is True:
        name += "Patch"
    return name


def init_app(app) -> None:
    from api import conflicts, events, feeds, health, imports, occurrences, partners, reminders, territory

    app.config.setdefault("API_TITLE", "Maillage")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {
        "info": {"description": "Le calendrier partagé des partenaires de l'emploi des quartiers."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{}, {"bearer": []}],
    })
    api = MaillageApi(app, spec_kwargs={"marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=_schema_name)})
    # App-wide, so that it also serves the feeds; the pages' blueprint handles its own.
    app.register_error_handler(DomainError, domain_error_response)
    app.register_error_handler(sa.exc.DBAPIError, database_error_response)
    app.register_error_handler(conflicts.HardConflictsRefused, conflicts.refused_response)
    for module in (partners, territory, events, occurrences, imports, reminders, conflicts):
        api.register_blueprint(module.blp)
    # The occurrences' rate limit (RATELIMITS in app.py) is for anonymous callers; a wrong token is
    # refused (401) before any work, as it would be by the view.
    app.extensions.setdefault("maillage_rate_exempt", {})["occurrences"] = lambda: api_user() is not None
    app.register_blueprint(feeds.bp)  # text/calendar, outside the OpenAPI document
    health.init_app(app)  # /healthz, /metrics and the counting of every request
