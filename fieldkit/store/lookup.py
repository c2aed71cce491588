"""Fetching one row by primary key, or a :class:`NotFoundError` that names it."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.orm import Session

from ..errors import NotFoundError
from .models import User

T = TypeVar("T")


def get_or_raise(session: Session, model: type[T], ident: int, what: str) -> T:
    """The ``model`` row with primary key ``ident``; else ``NotFoundError("<what> <ident>: not found")``."""
    row = session.get(model, ident)
    if row is None:
        raise NotFoundError(f"{what} {ident}: not found")
    return row


def check_actor(session: Session, actor_id: int) -> User:
    """The user acting; :class:`NotFoundError` when there is no such user."""
    return get_or_raise(session, User, actor_id, "user")
