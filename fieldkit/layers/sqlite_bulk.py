"""Storing a large layer on SQLite: its features streamed as Arrow to a loader process (ADBC).

Python's ``sqlite3`` binds every value of every row one by one under the interpreter lock; for
a million features that was half of an import. ADBC's SQLite driver binds straight from Arrow
buffers. It links its own copy of SQLite, so it runs in a child process
(``_adbc_loader.py``): two copies of SQLite in one process would drop each other's POSIX
locks. The child makes the whole change in one transaction (layer row, deletion of a replaced
layer's features, insert), so readers see the old layer or the new one, never a mix; if it
fails, nothing changes and its message becomes a :class:`StorageError`. It answers as soon as
the transaction is committed (durable: the WAL is fsynced) and then checkpoints the WAL into
the database file on its own, which SQLite's WAL documentation suggests for large writes.

Rows arrive in the stored order of :class:`fieldkit.layers.rows.FeatureRows` (west to east).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ..errors import StorageError
from ..store.db import BUSY_TIMEOUT_MS
from ..store.models import Layer
from .rows import FeatureRows

if TYPE_CHECKING:
    from .base import ImportResult

log = logging.getLogger(__name__)
LOADER = Path(__file__).with_name("_adbc_loader.py")
BATCH = 50_000
PIPE_BYTES = 1 << 20
_REAPERS: set[threading.Thread] = set()
# Foreign keys are not checked row by row: the loader sets every row's layer_id to the layer it
# has just created or found in the same transaction.
# The automatic checkpoint is off for the loader's connection: it checkpoints after answering.
PRAGMAS = (f"busy_timeout={BUSY_TIMEOUT_MS}", "synchronous=FULL", "foreign_keys=OFF", "cache_size=-65536",
           "wal_autocheckpoint=0")


def layer_row_values(engine, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` for the ``layers`` row as the database stores them (JSON as text, datetimes as
    SQLite text), using the columns' own SQLAlchemy bind processors."""
    out = {}
    for name, value in values.items():
        column_type = Layer.__table__.c[name].type.dialect_impl(engine.dialect)
        processor = column_type.bind_processor(engine.dialect)
        out[name] = processor(value) if processor and value is not None else value
    return out


def _insert_defaults() -> dict[str, Any]:
    """Scalar column defaults the ORM would apply to a new ``layers`` row."""
    return {c.name: c.default.arg for c in Layer.__table__.columns
            if c.default is not None and c.default.is_scalar}


def load_features(rt, slug: str, values: dict[str, Any], result: "ImportResult", *, release: bool = False) -> int:
    """Create or replace layer ``slug`` (its row set to ``values``) with ``result``'s features; its id.

    ``release=True``: the result's geometries are let go of once every row is sent, while the
    loader commits (see :meth:`ImportResult.release_geometries`)."""
    engine = rt.db.engine
    count = len(result)
    header = {
        "path": engine.url.database, "slug": slug, "pragmas": PRAGMAS, "insert_defaults": _insert_defaults(),
        "values": layer_row_values(engine, values),
    }
    # One thread of numpy's BLAS: the loader does no linear algebra, and idle BLAS threads spin.
    child = subprocess.Popen([sys.executable, str(LOADER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    _widen(child.stdin)
    try:
        _send(child, header, result, engine)
        if release:
            result.release_geometries()
    except (BrokenPipeError, ConnectionResetError):
        _close_quietly(child.stdin)  # the loader stopped early: its stderr says why
    except BaseException:
        child.kill()
        child.wait()
        raise
    out = child.stdout.read()  # the loader closes stdout once the layer is committed
    child.stdout.close()
    if not out:
        err = _finish(child)
        reason = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        raise StorageError(f"storing layer {slug!r} ({count:,} features) failed; nothing was "
                           f"changed: {reason[0]}")
    reaper = threading.Thread(target=_reap, args=(child, slug), name="layer-loader", daemon=True)
    _REAPERS.add(reaper)
    reaper.start()
    return int(json.loads(out)["layer_id"])


def wait_for_loaders(timeout: float | None = None) -> bool:
    """Wait until every loader started by this process has finished its WAL checkpoint and
    exited (e.g. before measuring, or before deleting a data directory); False on timeout."""
    for reaper in list(_REAPERS):
        reaper.join(timeout)
    return not any(r.is_alive() for r in _REAPERS)


def _reap(child: subprocess.Popen, slug: str) -> None:
    """Wait for the loader's WAL checkpoint to end (it runs after the commit) and log a failure."""
    try:
        err = _finish(child)
    finally:
        _REAPERS.discard(threading.current_thread())
    if child.returncode:
        log.warning("layer %r: the loader's WAL checkpoint failed (SQLite retries it on a later "
                    "write): %s", slug, err.decode("utf-8", "replace").strip())


def _finish(child: subprocess.Popen) -> bytes:
    """The loader's stderr once it has exited."""
    with child.stderr:
        err = child.stderr.read()
    child.wait()
    return err


def _widen(pipe) -> None:
    """Ask for a 1 MiB pipe buffer (Linux; 64 KiB by default) so batches flow in fewer steps."""
    try:
        fcntl.fcntl(pipe.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except OSError:
        pass  # the default buffer works too


def _close_quietly(pipe) -> None:
    try:
        pipe.close()
    except OSError:
        pass


def _send(child: subprocess.Popen, header: dict, result: "ImportResult", engine) -> None:
    pipe = child.stdin
    pipe.write(json.dumps(header, ensure_ascii=False).encode() + b"\n")
    pipe.flush()  # the loader begins its transaction while the rows are prepared
    writer = None
    for chunk in FeatureRows(None, result).arrow_batches(BATCH):  # stored as they arrive
        writer = writer or pa.ipc.new_stream(pipe, chunk.schema)
        writer.write_table(chunk)
        pipe.flush()  # the chunk's last bytes too: the loader stores it while the next is gathered
    if writer is not None:
        # Lengths were measured chunk by chunk: the finished report rides on an empty last batch.
        final = layer_row_values(engine, {"report": result.report.to_dict()})
        writer.write_batch(pa.RecordBatch.from_pylist([], chunk.schema),
                           custom_metadata={"layer": json.dumps(final, ensure_ascii=False)})
        writer.close()
    pipe.close()
