"""The widget other sites embed (an iframe that gives its height to the host page), its look
(theme, readable accent) and the builder that writes its code."""
from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, render_template, request, url_for

from models import Partner, Place, db
from models.operations.partners import partner_by_slug
from models.operations.territory import place_by_slug, quartier_by_code
from models.versions import (
    partner_scope,
    place_scope,
    quartier_scope,
)
from scheduler.time.calendar import (
    CalendarFilter,
    occurrences_between,
)
from web.public.blueprint import bp
from web.public.cache import cached_html
from web.public.listing import Filters, absolute_url, by_day, day_window, local_today, occurrence_rows, quartier_choices
from web.security import framable

# --- widget --------------------------------------------------------------------------------------

WIDGET_DAYS = 14
WIDGET_LIMIT = 12


class WidgetLook:
    """`?theme=sombre` and `?accent=RRGGBB` of a widget's address. An accent that would not be
    readable on the theme's background (contrast under 4.5:1, WCAG AA) is not used."""

    BACKGROUNDS = {"clair": "ffffff", "sombre": "111111"}

    def __init__(self, args):
        self.theme = args.get("theme") if args.get("theme") in self.BACKGROUNDS else "clair"
        accent = (args.get("accent") or "").strip().lstrip("#").lower()
        valid = len(accent) == 6 and all(c in "0123456789abcdef" for c in accent)
        self.accent = accent if valid and contrast(accent, self.BACKGROUNDS[self.theme]) >= 4.5 else None

    def query(self) -> dict:
        return {k: v for k, v in (("theme", self.theme if self.theme != "clair" else None),
                                  ("accent", self.accent)) if v}

    def key(self) -> tuple:
        return (self.theme, self.accent)


def contrast(hex_a: str, hex_b: str) -> float:
    """WCAG contrast ratio of two sRGB colours written RRGGBB."""
    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    lighter, darker = sorted((luminance(hex_a), luminance(hex_b)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _widget(scope_label: str, f: CalendarFilter, page_url: str, scope: str, key: tuple):
    first_day = local_today()
    look = WidgetLook(request.args)

    def build():
        start, end = day_window(first_day, WIDGET_DAYS)
        rows = occurrence_rows(occurrences_between(f, start, end))
        return render_template("public/widget.html", scope_label=scope_label, days=by_day(rows[:WIDGET_LIMIT]),
                               more=max(0, len(rows) - WIDGET_LIMIT), page_url=page_url, look=look)

    return cached_html((scope,), (*key, look.key()), build)


@bp.get("/widget/lieux/<slug>")
@framable
def widget_place(slug: str):
    filters = Filters(request.args)
    p = place_by_slug(slug)
    return _widget(p.name, filters.calendar_filter(place=p.slug), absolute_url("public.place", slug=p.slug),
                   place_scope(p.slug), (slug, filters.key()))


@bp.get("/widget/quartiers/<code>")
@framable
def widget_quartier(code: str):
    filters = Filters(request.args)
    q = quartier_by_code(code)
    return _widget(q.name, filters.calendar_filter(quartier=q.code),
                   absolute_url("public.quartier", code=q.code), quartier_scope(q.code), (code, filters.key()))


@bp.get("/widget/partenaires/<slug>")
@framable
def widget_partner(slug: str):
    filters = Filters(request.args)
    p = partner_by_slug(slug)
    return _widget(p.name, filters.calendar_filter(partner=p.slug), absolute_url("public.home"),
                   partner_scope(p.slug), (slug, filters.key()))


@bp.get("/widget/")
def widget_snippet():
    """Builds the <iframe> code for a place, quartier or partner, with filters."""
    filters = Filters(request.args)
    look = WidgetLook(request.args)
    scope = request.args.get("portee", "")
    src = preview = None
    kind_name, _, key = scope.partition(":")
    if key:
        endpoint = {"lieu": "public.widget_place", "quartier": "public.widget_quartier",
                    "partenaire": "public.widget_partner"}.get(kind_name)
        if endpoint:
            arg = {"public.widget_quartier": "code"}.get(endpoint, "slug")
            preview = url_for(endpoint, **{arg: key}, **filters.query(), **look.query())
            src = current_app.config["BASE_URL"] + preview
    base = urlsplit(current_app.config["BASE_URL"])
    snippet = render_template("public/widget_code.txt", src=src, origin=f"{base.scheme}://{base.netloc}") \
        if src else None
    # The light default, left as it was when choosing the dark theme, is no choice to warn about.
    given = (request.args.get("accent") or "").lstrip("#").lower()
    accent_refused = given not in ("", "0b3d91") and look.accent is None
    places = db.session.execute(sa.select(Place.slug, Place.name).order_by(Place.name)).all()
    quartiers = quartier_choices()
    partners = db.session.execute(sa.select(Partner.slug, Partner.name).order_by(Partner.name)).all()
    return render_template("public/widget_snippet.html", snippet=snippet, preview=preview, scope=scope, filters=filters,
                           places=places, quartiers=quartiers, partners=partners, look=look,
                           accent_refused=accent_refused)


