"""The coordinators' pages under /coordination: overlaps between partners, and how to resolve them."""
from __future__ import annotations

from flask import Blueprint, render_template

from web.auth import current_user, login_required

bp = Blueprint("coordination", __name__, url_prefix="/coordination")


@bp.get("/")
@login_required
def dashboard():
    return render_template("coordination/dashboard.html", user=current_user)


@bp.get("/semaine")
@login_required
def week():
    return render_template("coordination/dashboard.html", user=current_user)
