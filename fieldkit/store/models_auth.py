"""Model of failed logins, counted by the login rate limiter (migration 0006).

:class:`LoginAttempt` rows live in the database so that every server worker process sees the
same counts (a per-process memory store would multiply the limit by the number of workers).
Rows older than the limiter's window are pruned by :mod:`fieldkit.logins`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, utcnow


class LoginAttempt(Base):
    """One failed login: the (case-folded) username tried, the client address, the UTC time."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
