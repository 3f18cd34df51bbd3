"""Coverage of the quartiers over a period: hours of presence per kind of partner and of event,
zones blanches, the weekday × hour distribution. For coordinators, over their territory."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import ValidationError, fields, validate, validates_schema

from api.auth import require_api_user
from api.occurrences import InstantOrDate
from api.schemas import BaseSchema, one_of
from models.partners import PARTNER_TYPES
from scheduler.reports.coverage import DEFAULT_WATCHED_TYPES, coverage, hours, territory_for

blp = Blueprint("coverage", __name__, url_prefix="/api/v1", description="Couverture des quartiers")

DEFAULT_WINDOW_DAYS = 30


class CoverageQueryArgsSchema(BaseSchema):
    start = InstantOrDate(metadata={"description": "début de la période (par défaut : aujourd'hui)"})
    end = InstantOrDate(metadata={"description": f"fin, exclue (par défaut : {DEFAULT_WINDOW_DAYS} jours après "
                                                "le début ; au plus 400 jours)"})
    quartier = fields.List(fields.String(validate=validate.Length(max=20)), load_default=list,
                           metadata={"description": "codes de QPV, répétables (par défaut : votre territoire)"})
    department = fields.String(validate=validate.Regexp(r"^(\d{2}|2A|2B|97\d)$", error="Numéro de département "
                                                                                        "(exemple : 38, 974)."))
    partner_type = fields.List(fields.String(validate=one_of(PARTNER_TYPES)), load_default=list,
                               metadata={"description": "types de partenaire dont l'absence fait une zone blanche "
                                                        f"(par défaut : {', '.join(DEFAULT_WATCHED_TYPES)})"})

    @validates_schema
    def check_window(self, data, **kwargs):
        if "start" in data and "end" in data and data["end"] <= data["start"]:
            raise ValidationError("La fin de la période est avant son début.", "end")


class QuartierCoverageSchema(BaseSchema):
    code = fields.String()
    name = fields.String()
    department = fields.String(allow_none=True)
    sessions = fields.Integer(metadata={"description": "occurrences tenues (non annulées)"})
    hours = fields.Float()
    by_partner_type = fields.Dict(keys=fields.String(), values=fields.Float(), metadata={"description": "heures"})
    by_kind = fields.Dict(keys=fields.String(), values=fields.Float(), metadata={"description": "heures"})


class CoverageSchema(BaseSchema):
    start = fields.String()
    end = fields.String()
    hours = fields.Float()
    sessions = fields.Integer()
    quartiers = fields.List(fields.Nested(QuartierCoverageSchema))
    watched_partner_types = fields.List(fields.String())
    white_zones = fields.List(fields.Dict(), metadata={"description": "{quartier, partner_type} sans présence"})
    heatmap = fields.List(fields.List(fields.Float()), metadata={
        "description": "7 jours (lundi d'abord) × 24 heures de l'heure locale : heures de présence"})


@blp.route("/coverage")
class CoverageView(MethodView):
    @blp.arguments(CoverageQueryArgsSchema, location="query")
    @blp.response(200, CoverageSchema)
    def get(self, args):
        """Couverture des quartiers : heures de présence, zones blanches, jours et heures"""
        user = require_api_user()
        zone = ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])
        start = args.get("start") or datetime.combine(datetime.now(zone).date(), time(), zone)
        end = args.get("end") or start + timedelta(days=DEFAULT_WINDOW_DAYS)
        territory = territory_for(user, args["quartier"], args.get("department"))
        report = coverage(start, end, territory, args["partner_type"] or DEFAULT_WATCHED_TYPES)
        return {
            "start": start.isoformat(), "end": end.isoformat(), "hours": hours(report.seconds),
            "sessions": report.sessions, "watched_partner_types": list(report.watched_types),
            "quartiers": [{"code": q.code, "name": q.name, "department": q.department, "sessions": q.sessions,
                           "hours": q.hours,
                           "by_partner_type": {t: hours(s) for t, s in q.by_partner_type.items()},
                           "by_kind": {k: hours(s) for k, s in q.by_kind.items()}} for q in report.quartiers],
            "white_zones": [{"quartier": q.code, "partner_type": t} for q, t in report.white_zones],
            "heatmap": [[hours(s) for s in day] for day in report.heatmap],
        }
