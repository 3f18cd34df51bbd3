"""Users and API tokens: created, found by token, revoked."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa

from models.base import db, secret_digest, utcnow
from models.errors import InvalidInput
from models.users import ROLES, ApiToken, User


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


def create_api_token(user: User) -> str:
    """Returns the token in clear, the only time it exists so."""
    token = secrets.token_urlsafe(32)
    db.session.add(ApiToken(user=user, token_hash=secret_digest(token)))
    db.session.flush()
    return token


def user_for_token(token: str) -> User | None:
    row = db.session.scalar(
        sa.select(ApiToken).where(ApiToken.token_hash == secret_digest(token), ApiToken.revoked_at.is_(None))
    )
    if row is None or not row.user.is_active:
        return None
    return row.user


def revoke_api_token(token: str) -> None:
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == secret_digest(token)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        db.session.flush()


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
