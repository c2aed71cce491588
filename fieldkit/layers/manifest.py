"""The layers manifest (``layers/layers.toml``): one ``[[layer]]`` table per layer.

:func:`load_manifest` validates every entry and raises one :class:`ConfigError` listing every
problem, each naming the entry (its position and id): unknown keys, missing or mistyped
fields, a bad kind, CRS or encoding, a missing file, duplicate ids.
"""

from __future__ import annotations

import codecs
import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

from ..errors import ConfigError, CRSError
from ..geo.crs import resolve_crs
from ..store.models import LAYER_KINDS

REQUIRED = {"id": str, "name": str, "kind": str, "file": str}
OPTIONAL = {
    "crs": str, "encoding": str, "id_field": str, "name_field": str, "x_field": str, "y_field": str,
    "tolerance_m": (int, float), "responsible_body": str, "responsible_body_field": str,
    "source": str, "licence": str, "demo": bool, "swap_xy": bool,
}
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")


@dataclasses.dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One validated ``[[layer]]`` entry; ``file`` is resolved against the manifest's folder."""

    id: str
    name: str
    kind: str
    file: Path
    crs: str | None = None
    encoding: str | None = None
    id_field: str | None = None
    name_field: str | None = None
    x_field: str | None = None
    y_field: str | None = None
    tolerance_m: float | None = None
    responsible_body: str | None = None
    responsible_body_field: str | None = None
    source: str | None = None
    licence: str | None = None
    demo: bool = False
    swap_xy: bool = False

    def import_options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`fieldkit.layers.import_file` (beyond path and kind)."""
        skip = {"id", "name", "kind", "file", "crs", "encoding"}
        extra = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip}
        return {"crs": self.crs, "encoding": self.encoding, "name": self.name, "slug": self.id,
                **{k: v for k, v in extra.items() if v is not None}}


@dataclasses.dataclass(frozen=True, slots=True)
class Manifest:
    """A validated manifest."""

    path: Path
    entries: tuple[ManifestEntry, ...]


def load_manifest(path: str | Path) -> Manifest:
    """Parse and validate the manifest at ``path``; raise :class:`ConfigError` listing all problems."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such manifest") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    errors = [f"{path}: unknown top-level key {k!r} (only [[layer]] tables)" for k in document if k != "layer"]
    tables = document.get("layer", [])
    if not isinstance(tables, list) or not tables:
        errors.append(f"{path}: no [[layer]] entries")
        tables = []
    entries, seen = [], {}
    for number, table in enumerate(tables, start=1):
        entry = _entry(path, number, table, errors)
        if entry is None:
            continue
        if entry.id in seen:
            errors.append(f"{path}: layer #{number} (id {entry.id!r}): duplicate id, also layer #{seen[entry.id]}")
        seen.setdefault(entry.id, number)
        entries.append(entry)
    if errors:
        raise ConfigError("invalid layers manifest:\n  " + "\n  ".join(errors))
    return Manifest(path, tuple(entries))


def _entry(path: Path, number: int, table: Any, errors: list[str]) -> ManifestEntry | None:
    where = f"{path}: layer #{number}"
    if not isinstance(table, dict):
        errors.append(f"{where}: not a table")
        return None
    if isinstance(table.get("id"), str):
        where += f" (id {table['id']!r})"
    before = len(errors)
    for key in table:
        if key not in REQUIRED and key not in OPTIONAL:
            errors.append(f"{where}: unknown key {key!r}")
    for key, kind in {**REQUIRED, **OPTIONAL}.items():
        if key in REQUIRED and key not in table:
            errors.append(f"{where}: missing required field {key!r}")
        elif key in table and (not isinstance(table[key], kind) or (kind != bool and isinstance(table[key], bool))):
            errors.append(f"{where}: {key} = {table[key]!r} is not a {_type_name(kind)}")
    if len(errors) == before:
        errors.extend(f"{where}: {msg}" for msg in _semantic_errors(path, table))
    if len(errors) > before:
        return None
    values = dict(table, file=(path.parent / table["file"]))
    return ManifestEntry(**values)


def _semantic_errors(path: Path, table: dict[str, Any]) -> list[str]:
    out = []
    if not SLUG.match(table["id"]):
        out.append(f"id {table['id']!r} is not a slug (lowercase letters, digits, - and _)")
    if table["kind"] not in LAYER_KINDS:
        out.append(f"kind {table['kind']!r} is not one of {', '.join(LAYER_KINDS)}")
    if not (path.parent / table["file"]).is_file():
        out.append(f"file {table['file']!r} not found (looked for {path.parent / table['file']})")
    if "crs" in table:
        try:
            resolve_crs(table["crs"])
        except CRSError as exc:
            out.append(f"crs {table['crs']!r}: {exc}")
    if "encoding" in table:
        try:
            codecs.lookup(table["encoding"])
        except LookupError:
            out.append(f"encoding {table['encoding']!r} is unknown")
    if "tolerance_m" in table and not table["tolerance_m"] > 0:
        out.append(f"tolerance_m = {table['tolerance_m']!r} must be positive")
    return out


def _type_name(kind: Any) -> str:
    return "number" if kind == (int, float) else {str: "string", bool: "boolean"}[kind]


def import_manifest(rt, path: str | Path) -> list[tuple[Any, Any]]:
    """Import every entry of the manifest at ``path``; returns ``[(Layer, ImportReport), ...]``."""
    from .importer import import_file

    manifest = load_manifest(path)
    return [import_file(rt, e.file, e.kind, **e.import_options()) for e in manifest.entries]
