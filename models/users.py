"""Users, their roles and API tokens, and what each may change."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Model, UTCDateTime, db, utcnow
from models.errors import Forbidden, InvalidInput
from models.partners import co_organiser_ids, partner_quartier_ids

ROLES = {"coordinator": "Coordinateur·rice", "editor": "Contributeur·rice"}

# argon2id: memory-hard, as the coordinators' sign-in requires.
_password_hasher = PasswordHasher()
# Verified against when there is no account (or no password) to check, so that a sign-in takes
# the same time whether the address has an account or not; made once, with the same parameters.
_NO_ACCOUNT_HASH = _password_hasher.hash("aucun compte : cette empreinte ne correspond à rien")


def spend_a_password_check(password: str) -> None:
    """One argon2 verification that always fails, as long as a real one."""
    try:
        _password_hasher.verify(_NO_ACCOUNT_HASH, password)
    except (VerificationError, InvalidHashError):
        pass

user_quartiers = sa.Table(
    "user_quartiers",
    db.metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("quartier_id", sa.ForeignKey("quartiers.id", ondelete="CASCADE"), primary_key=True),
)


class User(UserMixin, Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    role: Mapped[str] = mapped_column(sa.String(20))
    partner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("partners.id", ondelete="SET NULL"))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    is_active_account: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When they last used the coordination pages (models.operations.users.note_visit).
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Part of the id a session cookie carries (get_id): signing out, a new password or a
    # deactivation add one, and every cookie signed before stops at its next request.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")

    partner = relationship("Partner")
    # A coordinator's territory: the quartiers they coordinate.
    quartiers = relationship("Quartier", secondary=user_quartiers, order_by="Quartier.code")
    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all, delete-orphan")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.is_active_account

    def get_id(self) -> str:
        """What Flask-Login keeps in the session: the id and the session version (web/auth.py's
        user loader finds the user only while both match)."""
        return f"{self.id}:{self.session_version or 1}"

    def end_sessions(self) -> None:
        """Every session cookie of this user stops working (a sign-out, a new password)."""
        self.session_version = (self.session_version or 1) + 1

    @property
    def is_coordinator(self) -> bool:
        return self.role == "coordinator"

    def set_password(self, password: str) -> None:
        if len(password) < 10:
            raise InvalidInput("Le mot de passe doit compter au moins 10 caractères.")
        self.password_hash = _password_hasher.hash(password)
        self.end_sessions()  # a cookie copied before the change must not outlive the old password

    def check_password(self, password: str) -> bool:
        if not self.password_hash:
            return False
        try:
            return _password_hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    # --- what this user may change -------------------------------------------------------
    @property
    def territory_quartier_ids(self) -> set[int]:
        return {q.id for q in self.quartiers}

    def covers_place(self, place) -> bool:
        """Is the place in this coordinator's territory? An empty territory means all of it; a
        place in no quartier belongs to national coordinators only (and to the partner hosting
        it: `can_edit_place`)."""
        territory = self.territory_quartier_ids
        if not territory:
            return True
        quartier_id = place.quartier.id if place.quartier is not None else place.quartier_id
        return quartier_id is not None and quartier_id in territory

    def can_edit_place(self, place) -> bool:
        if self.is_coordinator:
            return self.covers_place(place)
        host_id = place.host_partner.id if place.host_partner is not None else place.host_partner_id
        return self.partner_id is not None and host_id == self.partner_id

    def can_edit_event(self, event) -> bool:
        """Coordinators: any event in a place of their territory. Editors: events their partner
        organises or co-organises."""
        if self.is_coordinator:
            return event.place is not None and self.covers_place(event.place)
        return self.partner_id is not None and any(p.id == self.partner_id for p in event.organisers)

    def can_edit_partner(self, partner) -> bool:
        """Editors: their own partner. Coordinators: every partner when national; else those
        whose every quartier (`partner_quartier_ids`: places hosted, places of its events) is in
        their territory, a partner working nowhere yet included. A place in no quartier is
        national: a partner working there is edited by a national coordinator. A partner's
        people, reminder settings, webhook, sync sources and links follow it."""
        if not self.is_coordinator:
            return self.partner_id is not None and partner.id == self.partner_id
        territory = self.territory_quartier_ids
        return not territory or partner_quartier_ids(partner) <= territory

    def may_name_partner(self, partner) -> bool:
        """May this user name `partner` as an organiser of an event (or the host of a place)?
        Their own partner; a partner they may edit; for a coordinator, a partner that already
        works in their territory; for an editor, a partner that already co-organises an event
        with theirs (its consent, given once by one who may act for it). docs/security.md."""
        if self.partner_id is not None and partner.id == self.partner_id:
            return True
        if self.is_coordinator:
            return self.can_edit_partner(partner) or bool(partner_quartier_ids(partner) & self.territory_quartier_ids)
        return self.partner_id is not None and partner.id in co_organiser_ids(self.partner_id)

    def works_only_here(self, quartier_ids: set[int | None]) -> bool:
        """Are all these quartiers (None: a place in no quartier) in this user's territory? Always
        for a national coordinator."""
        territory = self.territory_quartier_ids
        return not territory or quartier_ids <= territory

    def can_edit_quartier(self, quartier) -> bool:
        territory = self.territory_quartier_ids
        return self.is_coordinator and (not territory or quartier.id in territory)

    def require(self, allowed: bool, message: str = "Vous n'avez pas le droit de modifier cet élément.") -> None:
        if not allowed:
            raise Forbidden(message)

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"



class ApiToken(Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set by models.operations.users.create_api_token (API_TOKEN_DAYS after its creation).
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")

    def state(self, now: datetime) -> str:
        """In French, as the token lists say it."""
        if self.revoked_at is not None:
            return "révoqué"
        return "expiré" if self.expires_at <= now else "actif"
