"""Public email subscriptions to a quartier, a place or an event: no account, double opt-in,
one-click unsubscribe. The token in every link is the subscriber's only credential.

That token is not stored. An API or feed token can be kept as a hash because it is shown once;
a subscription's token must be written again in every later message (each reminder's
unsubscribe link), so it is derived instead: the row's id and an HMAC-SHA256, under the app's
SECRET_KEY, of the id and a random seed kept in the row. Whoever reads the database (a leaked
backup, an export) cannot make a link; a new seed (subscribing again after unsubscribing) kills
the old links. Rows from before signed links keep the SHA-256 of their old token, so that the
links already mailed still work.
"""
from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Model, UTCDateTime, utcnow

TARGETS = {"quartier": "quartier", "place": "lieu", "event": "événement"}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Subscription(Model):
    __tablename__ = "subscriptions"
    __table_args__ = (sa.UniqueConstraint("email", "target_type", "target_id",
                                          name="uq_subscriptions_email_target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), index=True)
    target_type: Mapped[str] = mapped_column(sa.String(10))
    target_id: Mapped[int]
    link_seed: Mapped[str] = mapped_column(sa.String(64))  # see link_token
    # SHA-256 of the token of a row made before links were signed (None for every newer row).
    legacy_token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None

    def __repr__(self) -> str:
        return f"<Subscription {self.email} {self.target_type}:{self.target_id}>"
