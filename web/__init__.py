"""The HTML pages: public pages, screen, widget, poster, coordination."""
from __future__ import annotations

from flask import Blueprint

from web import (
    accounts,
    attendance,
    auth,
    case_decisions,  # noqa: F401 (its routes join the coordination blueprint: a case's decisions)
    cases,
    deliveries,
    errors,
    events,
    feeds,
    legal,
    partners,
    places_map,
    public,
    reports,
    security,
    subscriptions,
    week,  # noqa: F401 (its route joins the coordination blueprint: the week grid)
)

bp = Blueprint("web", __name__)

# What rate limits may count by instead of the client address (extensions.create_limiter).
RATE_KEYS = {"account": auth.sign_in_account}


def init_app(app) -> None:
    errors.init_app(app)  # French error pages; the API's and feeds' stay JSON
    security.init_app(app)  # CSP, framing and the other security headers of every response
    app.register_blueprint(bp)
    auth.init_app(app)  # sign-in, sessions and CSRF for every page
    # /coordination: web/coordination.py's blueprint, with the routes web/cases.py (the dashboard,
    # a case's page and its decisions) and web/attendance.py (people received) add to it.
    assert attendance.bp is cases.bp
    app.register_blueprint(cases.bp)
    app.register_blueprint(reports.bp)  # /coordination/couverture, /coordination/bilan
    app.register_blueprint(events.bp)  # /coordination/evenements: the event form, its preview, cancel, duplicate
    app.register_blueprint(deliveries.bp)  # /coordination/envois: what was sent, failed, waits
    app.register_blueprint(accounts.bp)  # /coordination/comptes: deactivate accounts, revoke API tokens
    app.register_blueprint(legal.bp)  # personal data, legal notice, accessibility statement, favicon
    app.register_blueprint(places_map.bp)  # /carte: the places on a map, and their list beside it
    app.register_blueprint(partners.bp)  # /partenaires: who does what, where
    app.register_blueprint(public.bp)  # "/", quartiers, lieux, evenements, ecran, widget
    # One per app, not per process: tests run apps on different databases side by side.
    app.extensions["page_cache"] = public.PageCache()
    app.register_blueprint(feeds.bp)  # /agenda, private links, import, sync
    subscriptions.init_app(app)  # /abonnement: public email subscriptions
