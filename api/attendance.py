"""People received at an occurrence: a count, optionally split by age band, never names."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields

from api.auth import require_api_user
from api.schemas import BaseSchema
from models import db
from models.attendance import AGE_BANDS
from models.operations.events import event_by_id
from scheduler.reports.attendance import iso_z, record_attendance, recurrence_instant

blp = Blueprint("attendance", __name__, url_prefix="/api/v1", description="Personnes reçues")


class AttendanceSchema(BaseSchema):
    total = fields.Integer(required=True, metadata={"description": "personnes reçues"})
    by_age_band = fields.Dict(keys=fields.String(), values=fields.Integer(), load_default=None, allow_none=True,
                              metadata={"description": f"facultatif, par tranche d'âge : {', '.join(AGE_BANDS)}"})
    recurrence_id = fields.Method("_recurrence_id", dump_only=True)
    event_id = fields.Integer(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)

    def _recurrence_id(self, attendance) -> str:
        return iso_z(attendance.recurrence_start)


@blp.route("/events/<int:event_id>/occurrences/<recurrence_id>/attendance")
class OccurrenceAttendance(MethodView):
    @blp.arguments(AttendanceSchema)
    @blp.response(200, AttendanceSchema)
    def put(self, data, event_id, recurrence_id):
        """Noter les personnes reçues à une occurrence passée (nombres seulement)"""
        user, event = require_api_user(), event_by_id(event_id)
        attendance = record_attendance(user, event, recurrence_instant(recurrence_id), data["total"],
                                       data["by_age_band"])
        db.session.commit()
        return attendance
