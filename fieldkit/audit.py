"""Append-only, hash-chained audit log of every change to findings, cases and documents.

Each entry stores ``entry_hash = sha256(canonical JSON of seq, at, actor_id, entity, entity_id,
action, payload, prev_hash)``, where ``prev_hash`` is the previous entry's hash (64 zeros for the
first). The database refuses UPDATE and DELETE on ``audit_entries`` (triggers, migration 0002),
so the app cannot edit the log; :func:`verify` recomputes the chain and finds edits made behind
the database's back (a copied file edited with the triggers dropped). Removing entries from the
*end* of the chain leaves a valid shorter chain: to detect that, keep the :func:`head` somewhere
else (a printed report, a signed e-mail) and pass it to :func:`verify` as ``expect_head``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from .errors import InputError
from .store.models import utcnow
from .store.models_cases import AuditEntry

GENESIS_HASH = "0" * 64
_PG_LOCK_KEY = 0x66_6B_61_75  # "fkau": serialises appends on PostgreSQL


@dataclasses.dataclass(frozen=True, slots=True)
class AuditProblem:
    """A break in the chain: the sequence number where it shows and what is wrong."""

    seq: int
    kind: str  # "altered" | "missing" | "broken_link" | "head"
    message: str


def canonical_json(value: Any) -> str:
    """Compact, key-sorted UTF-8 JSON; dates become ISO strings; NaN and other non-JSON values raise."""
    try:
        return json.dumps(
            value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_plain, allow_nan=False
        )
    except (ValueError, TypeError) as exc:  # NaN, infinity (PostgreSQL refuses them), mixed key types
        raise InputError(f"audit payload: {exc}") from exc


def json_ready(value: Any) -> Any:
    """``value`` as plain JSON types (what a JSON column gives back), via :func:`canonical_json`."""
    return json.loads(canonical_json(value))


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise InputError(f"audit payload: {type(value).__name__} {value!r} cannot be stored as JSON")


def entry_hash(
    seq: int,
    at: dt.datetime,
    actor_id: int | None,
    entity: str,
    entity_id: str,
    action: str,
    payload: Any,
    prev_hash: str,
) -> str:
    """The SHA-256 (hex) that chains an entry to its predecessor."""
    record = {
        "seq": seq,
        "at": at.isoformat(timespec="microseconds"),
        "actor_id": actor_id,
        "entity": entity,
        "entity_id": entity_id,
        "action": action,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(record).encode("utf-8")).hexdigest()


def append(
    session: Session,
    actor_id: int | None,
    entity: str,
    entity_id: Any,
    action: str,
    payload: Mapping[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> AuditEntry:
    """Append one entry in ``session`` (a write session) and return it, flushed.

    ``payload`` is normalised through canonical JSON first, so what is stored is what was hashed.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.entry_hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev = (last.seq + 1, last.entry_hash) if last else (1, GENESIS_HASH)
    at = (at or utcnow()).replace(tzinfo=None)
    body = json_ready(dict(payload or {}))
    entry = AuditEntry(
        seq=seq,
        at=at,
        actor_id=actor_id,
        entity=entity,
        entity_id=str(entity_id),
        action=action,
        payload=body,
        prev_hash=prev,
        entry_hash=entry_hash(seq, at, actor_id, entity, str(entity_id), action, body, prev),
    )
    session.add(entry)
    session.flush()
    return entry


def head(rt) -> tuple[int, str] | None:
    """``(seq, entry_hash)`` of the newest entry, or None for an empty log."""
    with rt.db.session() as s:
        row = s.execute(
            select(AuditEntry.seq, AuditEntry.entry_hash).order_by(AuditEntry.seq.desc()).limit(1)
        ).first()
    return (row.seq, row.entry_hash) if row else None


def verify(rt, expect_head: tuple[int, str] | None = None) -> list[AuditProblem]:
    """Recompute the chain; return its problems in sequence order (empty when intact)."""
    problems: list[AuditProblem] = []
    expected_seq, prev = 1, GENESIS_HASH
    hashes: dict[int, str] = {}
    with rt.db.session() as s:
        rows = s.execute(select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=1000))
        for entry in rows.scalars():
            problems.extend(_check(entry, expected_seq, prev))
            expected_seq, prev = entry.seq + 1, entry.entry_hash
            if expect_head and entry.seq == expect_head[0]:
                hashes[entry.seq] = entry.entry_hash
    if expect_head is not None and hashes.get(expect_head[0]) != expect_head[1]:
        problems.append(
            AuditProblem(
                expect_head[0],
                "head",
                f"seq {expect_head[0]}: the recorded head {expect_head[1][:16]}… is not in the log "
                "(entries were removed or rewritten)",
            )
        )
    return problems


def _check(entry: AuditEntry, expected_seq: int, prev: str) -> list[AuditProblem]:
    found: list[AuditProblem] = []
    if entry.seq != expected_seq:
        gap = f"{expected_seq}" if entry.seq == expected_seq + 1 else f"{expected_seq}-{entry.seq - 1}"
        found.append(
            AuditProblem(expected_seq, "missing", f"seq {gap}: missing (the log jumps to {entry.seq})")
        )
    elif entry.prev_hash != prev:
        found.append(
            AuditProblem(
                entry.seq, "broken_link", f"seq {entry.seq}: prev_hash does not match the entry before it"
            )
        )
    recomputed = entry_hash(
        entry.seq,
        entry.at,
        entry.actor_id,
        entry.entity,
        entry.entity_id,
        entry.action,
        entry.payload,
        entry.prev_hash,
    )
    if recomputed != entry.entry_hash:
        found.append(
            AuditProblem(
                entry.seq,
                "altered",
                f"seq {entry.seq} ({entry.entity} {entry.entity_id} {entry.action}): content does not "
                "match its hash (altered)",
            )
        )
    return found
