"""Sign-in for the coordination pages: email + password (argon2id), a session that expires,
CSRF on every form, sign-out.

What other pages use: `login_required` and `current_user` (re-exported from Flask-Login), and
`coordinator_required` for pages only coordinators see. Forms are Flask-WTF forms or plain
forms carrying `{{ csrf_token() }}`: every POST outside the JSON API is checked.

The JSON API and the feeds are not checked: they authenticate with a Bearer token (or not at
all), never with the session cookie, so a forged cross-site request carries no credential.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import wraps
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from extensions import csrf, login_manager
from models import db
from models.operations.users import password_matches
from models.users import User

__all__ = ["bp", "coordinator_required", "current_user", "init_app", "login_required"]

bp = Blueprint("auth", __name__, url_prefix="/coordination")

# Requests that authenticate without the session cookie (Bearer token, public, or the token
# in an unsubscribe link that mail clients POST to in one click, RFC 8058).
_NOT_COOKIE_AUTHENTICATED = ("/api/", "/feeds/", "/abonnement/desabonner/")
# A session lasts this long without activity, and never more than ABSOLUTE in all.
IDLE_LIFETIME = timedelta(hours=2)
ABSOLUTE_LIFETIME = timedelta(hours=12)


class LoginForm(FlaskForm):
    email = EmailField("Adresse électronique", validators=[
        DataRequired("Indiquez votre adresse électronique."), Length(max=254)])
    password = PasswordField("Mot de passe", validators=[
        DataRequired("Indiquez votre mot de passe."), Length(max=1000)])


class SignOutForm(FlaskForm):
    """Only its CSRF token: signing out is a POST, so that no link elsewhere can do it."""


def coordinator_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_coordinator:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def sign_in_account() -> str:
    """What the per-account limit of sign-in attempts counts by: the address typed, whoever types
    it from wherever (rotating client addresses does not reset it)."""
    return "account:" + request.form.get("email", "").strip().lower()[:254]


def _safe_next(target: str | None) -> str:
    """Only a path of this site: never an open redirect."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//") \
                and "\\" not in target:
            return target
    return url_for("coordination.dashboard")


@bp.route("/connexion", methods=["GET", "POST"])
def login():
    """Sign in with email and password."""
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(sa.select(User).where(User.email == email))
        # The same message and the same time whatever was wrong: do not reveal which addresses
        # have an account.
        if password_matches(user, form.password.data):
            session.clear()  # a fresh session: nothing planted before sign-in survives it
            session.permanent = True
            session["signed_in_at"] = datetime.now(UTC).isoformat()
            login_user(user)
            flash(f"Bienvenue, {user.name or user.email}.", "success")
            return redirect(_safe_next(request.args.get("next")))
        error = "Adresse ou mot de passe incorrect."
    status = 401 if error else (422 if form.errors else 200)
    return render_template("coordination/login.html", form=form, error=error), status


@bp.post("/deconnexion")
def logout():
    """Sign out (a POST with the CSRF token)."""
    form = SignOutForm()
    if form.validate_on_submit():
        if current_user.is_authenticated:
            # A copy of this cookie (or of any other of this account) stops working now, not
            # when it would have expired.
            current_user.end_sessions()
            db.session.commit()
        logout_user()
        session.clear()
        flash("Vous êtes déconnecté·e.", "success")
    return redirect(url_for("auth.login"))


@login_manager.user_loader
def _load_user(session_id: str):
    """The user of a session: its id and session version (User.get_id) must both match, so a
    cookie signed before a sign-out, a new password or a deactivation opens nothing."""
    user_id, _, version = session_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.is_active or user.session_version != int(version):
        return None
    return user


def _fresh_request_globals():
    """Each request starts with an empty `g`, as it does in production. An app context that
    outlives one request (tests, the CLI) would otherwise carry over the signed-in user, the
    CSRF token and its "already checked" flag from an earlier request."""
    g.__dict__.clear()


def _expire_old_sessions():
    """A session signed in more than ABSOLUTE_LIFETIME ago ends, active or not."""
    signed_in_at = session.get("signed_in_at")
    if (signed_in_at and current_user.is_authenticated
            and datetime.now(UTC) - datetime.fromisoformat(signed_in_at) > ABSOLUTE_LIFETIME):
        logout_user()
        session.clear()


def _not_stored(response):
    """Coordination pages hold people's names, addresses and private links: no cache (the
    browser's, a proxy's, the back button after sign-out) keeps a copy."""
    if request.path.startswith("/coordination"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _check_csrf():
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and not request.path.startswith(_NOT_COOKIE_AUTHENTICATED):
        csrf.protect()


def _csrf_error(error: CSRFError):
    return render_template("coordination/error.html", title="Formulaire expiré",
                           message="Le formulaire a expiré ou ne vient pas de Maillage. "
                                   "Rechargez la page et recommencez."), 400


@bp.errorhandler(403)
def forbidden_page(error):
    """The French 403 page; page blueprints register it for themselves (the API keeps its JSON)."""
    return render_template("coordination/error.html", title="Accès refusé",
                           message="Vous n'avez pas le droit de voir cette page."), 403


@bp.errorhandler(429)
def too_many_attempts(error):
    """Sign-in attempts and the creation of private links are rate-limited per address
    (RATELIMITS in settings.py); page blueprints register this for themselves."""
    return render_template("coordination/error.html", title="Trop de tentatives",
                           message="Trop de tentatives depuis votre adresse. "
                                   "Patientez un moment avant de réessayer."), 429


def init_app(app) -> None:
    # Flask's defaults (31 days, no SameSite) are replaced unless the settings chose otherwise.
    if app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(days=31):
        app.config["PERMANENT_SESSION_LIFETIME"] = IDLE_LIFETIME
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    if app.config.get("BASE_URL", "").startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
    # We call protect() ourselves, so that the JSON API (Bearer tokens) is left out.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the token lives as long as the session
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Connectez-vous pour accéder à cette page."
    login_manager.login_message_category = "info"
    app.before_request_funcs.setdefault(None, []).insert(0, _fresh_request_globals)
    app.before_request(_expire_old_sessions)
    app.before_request(_check_csrf)
    app.after_request(_not_stored)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_blueprint(bp)
