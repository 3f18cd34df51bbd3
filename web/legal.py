"""The pages every public service owes its visitors, linked from every footer: personal data
(what /abonnement keeps), the legal notice and the accessibility statement, their names and
addresses from the settings (LEGAL_*, DATA_CONTROLLER, CONTACT_EMAIL); and the favicon."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template

from models.operations.subscriptions import (
    DELIVERY_RECORD_DAYS,
    UNCONFIRMED_KEPT_DAYS,
    UNSUBSCRIBED_KEPT_DAYS,
)

bp = Blueprint("legal", __name__)

# What the accessibility statement says was measured, and how: tests/test_public_browser.py runs
# axe-core on each of these pages at a phone's and a desktop's width and fails on any serious or
# critical violation, as do tests/test_map_browser.py on the map and tests/test_subscription_browser.py
# on each page of an email subscription (tests/test_error_and_legal_pages.py checks this list against
# theirs).
AXE_VERSION = "4.12"
CHECKED_PAGES = (
    ("Accueil : le programme de la semaine, la recherche et « autour de moi »", "home"),
    ("Carte des lieux, avec leur liste à côté", "map"),
    ("Page d'un quartier", "quartier"),
    ("Page d'un lieu", "place"),
    ("Page d'un événement", "event"),
    ("Écran d'accueil (hall)", "screen"),
    ("Cadre à intégrer (widget) et sa page de code", "widget"),
    ("Les partenaires, et la page de chacun avec ses rendez-vous", "partners"),
    ("S'abonner à un agenda, recevoir des rappels par courriel (le formulaire, sa confirmation, le désabonnement)",
     "subscribe"),
    ("Pages d'erreur, données personnelles, mentions légales, cette déclaration", "legal"),
)


@bp.get("/donnees-personnelles")
def privacy():
    return render_template("legal/privacy.html", unconfirmed_days=UNCONFIRMED_KEPT_DAYS,
                           unsubscribed_days=UNSUBSCRIBED_KEPT_DAYS, record_days=DELIVERY_RECORD_DAYS)


@bp.get("/mentions-legales")
def legal_notice():
    return render_template("legal/notice.html")


@bp.get("/accessibilite")
def accessibility():
    return render_template("legal/accessibility.html", checked_pages=CHECKED_PAGES, axe_version=AXE_VERSION)


@bp.get("/favicon.ico")
def favicon():
    # Browsers ask for /favicon.ico whatever the page says: the answer is the same icon, cached.
    return current_app.send_static_file("favicon.ico")
