"""Login rate limiting: failed attempts counted in the database, per username and per client address.

The counts live in the ``login_attempts`` table (:class:`~fieldkit.store.LoginAttempt`), so every
server worker process — gunicorn runs several — enforces the same limit; a per-process memory
counter would let an attacker multiply it by the number of workers. Within a sliding window of
:data:`WINDOW` (15 minutes) at most :data:`MAX_PER_USERNAME` failures for one username and
:data:`MAX_PER_IP` failures from one address are accepted; the next attempt is refused without
checking the password (:class:`TooManyAttemptsError`, HTTP 429, with the wait in seconds). A
successful login clears the username's failures. No Flask here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import unicodedata

from sqlalchemy import delete, func, select

from .errors import FieldkitError
from .runtime import Runtime
from .store import LoginAttempt
from .store.models import utcnow

WINDOW = dt.timedelta(minutes=15)
MAX_PER_USERNAME = 5
MAX_PER_IP = 20


class TooManyAttemptsError(FieldkitError):
    """Too many failed logins recently; ``retry_after`` says how many seconds to wait."""

    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclasses.dataclass(frozen=True)
class Limits:
    """The limiter's numbers (defaults: 5 per username, 20 per address, in 15 minutes)."""

    per_username: int = MAX_PER_USERNAME
    per_ip: int = MAX_PER_IP
    window: dt.timedelta = WINDOW


DEFAULT_LIMITS = Limits()


def username_key(username: str | None) -> str:
    """The form a tried username is counted under: NFC, stripped, case-folded, at most 100 characters
    (so ``Rev`` and ``rev`` share one count, and unknown names are counted too)."""
    return unicodedata.normalize("NFC", (username or "").strip()).casefold()[:100]


def ip_key(ip: str | None) -> str:
    """The client address as counted (``unknown`` when the server could not tell)."""
    return (ip or "unknown").strip()[:64] or "unknown"


def check_allowed(rt: Runtime, username: str | None, ip: str | None, limits: Limits = DEFAULT_LIMITS,
                  now: dt.datetime | None = None) -> None:
    """Raise :class:`TooManyAttemptsError` if ``username`` or ``ip`` has used up its failures in the window."""
    now = now or utcnow()
    waits = []
    with rt.db.session() as s:
        for column, value, limit in ((LoginAttempt.username, username_key(username), limits.per_username),
                                     (LoginAttempt.ip, ip_key(ip), limits.per_ip)):
            times = s.scalars(select(LoginAttempt.at).where(column == value, LoginAttempt.at > now - limits.window)
                              .order_by(LoginAttempt.at)).all()
            if len(times) >= limit:  # wait until enough of the oldest fall out of the window
                waits.append(times[len(times) - limit] + limits.window - now)
    if waits:
        seconds = max(1, math.ceil(max(waits).total_seconds()))
        raise TooManyAttemptsError(
            f"too many failed logins for this account or address; try again in {seconds} s", seconds)


def record_failure(rt: Runtime, username: str | None, ip: str | None, limits: Limits = DEFAULT_LIMITS,
                   now: dt.datetime | None = None) -> None:
    """Count one failed login; rows older than the window are deleted on the way."""
    now = now or utcnow()
    with rt.db.session(write=True) as s:
        s.execute(delete(LoginAttempt).where(LoginAttempt.at <= now - limits.window))
        s.add(LoginAttempt(username=username_key(username), ip=ip_key(ip), at=now))


def clear_failures(rt: Runtime, username: str | None) -> None:
    """Forget the failures of ``username`` (after a successful login). The address's count stays."""
    with rt.db.session(write=True) as s:
        s.execute(delete(LoginAttempt).where(LoginAttempt.username == username_key(username)))


def failures(rt: Runtime, username: str | None = None, ip: str | None = None,
             limits: Limits = DEFAULT_LIMITS, now: dt.datetime | None = None) -> int:
    """How many failures are counted now for ``username`` (or for ``ip`` when no username is given)."""
    now = now or utcnow()
    column, value = ((LoginAttempt.username, username_key(username)) if username is not None
                     else (LoginAttempt.ip, ip_key(ip)))
    with rt.db.session() as s:
        return s.scalar(select(func.count(LoginAttempt.id))
                        .where(column == value, LoginAttempt.at > now - limits.window)) or 0
