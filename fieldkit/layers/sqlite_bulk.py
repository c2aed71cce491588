"""Storing a large layer on SQLite: its features streamed as Arrow to a loader process (ADBC).

Python's ``sqlite3`` binds every value of every row one by one under the interpreter lock; for
a million features that was half of an import. ADBC's SQLite driver binds straight from Arrow
buffers. It links its own copy of SQLite, so it runs in a child process
(``_adbc_loader.py``): two copies of SQLite in one process would drop each other's POSIX
locks. The child makes the whole change in one transaction (layer row, deletion of a replaced
layer's features, insert), so readers see the old layer or the new one, never
a mix; if it fails, nothing changes and its message becomes a :class:`StorageError`.

Rows arrive in the stored order of :class:`fieldkit.layers.storage.FeatureRows` (west to east).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ..errors import StorageError
from ..store.db import BUSY_TIMEOUT_MS
from ..store.models import Layer
from .rows import FeatureRows

if TYPE_CHECKING:
    from .base import ImportResult

LOADER = Path(__file__).with_name("_adbc_loader.py")
BATCH = 100_000
# Foreign keys are not checked row by row: the loader sets every row's layer_id to the layer it
# has just created or found in the same transaction.
PRAGMAS = (f"busy_timeout={BUSY_TIMEOUT_MS}", "synchronous=FULL", "foreign_keys=OFF", "cache_size=-524288")


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


def load_features(rt, slug: str, values: dict[str, Any], result: "ImportResult") -> int:
    """Create or replace layer ``slug`` (its row set to ``values``) with ``result``'s features; its id."""
    engine = rt.db.engine
    count = len(result)
    header = {
        "path": engine.url.database, "slug": slug, "pragmas": PRAGMAS, "insert_defaults": _insert_defaults(),
        "values": layer_row_values(engine, values),
    }
    child = subprocess.Popen([sys.executable, str(LOADER)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _send(child, header, result)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the loader stopped early: its stderr says why
    except BaseException:
        child.kill()
        child.wait()
        raise
    out, err = child.communicate()
    if child.returncode != 0:
        reason = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        raise StorageError(f"storing layer {slug!r} ({count:,} features) failed; nothing was "
                           f"changed: {reason[0]}")
    return int(json.loads(out)["layer_id"])


def _send(child: subprocess.Popen, header: dict, result: "ImportResult") -> None:
    pipe = child.stdin
    pipe.write(json.dumps(header, ensure_ascii=False).encode() + b"\n")
    pipe.flush()  # the loader begins its transaction while the rows are prepared
    rows = FeatureRows(None, result)
    writer = None
    for start in range(0, len(rows), BATCH):
        batch = rows.arrow_batch(start, start + BATCH)
        if writer is None:
            writer = pa.ipc.new_stream(pipe, batch.schema)
        writer.write_batch(batch)
    if writer is not None:
        writer.close()  # ends the stream; communicate() closes the pipe
