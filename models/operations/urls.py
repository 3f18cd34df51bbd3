"""Addresses of other servers that Maillage fetches (synced calendars) or posts to (partners'
webhooks): public Internet addresses only.

Whoever may edit a partner chooses these URLs, and Maillage's own machine would request them:
without this rule a partner could make it read 127.0.0.1 (its own admin ports, Redis), the
private network behind it, or the cloud metadata service (169.254.169.254), and read the
answer back on the sync page. The rule is checked when the URL is saved (here) and again on
the address actually connected to, after DNS resolution and at every redirect
(`scheduler.outbound`), since a name may resolve elsewhere later. `ALLOW_PRIVATE_URLS` lifts it
(tests serving calendars from 127.0.0.1, a development machine).
"""
from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import urllib.request
from urllib.parse import urlsplit, urlunsplit

from models.errors import InvalidInput

REFUSED = ("Cette adresse mène à la machine de Maillage ou à un réseau privé (localhost, 127.x, 10.x, "
           "172.16-31.x, 192.168.x, 169.254.x, fc00::/7…) : Maillage ne s'y connecte pas. "
           "Donnez une adresse publique.")


def is_public_ip(address: str) -> bool:
    """Only addresses of the public Internet: no loopback, private, link-local, shared (CGNAT),
    reserved or multicast range, including IPv4 written inside IPv6 (::ffff:127.0.0.1)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 scope (fe80::1%eth0) names no other host
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolves_to_private(host: str, port: int) -> bool:
    """Whether any address the name resolves to is not public. Resolution itself can fail: the
    caller decides what that means."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return any(not is_public_ip(str(info[4][0])) for info in infos)


def refuse_private_address(url: str, field: str, allow_private: bool = False) -> None:
    """Raises InvalidInput (French) when the URL's host is, or resolves to, a non-public address.
    A name that does not resolve today is accepted: the fetch checks again before connecting."""
    if allow_private:
        return
    parts = urlsplit(url)
    try:
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        host, port = None, 0
    if not host:
        raise InvalidInput("Adresse invalide : le nom du serveur manque ou le port est incorrect.",
                           {field: ["Adresse invalide."]})
    try:
        private = resolves_to_private(host, port)
    except (OSError, UnicodeError, ValueError):
        return
    if private:
        raise InvalidInput(REFUSED, {field: ["Adresse locale ou privée refusée."]})


# What a URL may hold as written (RFC 3986): anything else (a space, a backslash, a control
# character, a letter with an accent) is read differently by different parsers, and the parser
# that checks the address must be the one that connects. `http://127.0.0.1:5103\@evil.example/`
# names evil.example to urlsplit and 127.0.0.1 to http.client.
_URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?")
_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+")
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_LENGTH = 1000  # the longest column that keeps one (a sync source's)


def _invalid(field: str, reason: str) -> InvalidInput:
    return InvalidInput(f"Adresse invalide : {reason}.", {field: [f"Adresse invalide : {reason}."]})


def normalised_url(url: str, field: str) -> str:
    """An http(s) address as it will be requested, checked strictly when it is saved: characters
    of RFC 3986 only, no user name or password, a host name or IP address, a port that is a
    number; the scheme and host in lower case, the default port and the fragment (never sent)
    left out. Raises InvalidInput (French) on anything the HTTP client would read otherwise."""
    text = (url or "").strip()
    if len(text) > MAX_URL_LENGTH:
        raise _invalid(field, f"au plus {MAX_URL_LENGTH} caractères")
    if not _URL_CHARACTERS.fullmatch(text):
        bad = next(c for c in text if not _URL_CHARACTERS.fullmatch(c))
        shown = repr(bad) if not bad.isprintable() or bad.isspace() else f"« {bad} »"
        raise _invalid(field, f"caractère {shown} interdit (espaces, barres obliques inverses, accents et "
                              "caractères de contrôle s'écrivent encodés en %XX)")
    if _BAD_ESCAPE.search(text):
        raise _invalid(field, "un % doit être suivi de deux chiffres hexadécimaux")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise _invalid(field, "elle doit commencer par https:// ou http://")
    if "@" in parts.netloc:
        raise _invalid(field, "un nom d'utilisateur ou un mot de passe (…@) ne va pas dans l'adresse")
    try:
        port = parts.port
    except ValueError:
        raise _invalid(field, "le port doit être un nombre de 1 à 65535") from None
    host = (parts.hostname or "").lower()
    if port == 0 or (parts.netloc.endswith(":") and port is None):
        raise _invalid(field, "le port doit être un nombre de 1 à 65535")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not _HOST_NAME.fullmatch(host) or "[" in parts.netloc:
            raise _invalid(field, "le nom du serveur manque ou est mal écrit") from None
        if _NUMERIC_LABEL.fullmatch(host.rstrip(".").rsplit(".", 1)[-1]):
            # 127.1, 0x7f.1, 2130706433: IPv4 in the short forms that inet_aton reads, and no name.
            raise _invalid(field, "adresse IP incomplète : écrivez-la en entier (exemple : 192.0.2.10)") from None
        netloc_host = host
    else:
        netloc_host = f"[{address.compressed}]" if address.version == 6 else address.compressed
    port = None if port == DEFAULT_PORTS[scheme] else port
    netloc = netloc_host if port is None else f"{netloc_host}:{port}"
    normal = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    # The HTTP client's own reading must name the same server (urllib for the Host, http.client
    # for the connection; its default port, 80, stands for the scheme's): whatever they would
    # disagree on was refused above, and this says so.
    try:
        connection = http.client.HTTPConnection(urllib.request.Request(normal).host)
    except (ValueError, http.client.HTTPException):
        raise _invalid(field, "le serveur ou le port est mal écrit") from None
    if (connection.host.lower(), connection.port) != (netloc_host.strip("[]"), port or http.client.HTTP_PORT):
        raise _invalid(field, "le serveur ou le port est mal écrit")
    return normal


def outbound_url(url: str, field: str, allow_private: bool = False) -> str:
    """An address Maillage will request (a synced calendar, a webhook): normalised strictly
    (`normalised_url`) and to a public server (`refuse_private_address`)."""
    normal = normalised_url(url, field)
    refuse_private_address(normal, field, allow_private)
    return normal
