"""Fixity: prove the evidence is intact — every original re-hashed, rows against files, the audit chain.

:func:`verify` reports, each with the photo and the file it concerns:

* ``missing``  a photo row whose original is not in the evidence store;
* ``altered``  an original whose bytes no longer hash to its name (or whose size differs from the row);
* ``orphan``   a file under ``objects/`` that no photo row refers to (an upload interrupted between
  storing the bytes and committing the row leaves one; a retry of that upload adopts it);
* ``stray``    a file under ``objects/`` whose name or folder is not a content address;
* ``audit``    a break in the audit log's hash chain (:func:`fieldkit.audit.verify`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

from sqlalchemy import select

from . import audit
from .photos.evidence import SHA256_RE
from .store.models import Photo

_CHUNK = 1 << 20
_BATCH = 5_000


@dataclasses.dataclass(frozen=True, slots=True)
class FixityProblem:
    """One thing wrong: its kind, what it concerns (a SHA-256, a path or an audit seq) and why."""

    kind: str  # "missing" | "altered" | "orphan" | "stray" | "audit"
    subject: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclasses.dataclass(slots=True)
class FixityReport:
    """What :func:`verify` checked and found."""

    photos: int = 0
    files_hashed: int = 0
    bytes_hashed: int = 0
    audit_entries: int = 0
    problems: list[FixityProblem] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is missing, altered, orphaned or broken."""
        return not self.problems

    def by_kind(self, kind: str) -> list[FixityProblem]:
        """The problems of one kind."""
        return [p for p in self.problems if p.kind == kind]


def hash_file(path: str | os.PathLike) -> tuple[str, int]:
    """(SHA-256 hex, size in bytes) of a file, read in 1 MiB chunks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def verify(rt, *, check_audit: bool = True, expect_head: tuple[int, str] | None = None,
           workers: int = 4) -> FixityReport:
    """Re-hash every original, compare photo rows with the files, check the audit chain."""
    report = FixityReport()
    store = rt.evidence
    known: set[str] = set()
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="fixity") as pool:
        for batch in _photo_batches(rt):
            report.photos += len(batch)
            known.update(sha for _, sha, _, _ in batch)
            for problem, size in pool.map(lambda row: _check_photo(store, *row), batch):
                if size is not None:
                    report.files_hashed += 1
                    report.bytes_hashed += size
                if problem is not None:
                    report.problems.append(problem)
    report.problems.extend(_unreferenced(store.objects_dir, known))
    if check_audit:
        report.audit_entries = (audit.head(rt) or (0, ""))[0]
        report.problems.extend(
            FixityProblem("audit", f"seq {p.seq}", f"audit log ({p.kind}): {p.message}")
            for p in audit.verify(rt, expect_head=expect_head)
        )
    return report


def _photo_batches(rt) -> Iterator[list[tuple[int, str, int, str]]]:
    last = 0
    while True:
        with rt.db.session() as s:
            rows = s.execute(select(Photo.id, Photo.sha256, Photo.size_bytes, Photo.original_name)
                             .where(Photo.id > last).order_by(Photo.id).limit(_BATCH)).all()
        if not rows:
            return
        last = rows[-1][0]
        yield [tuple(r) for r in rows]


def _check_photo(store, photo_id: int, sha: str, size_bytes: int, name: str):
    """(problem or None, bytes hashed or None) for one photo row."""
    label = f"photo {photo_id} ({name})"
    if not SHA256_RE.match(sha or ""):
        return FixityProblem("altered", str(sha), f"{label}: the row's sha256 {sha!r} is not a digest"), None
    path = store.path(sha)
    try:
        actual, size = hash_file(path)
    except FileNotFoundError:
        return FixityProblem("missing", sha, f"{label}: original {_rel(store, path)} is missing"), None
    except OSError as exc:
        return FixityProblem("missing", sha, f"{label}: original {_rel(store, path)} unreadable: "
                                             f"{exc.strerror or exc}"), None
    if actual != sha:
        return FixityProblem("altered", sha, f"{label}: original {_rel(store, path)} now hashes to "
                                             f"{actual} ({size} bytes; recorded {size_bytes})"), size
    if size != size_bytes:
        return FixityProblem("altered", sha, f"{label}: the row records {size_bytes} bytes, "
                                             f"the original has {size}"), size
    return None, size


def _unreferenced(objects_dir: Path, known: set[str]) -> Iterator[FixityProblem]:
    """Files under ``objects/`` no photo refers to, and files that are not content addresses."""
    for folder, _dirs, files in os.walk(objects_dir):
        for name in sorted(files):
            path = Path(folder) / name
            rel = path.relative_to(objects_dir.parent).as_posix()
            expected = objects_dir / name[:2] / name[2:4] / name
            if not SHA256_RE.match(name) or path != expected:
                yield FixityProblem("stray", rel, f"{rel}: not a content address (unexpected file)")
            elif name not in known:
                yield FixityProblem("orphan", name, f"{rel}: no photo refers to this original "
                                                    "(an interrupted upload? re-submitting the photo adopts it)")


def _rel(store, path: Path) -> str:
    return path.relative_to(store.root).as_posix()
