"""The loader process behind :mod:`fieldkit.layers.sqlite_bulk` (run as a script, not imported).

Reads one JSON header line and then an Arrow IPC stream of feature rows from stdin, and stores
them with ADBC's SQLite driver in ONE transaction: the layer row (created, or updated with its
version bumped), the deletion of a replaced layer's features and the insert (in the order of
the features' one index, so it grows by appending), and last the layer row's values that were
only known once every row was sent (custom metadata ``layer`` on the stream's last batch). Prints ``{"layer_id": N}`` and closes
stdout as soon as the transaction is committed, then checkpoints the WAL (its automatic
checkpoint is off, so the commit does not wait for it). On any failure nothing is committed,
the reason goes to stderr and the exit code is 1.

This runs in its own process because ADBC links its own copy of SQLite: two copies in one
process would each drop the other's POSIX file locks when they close a file.
"""

from __future__ import annotations

import json
import os
import sys

# ADBC's low-level API: its DB-API module imports pandas, polars and pyarrow.dataset, which
# would triple this process's start-up.
import adbc_driver_manager as adbc
import adbc_driver_sqlite
import pyarrow as pa


def _execute(connection, sql: str, params: list | None = None) -> list[tuple]:
    """Run one statement (``params`` bound to its ``?`` marks); the rows it returns."""
    statement = adbc.AdbcStatement(connection)
    try:
        statement.set_sql_query(sql)
        if params:
            batch = pa.RecordBatch.from_arrays([pa.array([value]) for value in params],
                                               [f"p{i}" for i in range(len(params))])
            schema, array = batch.__arrow_c_array__()
            statement.bind(array, schema)
        handle, _ = statement.execute_query()
        table = pa.RecordBatchReader._import_from_c_capsule(handle.__arrow_c_stream__()).read_all()
        return list(zip(*(column.to_pylist() for column in table.columns)))
    finally:
        statement.close()


def _layer_id(connection, header: dict) -> int:
    """The layer's id, after inserting its row or updating it (version bumped, features deleted)."""
    found = _execute(connection, "SELECT id FROM layers WHERE slug = ?", [header["slug"]])
    values = header["values"]
    if found:
        layer_id = int(found[0][0])
        _execute(connection, "DELETE FROM features WHERE layer_id = ?", [layer_id])
        assignments = ", ".join(f"{name} = ?" for name in values)
        _execute(connection, f"UPDATE layers SET {assignments}, version = coalesce(version, 0) + 1 WHERE id = ?",
                 [*values.values(), layer_id])
    else:
        row = {**header["insert_defaults"], "slug": header["slug"], "version": 1, **values}
        names, marks = ", ".join(row), ", ".join("?" * len(row))
        layer_id = int(_execute(connection, f"INSERT INTO layers ({names}) VALUES ({marks}) RETURNING id",
                                list(row.values()))[0][0])
    return layer_id


def main() -> int:
    header = json.loads(sys.stdin.buffer.readline())
    database = adbc_driver_sqlite.connect(header["path"])
    connection = adbc.AdbcConnection(database)  # autocommit: the transaction is ours (BEGIN/COMMIT)
    try:
        try:
            layer_id = _store(connection, header)
        except BaseException as exc:  # report every failure; the transaction dies with the connection
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        sys.stdout.write(json.dumps({"layer_id": layer_id}))
        sys.stdout.flush()
        os.close(sys.stdout.fileno())  # EOF for the caller, which goes on: the layer is committed and durable
        # Housekeeping after the answer, as SQLite's WAL documentation suggests for big writes:
        # copy the committed pages from the WAL into the database file.
        _execute(connection, "PRAGMA wal_checkpoint(PASSIVE)")
        return 0
    finally:
        connection.close()
        database.close()


def _store(connection, header: dict) -> int:
    """The whole change, in one transaction; the layer's id."""
    for pragma in header["pragmas"]:
        _execute(connection, f"PRAGMA {pragma}")
    _execute(connection, "BEGIN IMMEDIATE")
    layer_id = _layer_id(connection, header)
    reader = pa.ipc.open_stream(sys.stdin.buffer)
    final: dict = {}

    def batches():
        while True:
            try:
                batch, metadata = reader.read_next_batch_with_custom_metadata()
            except StopIteration:
                return
            if metadata and b"layer" in metadata:
                final.update(json.loads(metadata[b"layer"]))
            yield batch.add_column(0, "layer_id", pa.repeat(pa.scalar(layer_id, pa.int64()), batch.num_rows))

    schema = reader.schema.insert(0, pa.field("layer_id", pa.int64()))
    statement = adbc.AdbcStatement(connection)
    try:
        statement.set_options(**{"adbc.ingest.target_table": "features", "adbc.ingest.mode": "adbc.ingest.mode.append"})
        statement.bind_stream(pa.RecordBatchReader.from_batches(schema, batches()).__arrow_c_stream__())
        statement.execute_update()
    finally:
        statement.close()
    if final:  # the layer row's values known only once every row was sent (the finished report)
        _execute(connection, f"UPDATE layers SET {', '.join(f'{name} = ?' for name in final)} WHERE id = ?",
                 [*final.values(), layer_id])
    _execute(connection, "COMMIT")
    return layer_id


if __name__ == "__main__":
    sys.exit(main())
