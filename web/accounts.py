"""`/coordination/comptes`: the accounts a coordinator may manage (models.operations.users.
may_manage_account: everyone for a national coordinator, those wholly within their territory
otherwise), with their API tokens; deactivate or reactivate an account, revoke a token. The same
as `flask users deactivate` and `flask tokens revoke`."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from models import ApiToken, User, db, utcnow
from models.operations.users import (
    api_tokens,
    deactivate_user,
    manageable_users,
    may_manage_account,
    reactivate_user,
    revoke_token_row,
)
from scheduler.french import french_datetime
from web.auth import coordinator_required, current_user

bp = Blueprint("accounts", __name__, url_prefix="/coordination/comptes")


def _row_id(name: str) -> int:
    value = request.form.get(name, "")
    if not (value.isascii() and value.isdigit()) or int(value) >= 2**31:
        abort(404)
    return int(value)


def _managed(user: User | None) -> User:
    """A user the signed-in coordinator may manage; any other id is a 404 (ids are sequential:
    a 403 would say which exist)."""
    if user is None or not may_manage_account(current_user, user):
        abort(404)
    return user


@bp.route("/", methods=["GET", "POST"])
@coordinator_required
def index():
    if request.method == "POST":
        action = request.form.get("action")
        if action in ("deactivate", "reactivate"):
            user = _managed(db.session.get(User, _row_id("user_id")))
            if action == "deactivate":
                revoked = deactivate_user(user)
                flash(f"Compte {user.email} désactivé : ses sessions sont fermées et {revoked} jeton(s) "
                      "d'API révoqué(s).", "success")
            else:
                reactivate_user(user)
                flash(f"Compte {user.email} réactivé.", "success")
        elif action == "revoke":
            token = db.session.get(ApiToken, _row_id("token_id"))
            if token is None:
                abort(404)
            _managed(token.user)
            revoke_token_row(token)
            flash(f"Jeton n° {token.id} de {token.user.email} révoqué.", "success")
        else:
            abort(400)
        db.session.commit()
        return redirect(url_for("accounts.index"), 303)
    users = manageable_users(current_user)
    tokens: dict[int, list[ApiToken]] = {}
    for token in api_tokens(users):
        tokens.setdefault(token.user_id, []).append(token)
    zone = ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])
    return render_template("coordination/accounts.html", users=users, tokens=tokens, now=utcnow(),
                           when=lambda moment: french_datetime(moment.astimezone(zone)))
