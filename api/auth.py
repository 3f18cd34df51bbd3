"""Who is calling the API: a Bearer token, or nobody (public reads)."""
from __future__ import annotations

from flask import request
from flask_smorest import abort

from models.operations.users import user_for_token
from models.users import User

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="maillage"'}


def api_user() -> User | None:
    """The user of the request's token; a token that is given but wrong is refused outright."""
    # Kept on the request itself: `g` lives as long as the app context, which tests share.
    if "maillage.api_user" not in request.environ:
        header = request.headers.get("Authorization", "")
        user = None
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                abort(401, message="En-tête Authorization attendu : « Bearer <jeton> ».", headers=_CHALLENGE)
            user = user_for_token(token.strip())
            if user is None:
                abort(401, message="Jeton d'API invalide ou révoqué.", headers=_CHALLENGE)
        request.environ["maillage.api_user"] = user
    return request.environ["maillage.api_user"]


def require_api_user() -> User:
    user = api_user()
    if user is None:
        abort(401, message="Authentification requise : envoyez « Authorization: Bearer <jeton> ».",
              headers=_CHALLENGE)
    return user


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def authenticate_writes() -> None:
    """Every write of the API needs a token, checked before its body is read: an anonymous caller
    gets 401, never the field-by-field errors of a 422 that would tell it what a valid body is."""
    # A route that does not exist or does not take this method keeps its 404 or 405.
    if request.routing_exception is None and request.method in WRITE_METHODS and request.path.startswith("/api/v1/"):
        require_api_user()
