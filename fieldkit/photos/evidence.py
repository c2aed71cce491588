"""The content-addressed evidence store: originals kept byte for byte under their SHA-256.

Layout under ``root``::

    objects/ab/cd/<sha256>                  originals, mode 0444, never modified
    derivatives/ab/cd/<sha256>.preview.jpg  upright preview (regenerable)
    derivatives/ab/cd/<sha256>.thumb.jpg    upright thumbnail (regenerable)
    derivatives/ab/cd/<sha256>.public.jpg   metadata-stripped copy for sharing (made on demand)
    tmp/                                    temp files; same filesystem as objects/

An original is written to a temp file, fsynced, then hard-linked into place with ``os.link``,
which fails when the target exists: that is both the atomic publish and the dedupe. Several
processes may share one store; nothing here assumes it is the only writer.

Originals bypass the page cache where the filesystem allows (``O_DIRECT`` for the whole
4 KiB blocks, through a reused aligned buffer; the tail is written normally): they are written
once and seldom read, and copying every one into fresh page-cache pages cost more CPU than
resizing the photo (bench/ingest.py). The fsync still makes the whole file durable.

Crash safety. A process killed mid-write leaves at most a temp file, never a partial original.
Temp files are named ``fk-<pid>-….tmp`` and held under an exclusive ``flock`` while written, so
the sweep run whenever a store is opened (every process start) removes a leftover as soon as its
writer is dead (lock free and pid gone), and any unlocked one older than :data:`STALE_TEMP_S`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import mmap
import os
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import BinaryIO, Callable

from ..errors import InputError, NotFoundError, StorageError

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
DERIVATIVE_KINDS = ("preview", "thumb", "public")
TEMP_PREFIX = "fk-"
TEMP_SUFFIX = ".tmp"
STALE_TEMP_S = 3600.0
_CHUNK = 1 << 20
_ALIGN = 4096  # O_DIRECT wants the buffer, offset and length aligned to the logical block size
_DIRECT_BUFFER = 4 << 20


class EvidenceStore:
    """Originals and their derivatives on disk, addressed by SHA-256."""

    def __init__(self, root: str | Path, *, max_pixels: int = 250_000_000) -> None:
        self.root = Path(root)
        self.objects_dir = self.root / "objects"
        self.derivatives_dir = self.root / "derivatives"
        self.tmp_dir = self.root / "tmp"
        self.max_pixels = max_pixels
        try:
            for folder in (self.objects_dir, self.derivatives_dir, self.tmp_dir):
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _storage_error(self.root, "cannot create the evidence store", exc) from exc
        if os.stat(self.tmp_dir).st_dev != os.stat(self.objects_dir).st_dev:
            raise StorageError(f"evidence store {self.root}: tmp/ and objects/ are on different filesystems")
        self.sweep_temp()

    # -- addressing -------------------------------------------------------------------------

    def path(self, sha256: str) -> Path:
        """Where the original with this SHA-256 lives (whether or not it exists)."""
        sha = _check_sha(sha256)
        return self.objects_dir / sha[:2] / sha[2:4] / sha

    def derivative_path(self, sha256: str, kind: str) -> Path:
        """Where derivative ``kind`` ("preview", "thumb" or "public") of an original lives."""
        if kind not in DERIVATIVE_KINDS:
            raise InputError(f"unknown derivative kind {kind!r} (expected one of {DERIVATIVE_KINDS})")
        sha = _check_sha(sha256)
        return self.derivatives_dir / sha[:2] / sha[2:4] / f"{sha}.{kind}.jpg"

    def preview_path(self, sha256: str) -> Path:
        """The ~1600 px upright JPEG preview."""
        return self.derivative_path(sha256, "preview")

    def thumb_path(self, sha256: str) -> Path:
        """The ~320 px upright JPEG thumbnail."""
        return self.derivative_path(sha256, "thumb")

    def exists(self, sha256: str) -> bool:
        """Whether the original is in the store."""
        return self.path(sha256).is_file()

    # -- originals --------------------------------------------------------------------------

    def put(self, data: bytes, sha256: str | None = None) -> tuple[str, bool]:
        """Store ``data`` atomically; return ``(sha256, created)``. ``created`` is False for a dedupe.

        ``sha256`` may be passed when the caller already hashed exactly these bytes.
        Raises :class:`StorageError` (disk full, permissions) leaving no temp file behind.
        """
        sha = _check_sha(sha256) if sha256 else hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        if target.is_file():
            return sha, False
        return sha, self._publish(data, target, exclusive=True)

    def put_in_background(self, data: bytes, sha256: str | None = None) -> Callable[[], tuple[str, bool]]:
        """Start :meth:`put` in a thread (writing and fsync release the GIL); returns ``wait()``,
        which gives ``put``'s result or re-raises its error. Always call ``wait()``."""
        outcome: list = []

        def run() -> None:
            try:
                outcome.append(self.put(data, sha256))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                outcome.append(exc)

        thread = threading.Thread(target=run, name="evidence-put", daemon=True)
        thread.start()

        def wait() -> tuple[str, bool]:
            thread.join()
            if isinstance(outcome[0], BaseException):
                raise outcome[0]
            return outcome[0]

        return wait

    def open(self, sha256: str) -> BinaryIO:
        """Open the original for reading (binary). Raises :class:`NotFoundError` when absent."""
        try:
            return open(self.path(sha256), "rb")
        except FileNotFoundError:
            raise NotFoundError(f"evidence {sha256}: not in the store {self.root}") from None

    def read(self, sha256: str) -> bytes:
        """The original's bytes."""
        with self.open(sha256) as fh:
            return fh.read()

    def verify(self, sha256: str) -> bool:
        """Re-hash the stored original: True when its bytes still match its name (False if missing)."""
        digest = hashlib.sha256()
        try:
            with open(self.path(sha256), "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
        except FileNotFoundError:
            return False
        return digest.hexdigest() == sha256

    # -- derivatives ------------------------------------------------------------------------

    def put_derivative(self, sha256: str, kind: str, data: bytes) -> Path:
        """Write (or replace) a derivative atomically; derivatives can always be remade."""
        target = self.derivative_path(sha256, kind)
        self._publish(data, target, exclusive=False)
        return target

    def has_derivatives(self, sha256: str) -> bool:
        """Whether both the preview and the thumbnail exist (non-empty: they are not fsynced)."""
        return all(_nonempty(self.derivative_path(sha256, kind)) for kind in ("preview", "thumb"))

    def public_copy(self, sha256: str) -> Path:
        """A copy without EXIF/XMP/GPS for sharing outside the office, made on first use.

        JPEG originals keep their compressed pixel data byte for byte; others are re-encoded.
        """
        target = self.derivative_path(sha256, "public")
        if target.is_file():
            return target
        from .derivatives import public_bytes

        data = self.read(sha256)
        return self.put_derivative(sha256, "public", public_bytes(data, sha256, self.max_pixels))

    # -- housekeeping -----------------------------------------------------------------------

    def sweep_temp(self, max_age_s: float = STALE_TEMP_S) -> int:
        """Remove temp files older than ``max_age_s`` (left by crashes); return how many.

        The age limit keeps a sweep from deleting the temp file of another process that is
        writing right now; pass 0 when no other process can be using the store.
        """
        cutoff = time.time() - max_age_s
        removed = 0
        for entry in os.scandir(self.tmp_dir):
            if not (entry.name.startswith(TEMP_PREFIX) and entry.name.endswith(TEMP_SUFFIX)):
                continue
            with contextlib.suppress(FileNotFoundError):
                old = entry.stat(follow_symlinks=False).st_mtime <= cutoff
                if (old or _writer_gone(entry.name)) and _unlink_if_unlocked(entry.path):
                    removed += 1
        return removed

    def _locked_temp(self) -> tuple[int, str]:
        """A new temp file held under ``flock`` (retried if a sweep took it before the lock)."""
        for _ in range(5):
            fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=TEMP_SUFFIX, dir=self.tmp_dir)
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_nlink:
                return fd, tmp
            os.close(fd)  # swept between mkstemp and flock: take another
        raise OSError(errno.EAGAIN, "temp files keep disappearing")

    def _publish(self, data: bytes, target: Path, *, exclusive: bool) -> bool:
        """Temp file → fsync → link (exclusive) or replace → fsync dir. True if written."""
        tmp: str | None = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = self._locked_temp()
            with os.fdopen(fd, "wb", buffering=0) as fh:
                if exclusive:
                    _write_uncached(fh.fileno(), data)
                    os.fsync(fh.fileno())
                else:
                    _write_all(fh.fileno(), memoryview(data))
            if not exclusive:
                os.replace(tmp, target)
                return True
            os.chmod(tmp, 0o444)
            try:
                os.link(tmp, target)
            except FileExistsError:
                return False
            _fsync_dir(target.parent)
            return True
        except OSError as exc:
            raise _storage_error(self.root, f"cannot write {target.name}", exc) from exc
        finally:
            if tmp is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)


class _AlignedBuffers:
    """Page-aligned buffers for ``O_DIRECT`` writes, kept for reuse (fresh pages cost more to
    fault in than the copy into them); one per concurrent writer."""

    def __init__(self) -> None:
        self._free: list[mmap.mmap] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def take(self):
        with self._lock:
            buf = self._free.pop() if self._free else None
        if buf is None:
            buf = mmap.mmap(-1, _DIRECT_BUFFER)
        try:
            yield buf
        finally:
            with self._lock:
                if len(self._free) < 4:
                    self._free.append(buf)


_aligned = _AlignedBuffers()


def _write_uncached(fd: int, data: bytes) -> None:
    """Write ``data`` to the new, empty file ``fd``: whole blocks with ``O_DIRECT`` where the
    filesystem takes it, the rest (or everything) normally."""
    view = memoryview(data)
    whole = len(view) - len(view) % _ALIGN
    done = _write_direct(fd, view[:whole]) if whole else 0
    _write_all(fd, view[done:])


def _write_direct(fd: int, view: memoryview) -> int:
    """Write the block-aligned ``view`` with ``O_DIRECT`` through an aligned buffer; returns how
    many bytes went that way (0 when the filesystem refuses the flag, fewer when it refuses a write)."""
    direct = getattr(os, "O_DIRECT", 0)
    if not direct:
        return 0
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | direct)
    except OSError:
        return 0  # e.g. tmpfs
    done = 0
    try:
        with _aligned.take() as buf:
            while done < len(view):
                n = min(len(buf), len(view) - done)
                buf[:n] = view[done:done + n]
                try:
                    written = os.write(fd, memoryview(buf)[:n])
                except OSError as exc:
                    if exc.errno != errno.EINVAL:
                        raise
                    break  # the filesystem took the flag but not the write
                done += written
                if written % _ALIGN:
                    break
    finally:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags)
    return done


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view):]


def _writer_gone(name: str) -> bool:
    """True when the temp file's name carries the pid of a process that no longer runs here."""
    pid = name[len(TEMP_PREFIX):].split("-", 1)[0]
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _unlink_if_unlocked(path: str) -> bool:
    """Remove a temp file unless a live writer holds its lock; True if removed."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False
    finally:
        os.close(fd)


def _check_sha(sha256: str) -> str:
    if not isinstance(sha256, str) or not SHA256_RE.match(sha256):
        raise InputError(f"not a SHA-256 hex digest: {str(sha256)[:80]!r}")
    return sha256


def _nonempty(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _storage_error(root: Path, what: str, exc: OSError) -> StorageError:
    reasons = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is exceeded",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.EROFS: "the filesystem is read-only",
    }
    reason = reasons.get(exc.errno, exc.strerror or str(exc))
    return StorageError(f"evidence store {root}: {what}: {reason}")
