"""Backup and restore: the database plus the evidence store, every file hashed.

A backup folder holds::

    MANIFEST.json        format, backend, time, and the SHA-256 of every other file in the folder
    fieldkit.sqlite3     SQLite: a consistent copy made with SQLite's online backup API
    fieldkit.pgdump      PostgreSQL: ``pg_dump --format=custom``
    evidence/objects/…   the originals, named by their SHA-256 as in the store
    files/…              everything else in the data directory (derivatives, issued documents,
                         the web app's secret key), evidence/tmp and the live database excepted

The database is copied first and the originals after it; an original is written to the store
before its row is committed, so every photo in the copy has its original in the backup.
:func:`restore` checks every hash in the backup before touching anything, refuses a target that
already holds data, then puts the database and the originals back and re-verifies the restored
store with :func:`fieldkit.fixity.verify`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import orjson
from sqlalchemy import create_engine, inspect, make_url, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from . import fixity
from .errors import ConflictError, InputError, StorageError
from .photos.evidence import SHA256_RE
from .store.models import Photo

FORMAT = "fieldkit-backup/1"
MANIFEST = "MANIFEST.json"
SQLITE_FILE = "fieldkit.sqlite3"
PG_FILE = "fieldkit.pgdump"
_SKIP_TOP = {"evidence"}


def backup(rt, dest: str | os.PathLike) -> dict:
    """Write a backup of ``rt``'s database and evidence store into the new or empty folder ``dest``."""
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise ConflictError(f"backup: {dest} is not empty (choose a new folder)")
    dest.mkdir(mode=0o700, parents=True, exist_ok=True)  # holds the database and the app's secret key
    db = rt.db
    if db.dialect == "sqlite":
        db_file = SQLITE_FILE
        _sqlite_copy(Path(make_url(db.url).database), dest / SQLITE_FILE)
        shas = _sqlite_photo_hashes(dest / SQLITE_FILE)
    else:
        db_file = PG_FILE
        _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(dest / PG_FILE),
              "--dbname", _libpq_url(db.url)], "pg_dump", db.url)
        with db.session() as s:  # rows committed after the dump only add originals the copy ignores
            shas = set(s.scalars(select(Photo.sha256)))
    files = {db_file: fixity.hash_file(dest / db_file)[0]}
    store = rt.evidence
    for sha in sorted(shas):
        rel = f"evidence/objects/{sha[:2]}/{sha[2:4]}/{sha}"
        files[rel] = _copy_checked(store.path(sha), dest / rel, expect=sha)
    for src, rel in _other_files(rt.settings.data_dir, db):
        files[f"files/{rel}"] = _copy_checked(src, dest / "files" / rel)
    manifest = {"format": FORMAT, "backend": db.dialect, "created_at": dt.datetime.now(dt.UTC).isoformat(),
                "database": db_file, "originals": len(shas), "files": files}
    _write_durably(dest / MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return manifest


def check_backup(src: str | os.PathLike) -> dict:
    """Read ``src``'s manifest and re-hash every file in it; raise :class:`StorageError` naming each bad one."""
    src = Path(src)
    try:
        manifest = orjson.loads((src / MANIFEST).read_bytes())
    except FileNotFoundError:
        raise InputError(f"restore: {src} has no {MANIFEST} (not a FieldKit backup)") from None
    except orjson.JSONDecodeError as exc:
        raise InputError(f"restore: {src / MANIFEST}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputError(f"restore: {src / MANIFEST}: format is not {FORMAT}")
    problems = []
    for rel, sha in manifest["files"].items():
        path = src / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            problems.append(f"{rel}: path leaves the backup folder")
            continue
        try:
            actual = fixity.hash_file(path)[0]
        except FileNotFoundError:
            problems.append(f"{rel}: missing")
            continue
        if actual != sha:
            problems.append(f"{rel}: altered (SHA-256 {actual}, manifest says {sha})")
    if problems:
        raise StorageError(f"restore: backup {src} is damaged; nothing was restored:\n  "
                           + "\n  ".join(problems))
    return manifest


def restore(rt, src: str | os.PathLike) -> fixity.FixityReport:
    """Restore the backup ``src`` into ``rt``'s empty data directory / database; returns the fixity report.

    Raises :class:`StorageError` when the backup is damaged or the restored store does not verify,
    :class:`ConflictError` when the target already holds data or is another backend.
    """
    src = Path(src)
    manifest = check_backup(src)
    backend = "sqlite" if rt.settings.db_url.startswith("sqlite") else "postgresql"
    if manifest["backend"] != backend:
        raise ConflictError(f"restore: the backup is of a {manifest['backend']} database, "
                            f"the target is {backend}")
    _refuse_non_empty(rt, backend)
    if backend == "sqlite":
        target = Path(make_url(rt.settings.db_url).database)
        target.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(src / SQLITE_FILE, target)
    else:
        _pg_restore(rt.settings.db_url, src / PG_FILE)
    rt.__dict__.pop("db", None)  # reopen (and migrate, if the backup is older) on next use
    store = rt.evidence
    for rel in manifest["files"]:
        if rel.startswith("evidence/objects/"):
            sha = Path(rel).name
            if SHA256_RE.match(sha):
                store.put((src / rel).read_bytes(), sha)
        elif rel.startswith("files/"):
            _copy_checked(src / rel, rt.settings.data_dir / rel[len("files/"):], expect=None)
    report = fixity.verify(rt)
    if not report.ok:
        raise StorageError("restore: the restored data does not verify:\n  "
                           + "\n  ".join(str(p) for p in report.problems))
    return report


def _refuse_non_empty(rt, backend: str) -> None:
    if backend == "sqlite":
        if Path(make_url(rt.settings.db_url).database).exists():
            raise ConflictError(f"restore: {rt.settings.db_url} already exists; "
                                "restore into a fresh data directory")
    else:
        from .store.db import make_engine

        engine = make_engine(rt.settings.db_url)
        try:
            tables = set(inspect(engine).get_table_names()) - {"spatial_ref_sys"}
        finally:
            engine.dispose()
        if tables:
            raise ConflictError("restore: the target database already has tables; restore into an empty one")
    objects = rt.settings.evidence_dir / "objects"
    if objects.is_dir() and any(p.is_file() for p in objects.rglob("*")):
        raise ConflictError(f"restore: the evidence store {objects} is not empty")


def _sqlite_copy(src: Path, dest: Path) -> None:
    """Copy a live SQLite database consistently (online backup API), then fsync the copy."""
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    target = sqlite3.connect(dest)
    try:
        with target:
            source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        raise StorageError(f"backup: cannot copy the SQLite database {src}: {exc}") from exc
    finally:
        source.close()
        target.close()
    _fsync(dest)


def _sqlite_photo_hashes(path: Path) -> set[str]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {row[0] for row in con.execute("SELECT sha256 FROM photos")}
    finally:
        con.close()


def _other_files(data_dir: Path, db) -> list[tuple[Path, str]]:
    """Files of the data directory besides the database and the originals (relative paths)."""
    skip = {SQLITE_FILE, f"{SQLITE_FILE}-wal", f"{SQLITE_FILE}-shm", f"{SQLITE_FILE}-journal"}
    out = []
    for path in sorted(data_dir.rglob("*")):
        rel = path.relative_to(data_dir)
        if not path.is_file() or path.is_symlink() or rel.as_posix() in skip:
            continue
        if rel.parts[0] == "evidence" and (len(rel.parts) < 2 or rel.parts[1] in ("objects", "tmp")):
            continue
        out.append((path, rel.as_posix()))
    return out


def _copy_checked(src: Path, dest: Path, expect: str | None = None) -> str:
    """Copy ``src`` to ``dest`` (fsynced), returning the SHA-256 of what was copied."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copyfile(src, dest)
        shutil.copymode(src, dest)
    except FileNotFoundError:
        raise StorageError(f"backup: {src} is missing (run `fieldkit verify`)") from None
    except OSError as exc:
        raise StorageError(f"backup: cannot copy {src} to {dest}: {exc.strerror or exc}") from exc
    _fsync(dest)
    sha = fixity.hash_file(dest)[0]
    if expect is not None and sha != expect:
        raise StorageError(f"backup: original {src} hashes to {sha}, not its name (run `fieldkit verify`)")
    return sha


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _libpq_url(url: str) -> str:
    """A SQLAlchemy URL as a libpq URI without its password (``postgresql+psycopg://`` → ``postgresql://``)."""
    return make_url(url).set(drivername="postgresql", password=None).render_as_string(hide_password=False)


# Lines of ``pg_restore --list`` for extensions and their comments, e.g.
# "2; 3079 16385 EXTENSION - postgis " and "4550; 0 0 COMMENT - EXTENSION postgis ".
_EXTENSION_ENTRY = re.compile(r"^\d+;\s+\d+\s+\d+\s+(?:COMMENT - )?EXTENSION (?:- )?(\S+)")
_TABLE_ENTRY = re.compile(r"^\d+;\s+\d+\s+\d+\s+TABLE (DATA )?(\S+ \S+)")


def _pg_restore(url: str, dump: Path) -> None:
    """Restore ``dump`` into the database at ``url`` as FieldKit's own (non-superuser) role.

    Extensions belong to the superuser who created them, so their entries are left out of the
    restore: their comments (only an extension's owner may set one), and the rows of their own
    tables (PostGIS's ``spatial_ref_sys``: table data with no table of the dump's own). The target
    must have the extensions already, as docs/deploy.md creates PostGIS; where it does not, they
    are created first if the role may, else the restore stops with what a superuser must run.
    """
    lines = _run(["pg_restore", "--list", str(dump)], "pg_restore --list", url).splitlines()
    needed = sorted({m.group(1) for m in map(_EXTENSION_ENTRY.match, lines) if m})
    _ensure_extensions(url, needed)
    tables = {m.group(2) for m in map(_TABLE_ENTRY.match, lines) if m and not m.group(1)}
    keep = [line for line in lines if not _EXTENSION_ENTRY.match(line) and not _extension_rows(line, tables)]
    with tempfile.NamedTemporaryFile("w", suffix=".list", encoding="utf-8") as toc:
        toc.write("\n".join(keep) + "\n")
        toc.flush()
        _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
              "--use-list", toc.name, "--dbname", _libpq_url(url), str(dump)], "pg_restore", url)


def _extension_rows(line: str, tables: set[str]) -> bool:
    match = _TABLE_ENTRY.match(line)
    return bool(match and match.group(1) and match.group(2) not in tables)


def _ensure_extensions(url: str, names: list[str]) -> None:
    if not names:
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            present = set(conn.scalars(text("SELECT extname FROM pg_extension")))
        for name in (n for n in names if n not in present):
            try:
                with engine.begin() as conn:
                    conn.execute(text(f'CREATE EXTENSION IF NOT EXISTS "{name}"'))
            except DBAPIError as exc:
                database = make_url(url).database
                raise StorageError(
                    f"restore: the target database {database} has no {name} extension and this role may "
                    f"not create it; as a superuser run: psql -d {database} -c 'CREATE EXTENSION {name}' "
                    f"({str(exc.orig).strip().splitlines()[0]})") from exc
    finally:
        engine.dispose()


def _run(args: list[str], what: str, url: str) -> str:
    """Run a PostgreSQL client tool; the password goes in the environment, never on the command line."""
    tool = shutil.which(args[0]) or _pg_bin(args[0])
    if tool is None:
        raise StorageError(f"{what}: the PostgreSQL client {args[0]} is not installed "
                           "(apt-get install postgresql-client)")
    env = dict(os.environ)
    password = make_url(url).password
    if password:
        env["PGPASSWORD"] = str(password)
    proc = subprocess.run([tool, *args[1:]], capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise StorageError(f"{what} failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def _pg_bin(name: str) -> str | None:
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).is_file():
            return str(folder / name)
    return None
