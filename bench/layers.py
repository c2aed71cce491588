"""Benchmark: importing ~1,000,000 line segments vs. reading them with pyogrio alone.

Run ``python bench/layers.py`` (no arguments). Generates a GeoPackage of N two-or-three-vertex
LineStrings inside Gansu in a temporary directory (not timed), times
``pyogrio.read_dataframe(use_arrow=True)`` (what the importer uses; best of 3), then the full
``fieldkit.layers.import_file`` (read, validate, reproject, lengths, store in a fresh SQLite
database; best of 2, each into a new data directory). Target: import <= 5x the bare read.
The last line is one JSON object.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fieldkit.layers  # noqa: E402  (sets OGR_SKIP before GDAL loads)
import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import pyogrio  # noqa: E402
import shapely  # noqa: E402

from fieldkit.layers.sqlite_bulk import wait_for_loaders  # noqa: E402
from fieldkit.runtime import Runtime  # noqa: E402
from fieldkit.settings import Settings  # noqa: E402

N = int(os.environ.get("FIELDKIT_BENCH_FEATURES", 1_000_000))
READS, IMPORTS = 3, 3  # best of each: noise from other processes only ever adds time
GANSU = (93.0, 33.0, 108.0, 42.0)


def make_lines(n: int, seed: int = 42) -> np.ndarray:
    """``n`` LineStrings of 2 or 3 vertices, each a few hundred metres long, inside Gansu."""
    rng = np.random.default_rng(seed)
    vertices = rng.integers(2, 4, size=n)
    starts = np.column_stack([rng.uniform(GANSU[0], GANSU[2], n), rng.uniform(GANSU[1], GANSU[3], n)])
    owner = np.repeat(np.arange(n), vertices)
    first = np.r_[0, np.cumsum(vertices)[:-1]]
    step = np.arange(owner.size) - first[owner]
    coords = starts[owner] + step[:, None] * rng.normal(0, 0.002, size=(owner.size, 2))
    return shapely.linestrings(coords, indices=owner)


def generate(path: Path, n: int) -> None:
    """Write the benchmark GeoPackage (EPSG:4326, with an id and a name column)."""
    frame = gpd.GeoDataFrame(
        {"seg_id": np.arange(n), "name": np.char.add("段", np.arange(n).astype(str)).astype(object)},
        geometry=make_lines(n), crs="EPSG:4326",
    )
    pyogrio.write_dataframe(frame, path, layer="segments", use_arrow=True)


def quiesce() -> None:
    """Before each timed run: let the previous run's background work end (an import's loader
    checkpoints its WAL after answering) and flush dirty pages, so no run pays for another's I/O."""
    wait_for_loaders()
    os.sync()


def main() -> dict:
    with tempfile.TemporaryDirectory(prefix="fieldkit-bench-") as tmp:
        path = Path(tmp) / "segments.gpkg"
        t0 = time.perf_counter()
        generate(path, N)
        print(f"generated {N:,} lines in {time.perf_counter() - t0:.1f} s ({path.stat().st_size / 1e6:.0f} MB)")

        reads = []
        for _ in range(READS):
            quiesce()
            t0 = time.perf_counter()
            frame = pyogrio.read_dataframe(path, use_arrow=True)
            reads.append(time.perf_counter() - t0)
            assert len(frame) == N
            del frame
        pyogrio_s = min(reads)
        print(f"pyogrio.read_dataframe(use_arrow=True): best of {READS} {pyogrio_s:.2f} s "
              f"({', '.join(f'{r:.2f}' for r in reads)})")

        imports = []
        for run in range(IMPORTS):
            rt = Runtime(Settings.from_env(env={}, data_dir=Path(tmp) / f"data{run}"))
            rt.db  # migrate before timing
            quiesce()
            t0 = time.perf_counter()
            layer, report = fieldkit.layers.import_file(rt, path, "great_wall", slug="bench", id_field="seg_id")
            imports.append(time.perf_counter() - t0)
            rt.db.dispose()
            assert layer.feature_count == N, report.to_dict()
        import_s = min(imports)
        print(f"fieldkit.layers.import_file: best of {IMPORTS} {import_s:.2f} s "
              f"({', '.join(f'{r:.2f}' for r in imports)}; {report.total_length_m / 1000:,.0f} km of lines)")
        ratio = import_s / pyogrio_s
        print(f"ratio {ratio:.2f}x (target <= 5x)")
        return {"features": N, "import_s": round(import_s, 3), "pyogrio_s": round(pyogrio_s, 3),
                "ratio": round(ratio, 2)}


if __name__ == "__main__":
    print(json.dumps(main()))
