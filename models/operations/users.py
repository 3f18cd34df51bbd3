"""Users and API tokens: created, found by token, revoked."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa

from models.base import db, secret_digest, utcnow
from models.errors import InvalidInput, NotFound
from models.partners import partner_quartier_ids
from models.users import ROLES, ApiToken, User, spend_a_password_check


def get_or_create_user(email: str, role: str, partner=None) -> User:
    if role not in ROLES:
        raise InvalidInput(f"Rôle inconnu : {role} (coordinator ou editor).")
    if role == "editor" and partner is None:
        raise InvalidInput("Un·e contributeur·rice doit être rattaché·e à un partenaire (--partner).")
    email = email.strip().lower()
    user = db.session.scalar(sa.select(User).where(User.email == email))
    if user is None:
        user = User(email=email, role=role, partner=partner)
        db.session.add(user)
    else:
        user.role = role
        if partner is not None:
            user.partner = partner
    db.session.flush()
    return user


def password_matches(user: User | None, password: str) -> bool:
    """Sign-in: is this the password of this active account? One argon2 verification whatever
    the case (no account, deactivated, no password yet), so that the time taken tells nothing."""
    if user is None or not user.is_active or not user.password_hash:
        spend_a_password_check(password)
        return False
    return user.check_password(password)


# How long an API token works unless told otherwise (settings.py API_TOKEN_DAYS says the same).
DEFAULT_TOKEN_DAYS = 365


def issue_api_token(user: User, days: int = DEFAULT_TOKEN_DAYS) -> tuple[str, ApiToken]:
    """A new token of `user`, working for `days` days: the token in clear (the only time it exists
    so) and its row (its id and expiry, to show)."""
    if days < 1:
        raise InvalidInput("Un jeton doit valoir au moins un jour.")
    token = secrets.token_urlsafe(32)
    row = ApiToken(user=user, token_hash=secret_digest(token), expires_at=utcnow() + timedelta(days=days))
    db.session.add(row)
    db.session.flush()
    return token, row


def create_api_token(user: User, days: int = DEFAULT_TOKEN_DAYS) -> str:
    """Returns the token in clear, the only time it exists so."""
    return issue_api_token(user, days)[0]


def user_for_token(token: str) -> User | None:
    """The user of a token that is neither revoked nor expired, of an account still active."""
    row = db.session.scalar(sa.select(ApiToken).where(
        ApiToken.token_hash == secret_digest(token), ApiToken.revoked_at.is_(None), ApiToken.expires_at > utcnow()))
    if row is None or not row.user.is_active:
        return None
    return row.user


def revoke_api_token(token: str) -> None:
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == secret_digest(token)))
    if row is not None:
        revoke_token_row(row)


def revoke_token_row(row: ApiToken) -> bool:
    """Revokes a token (by its row); False when it already was."""
    if row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    db.session.flush()
    return True


def api_tokens(users: list[User] | None = None) -> list[ApiToken]:
    """The tokens (of these users), newest first."""
    q = sa.select(ApiToken).order_by(ApiToken.id.desc())
    if users is not None:
        q = q.where(ApiToken.user_id.in_([u.id for u in users]))
    return list(db.session.scalars(q))


def user_by_email(email: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"Aucun compte pour {email.strip()}.")
    return user


def deactivate_user(user: User) -> int:
    """The account can no longer sign in; its open sessions end at their next request and its API
    tokens are revoked (its private feed links stop too: models.operations.feeds reads is_active).
    Returns how many tokens this revoked."""
    user.is_active_account = False
    user.end_sessions()
    revoked = sum(revoke_token_row(t) for t in user.tokens)
    db.session.flush()
    return revoked


def reactivate_user(user: User) -> None:
    """Can sign in again (with a password set anew if need be); revoked tokens stay revoked."""
    user.is_active_account = True
    db.session.flush()


def may_manage_account(actor: User, user: User) -> bool:
    """May `actor` deactivate `user` or revoke their tokens? A national coordinator: everyone but
    themselves. A coordinator of a territory: an editor whose partner works only in that territory,
    or a coordinator whose territory lies within theirs (never a national one)."""
    if not actor.is_coordinator or actor.id == user.id:
        return False
    territory = actor.territory_quartier_ids
    if not territory:
        return True
    if user.is_coordinator:
        theirs = user.territory_quartier_ids
        return bool(theirs) and theirs <= territory
    if user.partner is None:
        return False
    works_in = partner_quartier_ids(user.partner)
    return bool(works_in) and works_in <= territory


def manageable_users(actor: User) -> list[User]:
    """The accounts `actor` may manage (may_manage_account), by email."""
    users = db.session.scalars(sa.select(User).order_by(User.email))
    return [u for u in users if may_manage_account(actor, u)]


# A gap longer than this between two requests starts a new visit; last_seen_at is written at most
# this often, not on every page.
VISIT_GAP = timedelta(minutes=30)
SEEN_EVERY = timedelta(minutes=5)


def note_visit(user: User, now: datetime | None = None) -> datetime | None:
    """Records that the user is using the pages; when this starts a new visit, returns when the
    previous one ended (what "since your last visit" counts from), else None. Flushes, the caller
    commits."""
    now = now or utcnow()
    seen = user.last_seen_at
    if seen is not None and now - seen < SEEN_EVERY:
        return None
    user.last_seen_at = now
    db.session.flush()
    return seen if seen is not None and now - seen >= VISIT_GAP else None
