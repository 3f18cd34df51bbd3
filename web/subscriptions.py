"""Public email subscriptions (`/abonnement`): no account, double opt-in, one-click unsubscribe.

The public pages link here with the scope as a query parameter: `?quartier=CODE`, `?lieu=slug`
or `?evenement=ID`. The link in each message carries the subscription's token, its only key.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, render_template, request
from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms.validators import DataRequired, Length

from models import Event, Place, Quartier, db
from models.errors import DomainError
from models.operations.subscriptions import confirm, link_token, subscribe, subscription_by_token, unsubscribe
from scheduler.notifications.messages import target_label
from scheduler.notifications.notices import CONFIRMATION_RESEND_AFTER, request_confirmation

bp = Blueprint("subscriptions", __name__, url_prefix="/abonnement")


class SubscriptionForm(FlaskForm):
    email = EmailField("Votre adresse électronique", validators=[
        DataRequired("Indiquez votre adresse électronique."), Length(max=254)])
    # The address itself is checked by models.subscriptions.subscribe (one rule, one place).


def _target() -> tuple[str, int, str]:
    """The scope named in the query string: (type, id, French label)."""
    if code := request.args.get("quartier"):
        q = db.session.scalar(sa.select(Quartier).where(Quartier.code == code))
        if q is not None:
            return "quartier", q.id, f"le quartier {q.name}"
    elif slug := request.args.get("lieu"):
        p = db.session.scalar(sa.select(Place).where(Place.slug == slug))
        if p is not None:
            return "place", p.id, f"le lieu {p.name}"
    elif (event_id := request.args.get("evenement", "")).isdigit():
        e = db.session.get(Event, int(event_id))
        if e is not None and e.visibility == "public":
            return "event", e.id, f"« {e.title} »"
    abort(404)


def _secret_keys() -> list[str]:
    """The keys a link may be signed with: the current one, then the ones it replaced."""
    return [current_app.config["SECRET_KEY"], *(current_app.config.get("SECRET_KEY_FALLBACKS") or [])]


@bp.errorhandler(429)
def too_many_requests(error):
    """Requests are rate-limited per client address (RATELIMITS in settings.py)."""
    return render_template("subscriptions/done.html", title="Trop de demandes",
                           message="Trop de demandes d'abonnement depuis votre adresse. "
                                   "Patientez un moment avant de réessayer."), 429


@bp.route("", methods=["GET", "POST"])
def subscribe_page():
    target_type, target_id, label = _target()
    form = SubscriptionForm()
    if form.validate_on_submit():
        try:
            subscription = subscribe(form.email.data, target_type, target_id)
        except DomainError as error:
            db.session.rollback()
            form.email.errors = [*form.email.errors, error.message]
        else:
            sent = subscription.confirmed_at is None and request_confirmation(subscription)
            db.session.commit()
            return render_template("subscriptions/requested.html", label=label, email=subscription.email,
                                   already=subscription.confirmed_at is not None, sent=sent,
                                   resend_hours=int(CONFIRMATION_RESEND_AFTER.total_seconds() // 3600))
    return render_template("subscriptions/subscribe.html", form=form, label=label), (422 if form.errors else 200)


@bp.get("/confirmer/<token>")
def confirm_page(token):
    try:
        subscription = confirm(subscription_by_token(token, _secret_keys()))
    except DomainError as error:
        db.session.rollback()
        return render_template("subscriptions/done.html", title="Lien inactif", message=error.message), 404
    db.session.commit()
    return render_template("subscriptions/done.html", title="Abonnement confirmé",
                           message=f"Vous recevrez les rappels et les changements de {target_label(subscription)}.",
                           unsubscribe_token=link_token(subscription, current_app.config["SECRET_KEY"]))


@bp.route("/desabonner/<token>", methods=["GET", "POST"])
def unsubscribe_page(token):
    """One click: following the link unsubscribes (GET), and so does a mail client's
    List-Unsubscribe-Post (POST, RFC 8058). The token is the only credential either needs."""
    try:
        subscription = unsubscribe(subscription_by_token(token, _secret_keys()))
    except DomainError as error:
        db.session.rollback()
        return render_template("subscriptions/done.html", title="Lien inactif", message=error.message), 404
    db.session.commit()
    return render_template("subscriptions/done.html", title="Désabonnement effectué",
                           message=f"Vous ne recevrez plus de messages pour {target_label(subscription)}.")


def init_app(app) -> None:
    # The one-click POST of mail clients carries no CSRF token: web/auth.py lets this path through.
    app.register_blueprint(bp)
