"""Who does what, where: the public directory of partners (/partenaires) and each partner's page
(/partenaires/<slug>): its kind, what it offers, how to reach it, where and when it is present
in the coming weeks, its feed. The guide's "cartographie des acteurs"."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, abort, render_template, request

from models import Event, Quartier, db
from models.errors import NotFound
from models.events import event_organisers
from models.operations.partners import partner_by_slug, partners_directory
from models.partners import PARTNER_TYPES
from scheduler.french import day_label, rule_phrase
from scheduler.time.calendar import CalendarFilter, occurrences_between
from web.event_details import safe_url
from web.public.listing import by_day, day_window, feed_links, occurrence_rows, requested_start_day

bp = Blueprint("partners_pages", __name__)

PARTNER_DAYS = 28


@bp.get("/partenaires")
def directory():
    """Every partner, filtered by quartier, kind, SPE or not."""
    code = request.args.get("quartier") or None
    kind = request.args.get("type") if request.args.get("type") in PARTNER_TYPES else None
    spe = {"1": True, "0": False}.get(request.args.get("spe", ""))
    quartiers = list(db.session.scalars(sa.select(Quartier).order_by(Quartier.name)))
    known = {q.code for q in quartiers}
    partners = partners_directory(code if code in known else None, kind, spe)
    return render_template("public/partners.html", partners=partners, quartiers=quartiers, quartier=code,
                           kind=kind, spe=request.args.get("spe", ""), types=PARTNER_TYPES)


@bp.get("/partenaires/<slug>")
def partner(slug: str):
    """One partner: its offer, contacts, where and when it is present, its feed."""
    try:
        p = partner_by_slug(slug)
    except NotFound:
        abort(404, f"Partenaire inconnu : {slug}.")
    first_day = requested_start_day()
    start, end = day_window(first_day, PARTNER_DAYS)
    rows = occurrence_rows(occurrences_between(CalendarFilter(partner=p.slug), start, end))
    series = list(db.session.scalars(
        sa.select(Event).join(event_organisers, event_organisers.c.event_id == Event.id)
        .where(event_organisers.c.partner_id == p.id, Event.visibility == "public", Event.status != "cancelled",
               sa.or_(Event.last_date.is_(None), Event.last_date >= first_day))
        .order_by(Event.kind, Event.title)))
    places = {r["place"].id: r["place"] for r in rows if not r["is_cancelled"]}
    return render_template(
        "public/partner.html", partner=p, website=safe_url(p.website), days=by_day(rows),
        offer=[{"event": e, "rule": rule_phrase(e)} for e in series], places=list(places.values()),
        weeks=PARTNER_DAYS // 7, first_day_label=day_label(first_day),
        last_day_label=day_label(first_day + timedelta(days=PARTNER_DAYS - 1)),
        feeds=feed_links(f"/feeds/partners/{p.slug}.ics"))
