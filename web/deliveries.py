"""`/coordination/envois`: what Maillage sent, what failed, what is waiting (coordinators)."""
from __future__ import annotations

from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, current_app, render_template, request
from flask_login import current_user

from models import Event, db
from models.deliveries import STATES
from models.operations.deliveries import deliveries_by_state, delivery_counts
from scheduler.french import french_datetime
from web.auth import coordinator_required

bp = Blueprint("deliveries", __name__, url_prefix="/coordination/envois")


@bp.get("/")
@coordinator_required
def index():
    state = request.args.get("etat")
    if state not in STATES:
        state = None
    rows = deliveries_by_state(current_user, state, limit=200)
    event_ids = {d.event_id for d in rows if d.event_id}
    titles = dict(db.session.execute(sa.select(Event.id, Event.title).where(Event.id.in_(event_ids))).all())
    zone = ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])
    return render_template("coordination/deliveries.html", rows=rows, titles=titles,
                           counts=delivery_counts(current_user), state=state, states=STATES,
                           when=lambda moment: french_datetime(moment.astimezone(zone)) if moment else "")
