"""Users and roles: accounts, argon2id password hashes, authentication.

Roles: ``inspector`` (uploads, sees own and team work), ``reviewer`` (reads all, annotates),
``admin`` (users, layers). Passwords are hashed with Argon2id at OWASP's recommended minimum
(19 MiB memory, 2 iterations, 1 lane); hashes made with weaker parameters are upgraded at the
next successful login. No Flask here: the web app and the CLI both call these functions.
"""

from __future__ import annotations

import re
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from .errors import ConflictError, InputError, NotFoundError
from .runtime import Runtime
from .store import User

ROLES = ("inspector", "reviewer", "admin")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
USERNAME_RE = re.compile(r"^[\w.@-]{1,100}$")

_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# Verified when a username is unknown so that the answer takes as long as for a real account.
_DUMMY_HASH = _hasher.hash("fieldkit-no-such-user")


def hash_password(password: str) -> str:
    """Return the Argon2id hash (PHC string ``$argon2id$v=19$m=19456,t=2,p=1$...``) of ``password``."""
    _check_password(password)
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches ``password_hash``; False for a mismatch or a malformed hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def normalize_username(username: str) -> str:
    """NFC-normalise and strip ``username``; raise :class:`InputError` unless it is 1-100 word characters.

    Letters of any script (Chinese names too), digits, ``_ . @ -`` are allowed.
    """
    name = unicodedata.normalize("NFC", (username or "").strip())
    if not USERNAME_RE.match(name):
        raise InputError(
            f"username {username!r}: use 1-100 letters, digits or _ . @ - (no spaces or other symbols)"
        )
    return name


def check_role(role: str) -> str:
    """Return ``role`` if it is one of :data:`ROLES`, else raise :class:`InputError`."""
    if role not in ROLES:
        raise InputError(f"role {role!r}: must be one of {', '.join(ROLES)}")
    return role


def add_user(
    rt: Runtime,
    username: str,
    password: str,
    role: str = "inspector",
    team: str | None = None,
    display_name: str | None = None,
) -> User:
    """Create an active user; raise :class:`ConflictError` if the username is taken."""
    name = normalize_username(username)
    check_role(role)
    hashed = hash_password(password)
    with rt.db.session(write=True) as s:
        if s.scalar(select(User.id).where(User.username == name)) is not None:
            raise ConflictError(f"user {name!r} already exists")
        user = User(
            username=name,
            password_hash=hashed,
            role=role,
            team=_clean_optional(team),
            display_name=_clean_optional(display_name),
            active=True,
        )
        s.add(user)
        s.flush()
        return user


def set_role(rt: Runtime, username: str, role: str) -> User:
    """Give ``username`` the ``role``; refuse to demote the last active admin."""
    check_role(role)
    with rt.db.session(write=True) as s:
        user = _find(s, username)
        if user.role == "admin" and role != "admin" and user.active and _active_admins(s) <= 1:
            raise ConflictError(f"user {user.username!r} is the last active admin; make another admin first")
        user.role = role
        return user


def set_password(rt: Runtime, username: str, password: str) -> User:
    """Replace the password of ``username`` (existing sessions of that user stop being valid)."""
    hashed = hash_password(password)
    with rt.db.session(write=True) as s:
        user = _find(s, username)
        user.password_hash = hashed
        return user


def list_users(rt: Runtime) -> list[User]:
    """Every user, ordered by username."""
    with rt.db.session() as s:
        return list(s.scalars(select(User).order_by(User.username)))


def get_user(rt: Runtime, user_id: int) -> User | None:
    """The user with primary key ``user_id``, or None."""
    with rt.db.session() as s:
        return s.get(User, user_id)


def get_user_by_name(rt: Runtime, username: str) -> User:
    """The user called ``username``; raise :class:`NotFoundError` if there is none."""
    with rt.db.session() as s:
        return _find(s, username)


def authenticate(rt: Runtime, username: str, password: str) -> User | None:
    """The active user whose name and password match, else None (timing does not reveal which failed).

    A hash made with outdated parameters is replaced by a current one.
    """
    try:
        name = normalize_username(username)
    except InputError:
        name = None
    with rt.db.session() as s:
        user = s.scalar(select(User).where(User.username == name)) if name else None
    if user is None or not user.active:
        verify_password(_DUMMY_HASH, password or "")
        return None
    if not verify_password(user.password_hash, password or ""):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        with rt.db.session(write=True) as s:
            s.get(User, user.id).password_hash = _hasher.hash(password)
    return user


def _find(session, username: str) -> User:
    name = unicodedata.normalize("NFC", (username or "").strip())
    user = session.scalar(select(User).where(User.username == name))
    if user is None:
        raise NotFoundError(f"no user {name!r}")
    return user


def _active_admins(session) -> int:
    return session.scalar(
        select(func.count(User.id)).where(User.role == "admin", User.active.is_(True))
    )


def _check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"password: must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InputError(f"password: must be at most {MAX_PASSWORD_LENGTH} characters")


def _clean_optional(value: str | None) -> str | None:
    value = unicodedata.normalize("NFC", value.strip()) if value else None
    return value or None
