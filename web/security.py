"""Security headers for every response, set in one place.

No page runs inline script (the screen's script is a file), so the policy needs no nonce and
cached pages stay valid. Only views marked `@framable` (the widget) may be framed by other sites.
"""
from __future__ import annotations

import re

from flask import current_app, request

_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: {tiles}; "
           "font-src 'self'; connect-src 'self'; worker-src 'self'; object-src 'none'; "
           "base-uri 'none'; form-action 'self'; frame-src 'self'; frame-ancestors {ancestors}")


_HSTS = "max-age=31536000; includeSubDomains"


def framable(view):
    """Marks a view that any site may show in an <iframe>."""
    view.is_framable = True
    return view


def _is_framable() -> bool:
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return getattr(view, "is_framable", False)


def _tiles_origin(config=None) -> str:
    """The map's tiles come from MAP_TILES_URL's server, the only image source besides ours."""
    scheme, rest = (config or current_app.config)["MAP_TILES_URL"].split("://", 1)
    host = rest.split("/", 1)[0]
    return f"{scheme}://{re.sub(r'{[a-z]}', '*', host)}"  # {s}.tile… -> *.tile… (a CSP wildcard)


def set_security_headers(response):
    framable_view = _is_framable()
    response.headers.setdefault("Content-Security-Policy",
                                _POLICY.format(ancestors="*" if framable_view else "'none'", tiles=_tiles_origin()))
    if not framable_view:
        response.headers.setdefault("X-Frame-Options", "DENY")  # browsers without CSP level 2
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if request.is_secure:  # also behind the proxy: ProxyFix (app.py) reads X-Forwarded-Proto
        response.headers.setdefault("Strict-Transport-Security", _HSTS)
    return response


def static_file_headers(config) -> dict[str, str]:
    """The headers of a static file (served by WhiteNoise, outside the app: extensions.py), as
    every response of the app carries them (a static file is never framable)."""
    return {"Content-Security-Policy": _POLICY.format(ancestors="'none'", tiles=_tiles_origin(config)),
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "strict-origin-when-cross-origin"}


def headers_outside_the_app(config):
    """What `set_security_headers` gives a response that is not framable, for the answers made in
    front of the app (feed polls from memory: api/feeds.py), as a function of the WSGI environ."""
    plain = list(static_file_headers(config).items())
    secure = [*plain, ("Strict-Transport-Security", _HSTS)]
    return lambda environ: secure if environ.get("wsgi.url_scheme") == "https" else plain


def init_app(app) -> None:
    app.after_request(set_security_headers)
