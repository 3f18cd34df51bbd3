"""The HTML pages: public pages, screen, widget, poster, coordination."""
from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("web", __name__)


@bp.get("/")
def home():
    return render_template("home.html")


def init_app(app) -> None:
    from web import auth, coordination

    app.register_blueprint(bp)
    auth.init_app(app)  # sign-in, sessions and CSRF for every page
    app.register_blueprint(coordination.bp)
