"""A partner's reminder settings: when its people are reminded, and its own system's webhook."""
from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from api.auth import require_api_user
from api.schemas import BaseSchema, between, length
from models import db
from models.deliveries import DEFAULT_OFFSETS, MAX_DAYS_BEFORE
from models.operations.deliveries import set_reminder_settings, settings_for
from models.operations.partners import partner_by_slug, require_partner

blp = Blueprint("reminders", __name__, url_prefix="/api/v1", description="Rappels et webhooks des partenaires")


class ReminderOffsetSchema(BaseSchema):
    days_before = fields.Integer(required=True, validate=between(0, MAX_DAYS_BEFORE),
                                 metadata={"description": "jours avant la date de l'occurrence (0 = le jour même)"})
    at = fields.String(required=True,
                       validate=validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="Heure HH:MM attendue."),
                       metadata={"description": "heure locale du lieu, HH:MM"})


class ReminderSettingsSchema(BaseSchema):
    offsets = fields.List(fields.Nested(ReminderOffsetSchema),
                          validate=validate.Length(max=5, error="Au plus 5 rappels."),
                          metadata={"description": "vide : les rappels par défaut "
                                                   "(2 jours avant à 9:00, le jour même à 8:00)"})
    webhook_url = fields.URL(allow_none=True, schemes={"http", "https"}, validate=length(500))
    webhook_secret = fields.String(dump_only=True, allow_none=True, metadata={
        "description": "clé HMAC-SHA256 de l'en-tête X-Maillage-Signature (vide tant qu'aucun webhook n'est réglé)"})


def _visible(partner) -> dict:
    settings = settings_for(partner.id)
    offsets = [o.as_dict() for o in (settings.reminder_offsets if settings else DEFAULT_OFFSETS)]
    return {"offsets": offsets, "webhook_url": settings.webhook_url if settings else None,
            "webhook_secret": settings.webhook_secret if settings else None}


@blp.route("/partners/<slug>/reminder-settings")
class ReminderSettings(MethodView):
    @blp.response(200, ReminderSettingsSchema)
    def get(self, slug):
        """Réglages des rappels d'un partenaire"""
        user, partner = require_api_user(), partner_by_slug(slug)
        require_partner(user, partner)  # the webhook secret is in it
        return _visible(partner)

    @blp.arguments(ReminderSettingsSchema, required=False)  # no body: nothing changes
    @blp.response(200, ReminderSettingsSchema)
    def put(self, data, slug):
        """Modifier les rappels et le webhook d'un partenaire"""
        partner = partner_by_slug(slug)
        set_reminder_settings(require_api_user(), partner, data, current_app.config["ALLOW_PRIVATE_URLS"])
        db.session.commit()
        return _visible(partner)
