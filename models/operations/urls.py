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

import ipaddress
import socket
from urllib.parse import urlsplit

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
