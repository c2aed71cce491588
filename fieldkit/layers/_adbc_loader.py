"""The loader process behind :mod:`fieldkit.layers.sqlite_bulk` (run as a script, not imported).

Reads one JSON header line and then an Arrow IPC stream of feature rows from stdin, and stores
them with ADBC's SQLite driver in ONE transaction: the layer row (created, or updated with its
version bumped), the deletion of a replaced layer's features and the insert (in the order of
the features' one index, so it grows by appending). Prints ``{"layer_id": N}`` and closes
stdout as soon as the transaction is committed, then checkpoints the WAL (its automatic
checkpoint is off, so the commit does not wait for it). On any failure nothing is committed,
the reason goes to stderr and the exit code is 1.

This runs in its own process because ADBC links its own copy of SQLite: two copies in one
process would each drop the other's POSIX file locks when they close a file.
"""

from __future__ import annotations

import json
import sys


def _execute(cursor, sql: str, params: list | None = None):
    cursor.execute(sql, params or None)
    return cursor.fetchall() if cursor.description else []


def _layer_id(cursor, header: dict) -> int:
    """The layer's id, after inserting its row or updating it (version bumped, features deleted)."""
    found = _execute(cursor, "SELECT id FROM layers WHERE slug = ?", [header["slug"]])
    values = header["values"]
    if found:
        layer_id = int(found[0][0])
        _execute(cursor, "DELETE FROM features WHERE layer_id = ?", [layer_id])
        assignments = ", ".join(f"{name} = ?" for name in values)
        _execute(cursor, f"UPDATE layers SET {assignments}, version = coalesce(version, 0) + 1 WHERE id = ?",
                 [*values.values(), layer_id])
    else:
        row = {**header["insert_defaults"], "slug": header["slug"], "version": 1, **values}
        names, marks = ", ".join(row), ", ".join("?" * len(row))
        layer_id = int(_execute(cursor, f"INSERT INTO layers ({names}) VALUES ({marks}) RETURNING id",
                                list(row.values()))[0][0])
    return layer_id


def main() -> int:
    import adbc_driver_sqlite.dbapi as adbc
    import numpy as np
    import pyarrow as pa

    header = json.loads(sys.stdin.buffer.readline())
    connection = adbc.connect(header["path"], autocommit=True)
    cursor = connection.cursor()
    try:
        try:
            layer_id = _store(cursor, header, np, pa)
        except BaseException as exc:  # report every failure; the transaction dies with the connection
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        print(json.dumps({"layer_id": layer_id}), flush=True)
        sys.stdout.close()  # the caller goes on: the layer is committed and durable
        # Housekeeping after the answer, as SQLite's WAL documentation suggests for big writes:
        # copy the committed pages from the WAL into the database file.
        _execute(cursor, "PRAGMA wal_checkpoint(PASSIVE)")
        return 0
    finally:
        cursor.close()
        connection.close()


def _store(cursor, header: dict, np, pa) -> int:
    """The whole change, in one transaction; the layer's id."""
    for pragma in header["pragmas"]:
        _execute(cursor, f"PRAGMA {pragma}")
    _execute(cursor, "BEGIN IMMEDIATE")
    layer_id = _layer_id(cursor, header)
    reader = pa.ipc.open_stream(sys.stdin.buffer)

    def batches():
        for batch in reader:
            layer = pa.array(np.full(batch.num_rows, layer_id, dtype=np.int64))
            yield batch.add_column(0, "layer_id", layer)

    schema = reader.schema.insert(0, pa.field("layer_id", pa.int64()))
    cursor.adbc_ingest("features", pa.RecordBatchReader.from_batches(schema, batches()), mode="append")
    _execute(cursor, "COMMIT")
    return layer_id


if __name__ == "__main__":
    sys.exit(main())
