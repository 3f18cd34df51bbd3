"""Every Flask extension Maillage uses, made here; `create_app` (app.py) starts them.

`db` is made in models/base.py, because the models are declared on it; it is only shown here.
Flask-SQLAlchemy, Flask-Migrate, Flask-Login and Flask-WTF keep what they know of an app in
`app.extensions`, so one object serves every app (tests make many). Flask-Limiter and
flask-smorest keep it on the object itself (the counters' storage and the limits; the app and its
OpenAPI document), so those are made once per app, by `create_limiter` and `create_api`.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

import limits
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api, abort
from flask_smorest.pagination import PaginationMetadataSchema
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from whitenoise import WhiteNoise

from models.base import db

__all__ = ["JSON_PREFIXES", "create_api", "create_limiter", "csrf", "db", "login_manager", "migrate",
           "serve_static_files"]

migrate = Migrate()
login_manager = LoginManager()  # the coordination pages' sign-in (web/auth.py)
csrf = CSRFProtect()  # checked by web/auth.py itself, so that the JSON API is left out


# --- the JSON API (flask-smorest) ---------------------------------------------------------------

# Where answers, errors included, are JSON (or iCal), not pages.
JSON_PREFIXES = ("/api/", "/feeds/")
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


class MaillageApi(Api):
    def handle_http_exception(self, error: HTTPException):
        """The one JSON error shape for the API and feeds; pages keep their HTML errors."""
        if not request.path.startswith(JSON_PREFIXES):
            return error
        payload, code, headers = super().handle_http_exception(error)
        if code == 413:  # the import endpoints take more than the others (settings.py, UPLOAD_ENDPOINTS)
            payload.setdefault("message", too_large_message())
        payload.setdefault("message", _DEFAULT_MESSAGES.get(code, error.description))
        payload.setdefault("errors", {})
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            # What the address does take (RFC 9110): werkzeug's own answer says it, the JSON one must too.
            headers = {**(headers or {}), "Allow": ", ".join(sorted(error.valid_methods))}
        return payload, code, headers

    def _register_pagination_header(self):
        """X-Pagination carries JSON: OpenAPI 3 says so with `content`; flask-smorest's `schema`
        would promise the `simple` style (`total,3,page,1`), which clients would then misread."""
        self.spec.components.header("PAGINATION", {
            "description": "Pagination metadata",
            "content": {"application/json": {"schema": PaginationMetadataSchema}},
        }, lazy=True)


def too_large_message() -> str:
    limit = request.max_content_length or 0
    return f"La requête est trop volumineuse ({limit / 1024 / 1024:.0f} Mo au plus)."


def _schema_name(schema) -> str:
    """Component names: EventSchema -> Event, EventSchema(partial=True) -> EventPatch."""
    name = resolve_schema_cls(schema).__name__.removesuffix("Schema")
    if getattr(schema, "partial", False) is True:
        name += "Patch"
    return name


def create_api(app: Flask) -> MaillageApi:
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
    return MaillageApi(app, spec_kwargs={"marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=_schema_name)})


# --- rate limits (Flask-Limiter) ----------------------------------------------------------------

# Blueprints whose limit is counted by batches (BatchedLimit): the feeds, polled by every
# subscribed calendar, most of all traffic.
BATCHED = ("feeds",)


class BatchedLimit:
    """A limit per client address, counted in this process and sent to the limiter's storage (its
    memory, or Redis shared by every process) one batch at a time: a feed poll costs a counter
    in a dict, not a storage round trip and Flask-Limiter's resolution of limits (a third of a
    304's time, measured by bench/polls.py's profile). A batch is a 30th of the limit (300 a
    minute: 10), one request for small limits, so that a client gets at most a batch per
    process more or less than the limit; once refused, an address is refused by this process
    without asking the storage until the window ends."""

    def __init__(self, limiter: Limiter, name: str, rate: str):
        self.limiter, self.name = limiter, name
        self.items = limits.parse_many(rate)
        self.batch = max(1, min(item.amount for item in self.items) // 30)
        self.period = min(item.get_expiry() for item in self.items)
        self.window = -1
        self.unsent: dict[str, int] = {}
        self.refused: dict[str, float] = {}  # address -> refused until (time.time())
        self.lock = threading.Lock()

    def check(self) -> None:
        refused = self.count(get_remote_address())
        if refused is not None:
            self._refuse(refused)

    def allows(self, address: str) -> bool:
        """Counts a request of this address; False: refused (the app's own check then answers
        the 429, without counting it twice: the address is refused in memory)."""
        return self.count(address) is None

    def count(self, address: str) -> float | None:
        """Counts a request; the seconds to wait when it is refused, else None."""
        now = time.time()
        with self.lock:
            window = int(now // self.period)
            if window != self.window:  # what was not sent of the last window is forgotten with it
                self.window, self.unsent = window, {}
                self.refused = {a: until for a, until in self.refused.items() if until > now}
            until = self.refused.get(address)
            if until is not None:
                return until - now
            count = self.unsent.get(address, 0) + 1
            if count < self.batch:
                self.unsent[address] = count
                return None
            self.unsent[address] = 0
        strategy = self.limiter.limiter
        # RATELIMIT_KEY_PREFIX as Flask-Limiter's own keys have it (apps sharing one Redis).
        key = [k for k in (self.limiter._key_prefix, "batched", self.name, address) if k]
        for item in self.items:
            if not strategy.hit(item, *key, cost=count):
                reset = strategy.get_window_stats(item, *key).reset_time
                with self.lock:
                    self.refused[address] = max(reset, now + 1)
                return reset - now
        return None

    @staticmethod
    def _refuse(wait: float):
        abort(429, headers={"Retry-After": str(max(1, int(wait + 0.999)))})


def create_limiter(app: Flask, exempt: dict[str, Callable[[], bool]],
                   keys: dict[str, Callable[[], str]] | None = None) -> Limiter:
    """Applies RATELIMITS (endpoint or blueprint name -> limit), so after every blueprint is
    registered; only POSTs count on page endpoints (showing the sign-in form is free, trying a
    password is not). `exempt`: by name, who a limit does not hold back. A name `endpoint/key`
    counts by `keys[key]` instead of the client address (sign-in attempts per account). The
    blueprints of BATCHED are limited by a BatchedLimit, and Flask-Limiter's own check of each
    request leaves them alone."""
    limiter = Limiter(get_remote_address, app=app)
    check_every_request = limiter._check_request_limit
    hooks = app.before_request_funcs[None]

    def check_unless_batched():
        if request.blueprint not in BATCHED:
            check_every_request()

    hooks[hooks.index(check_every_request)] = check_unless_batched

    @app.after_request
    def retry_after(response):
        if response.status_code == 429 and "Retry-After" not in response.headers:
            limit = limiter.current_limit
            wait = int(limit.reset_at - time.time()) if limit else 60
            response.headers["Retry-After"] = str(max(1, wait))
        return response

    for name, rate in app.config["RATELIMITS"].items():
        target, _, key = name.partition("/")
        key_func = (keys or {})[key] if key else None
        if target in BATCHED and not key and target not in exempt:
            batched = app.extensions.setdefault("batched_limits", {})[target] = BatchedLimit(limiter, target, rate)
            app.before_request_funcs.setdefault(target, []).append(batched.check)
        elif target in app.blueprints:
            limiter.limit(rate, key_func=key_func, exempt_when=exempt.get(name))(app.blueprints[target])
        elif target in app.view_functions:
            methods = ["POST"] if "POST" in next(app.url_map.iter_rules(target)).methods else None
            app.view_functions[target] = limiter.limit(rate, key_func=key_func, methods=methods,
                                                       exempt_when=exempt.get(name))(app.view_functions[target])
    return limiter


# --- static files (WhiteNoise) ----------------------------------------------------------------

def serve_static_files(app: Flask, headers: dict[str, str]) -> None:
    """`/static/` served in front of the app, without its hooks (session, limits, metrics): a
    file asked again costs a lookup and a 304. `headers`: added to each file (the security
    headers the app's responses carry). A file added after the start (npm's vendor files) is
    not known to WhiteNoise and goes on to Flask's own static route."""
    assert app.static_folder and app.static_url_path

    def add_headers(found, path: str, url: str) -> None:
        for name, value in headers.items():
            found[name] = value

    app.wsgi_app = WhiteNoise(app.wsgi_app, root=app.static_folder, prefix=app.static_url_path,  # type: ignore[method-assign]
                              add_headers_function=add_headers, allow_all_origins=False)
