"""The coordinators' reports: coverage of the quartiers (/coordination/couverture) and the review
(/coordination/bilan), as pages with their charts beside their tables, and as files (CSV, XLSX,
PDF) to hand out. The figures come from `scheduler.reports`; these views parse and render."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, render_template, request
from weasyprint import HTML

from models import Quartier, db
from models.errors import DomainError
from models.partners import PARTNER_TYPES
from scheduler.reports import charts
from scheduler.reports.coverage import DEFAULT_WATCHED_TYPES, Territory, coverage, territory_for
from scheduler.reports.review import review
from scheduler.reports.tables import coverage_tables, period_label, review_tables, to_csv, to_xlsx
from scheduler.time.calendar import in_calendar
from web.auth import coordinator_required, current_user

bp = Blueprint("reports", __name__, url_prefix="/coordination")


@bp.app_template_filter("french_number")
def french_number(value) -> str:
    """12.5 -> "12,5"; 1234 -> "1 234" (narrow no-break space)."""
    text = f"{value:,}".replace(",", "\u202f").replace(".", ",")
    return text[:-2] if text.endswith(",0") else text


def _period() -> tuple[date, date, datetime, datetime]:
    """The days asked (`du`, `au`, both included; the current month by default) and the window
    they make on the wall clock of the default zone."""
    zone = ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])
    today = datetime.now(zone).date()
    try:
        first = date.fromisoformat(request.args["du"]) if request.args.get("du") else today.replace(day=1)
        last = date.fromisoformat(request.args["au"]) if request.args.get("au") else (
            (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1))
    except ValueError:
        abort(400, "Indiquez les dates de la période au format AAAA-MM-JJ.")
    if not (in_calendar(first) and in_calendar(last)):
        abort(400, "Les dates vont de 1970 à 2199.")
    if last < first:
        abort(400, "La fin de la période est avant son début.")
    return first, last, datetime.combine(first, time(), zone), datetime.combine(last + timedelta(days=1), time(), zone)


def _territory() -> Territory:
    codes = [c for c in request.args.getlist("quartier") if c]
    try:
        return territory_for(current_user, codes, request.args.get("departement") or None)
    except DomainError as error:
        abort(error.status, error.message)


def _coverage():
    first, last, start, end = _period()
    watched = [t for t in request.args.getlist("type") if t in PARTNER_TYPES] or list(DEFAULT_WATCHED_TYPES)
    try:
        report = coverage(start, end, _territory(), watched)
    except DomainError as error:
        abort(error.status, error.message)
    return first, last, report


def _download(content: bytes, mimetype: str, name: str) -> Response:
    return Response(content, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/couverture")
@coordinator_required
def coverage_page():
    """Hours of presence per quartier, zones blanches, and when nobody is there."""
    first, last, report = _coverage()
    tables = {t.key: t for t in coverage_tables(report)}
    return render_template(
        "coordination/coverage.html", report=report, tables=tables, first=first, last=last,
        period=period_label(report), quartiers=list(current_user.quartiers) or _all_quartiers(),
        chosen=request.args.getlist("quartier"), department=request.args.get("departement", ""),
        partner_types=PARTNER_TYPES, watched=report.watched_types,
        charts={"quartiers": charts.data_uri(charts.quartier_hours_chart(report)),
                "kinds": charts.data_uri(charts.kind_hours_chart(report)),
                "heatmap": charts.data_uri(charts.heatmap_chart(report))},
        heat_hours=charts.heatmap_hours(report), query=request.args.to_dict(flat=False))


@bp.get("/couverture.csv")
@coordinator_required
def coverage_csv():
    first, last, report = _coverage()
    tables = {t.key: t for t in coverage_tables(report)}
    table = tables.get(request.args.get("tableau", "quartiers")) or abort(404)
    return _download(to_csv(table), "text/csv; charset=utf-8", f"couverture-{table.key}-{first}-{last}.csv")


@bp.get("/couverture.xlsx")
@coordinator_required
def coverage_xlsx():
    first, last, report = _coverage()
    return _download(to_xlsx(coverage_tables(report), period_label(report)),
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     f"couverture-{first}-{last}.xlsx")


def _all_quartiers() -> list[Quartier]:
    return list(db.session.scalars(sa.select(Quartier).order_by(Quartier.code)))


def _review():
    first, last, start, end = _period()
    try:
        report = review(start, end, _territory())
    except DomainError as error:
        abort(error.status, error.message)
    return first, last, report


def _review_context(first, last, report) -> dict:
    return {"report": report, "tables": {t.key: t for t in review_tables(report)}, "first": first, "last": last,
            "period": period_label(report),
            "charts": {"sessions": charts.data_uri(charts.review_sessions_chart(report)),
                       "people": charts.data_uri(charts.review_people_chart(report))}}


@bp.get("/bilan")
@coordinator_required
def review_page():
    """The review of a period: per action and per quartier."""
    first, last, report = _review()
    return render_template("coordination/review.html", **_review_context(first, last, report),
                           quartiers=list(current_user.quartiers) or _all_quartiers(),
                           chosen=request.args.getlist("quartier"), department=request.args.get("departement", ""),
                           query=request.args.to_dict(flat=False))


@bp.get("/bilan.pdf")
@coordinator_required
def review_pdf():
    """The review to hand out at the partners' meeting: A4, charts included."""
    first, last, report = _review()
    html = render_template("coordination/review_pdf.html", **_review_context(first, last, report))
    return _download(HTML(string=html, base_url=request.url_root).write_pdf(), "application/pdf",
                     f"bilan-{first}-{last}.pdf")


@bp.get("/bilan.xlsx")
@coordinator_required
def review_xlsx():
    first, last, report = _review()
    return _download(to_xlsx(review_tables(report), period_label(report)),
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", f"bilan-{first}-{last}.xlsx")
