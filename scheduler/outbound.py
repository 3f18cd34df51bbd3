"""HTTP requests to other servers (calendar sync, partners' webhooks), to public addresses only.

The check is made on the address the socket actually connects to: the name is resolved once,
every address it gives is checked (`models.operations.urls.is_public_ip`), and the connection goes to one of
those very addresses, so a DNS answer that changes between the check and the connection
(rebinding) cannot slip a private address in. Redirects go through the same connection code,
and only to http(s) (no FTP, no file:). Proxies from the environment are not used: the check
would otherwise be made on the proxy's address.
"""
from __future__ import annotations

import http.client
import socket
import urllib.request
from functools import partial

from models.operations.urls import REFUSED, is_public_ip


class RefusedAddress(OSError):
    """The server's name resolves to a loopback, private, link-local or reserved address."""


def connect_public(address: tuple[str, int], timeout: object, source_address: tuple[str, int] | None = None, *,
                   allow_private: bool = False) -> socket.socket:
    """socket.create_connection, refusing names that resolve to any non-public address."""
    host, port = address
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not allow_private and any(not is_public_ip(str(info[4][0])) for info in infos):
        raise RefusedAddress(REFUSED)
    error: OSError | None = None
    for family, kind, proto, _, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            # http.client passes socket's "no timeout given" marker (an object, not a number) when
            # none was given: the socket keeps the default then.
            if timeout is None or isinstance(timeout, int | float):
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as failure:
            error = failure
            sock.close()
    raise error or OSError(f"aucune adresse pour {host}")


def _guarded(connection_class, allow_private: bool):
    class Guarded(connection_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            # http.client opens every connection (HTTPS included, before TLS) through this.
            self._create_connection = partial(connect_public, allow_private=allow_private)

    return Guarded


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, allow_private: bool):
        super().__init__()
        self.allow_private = allow_private

    def http_open(self, req):
        return self.do_open(_guarded(http.client.HTTPConnection, self.allow_private), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, allow_private: bool):
        super().__init__()
        self.allow_private = allow_private

    def https_open(self, req):
        return self.do_open(_guarded(http.client.HTTPSConnection, self.allow_private), req, context=self._context)


def open_url(request: urllib.request.Request, timeout: float, allow_private: bool = False):
    """urllib's urlopen for addresses partners give: http(s) only, public addresses only. Raises
    urllib.error.URLError (its `reason` a RefusedAddress when the address was refused) or
    HTTPError as urlopen does."""
    opener = urllib.request.OpenerDirector()
    for handler in (_HTTPHandler(allow_private), _HTTPSHandler(allow_private), urllib.request.HTTPRedirectHandler(),
                    urllib.request.HTTPDefaultErrorHandler(), urllib.request.HTTPErrorProcessor(),
                    urllib.request.UnknownHandler()):
        opener.add_handler(handler)
    return opener.open(request, timeout=timeout)


def failure_reason(error: OSError) -> str:
    """What to tell people about a failed request: the refusal itself, or the network's reason."""
    reason = getattr(error, "reason", error)
    return str(reason)
