"""The demo: load the demo layers (``layers/layers.toml``) and sample photos (``photos/``).

:func:`load_demo` is idempotent. A layer is re-imported only when its file or the manifest
changed since it was last imported (or when ``force_layers`` is set), so a second run leaves
layer versions and feature ids alone. Photo files whose SHA-256 is already a stored photo are
skipped (reported as already stored, adding no custody record); ingest deduplicates the rest.
Later steps (demo findings, cases) are added to :data:`DEMO_STEPS`: each takes the runtime,
the :class:`DemoContext` and the summary to fill.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from pathlib import Path
from typing import Any, Callable

import fieldkit

from .errors import ConfigError

BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".heic", ".heif", ".png", ".tif", ".tiff")


@dataclasses.dataclass(frozen=True, slots=True)
class DemoBatch:
    """One demo inspection: a folder of ``photos/`` and how to place its photos."""

    folder: str
    inspection: str
    gpx: str | None = None  # a GPX file in photos/, for cameras without GPS
    camera_tz: dt.tzinfo | None = None  # camera clock zone when the photo has no offset tag
    uploaded_by: str = "inspector"  # demo account credited with the upload


@dataclasses.dataclass(frozen=True, slots=True)
class DemoUser:
    """A demo account. The passwords are public: demo data directories only."""

    username: str
    role: str
    team: str | None
    display_name: str

    @property
    def password(self) -> str:
        """The account's well-known demo password."""
        return f"fieldkit-demo-{self.username}"


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", "admin", None, "管理员（演示）"),
    DemoUser("reviewer", "reviewer", None, "审查员（演示）"),
    DemoUser("inspector", "inspector", "金昌", "巡查员（演示）"),
    DemoUser("inspector2", "inspector", "辽源", "辽源巡查员（演示）"),
)


DEMO_BATCHES: tuple[DemoBatch, ...] = (
    DemoBatch("2025-05_jinchang_great_wall", "2025-05 金昌长城巡查", gpx="track.gpx", camera_tz=BEIJING),
    DemoBatch("2025-06_liaoyuan_fitness", "2025-06 辽源健身器材巡查", uploaded_by="inspector2"),
    DemoBatch("2025-06_liaoyuan_rivers", "2025-06 辽源河道巡查", uploaded_by="inspector2"),
)


@dataclasses.dataclass(slots=True)
class LayerLoad:
    """What happened to one manifest layer."""

    slug: str
    name: str
    kind: str
    features: int
    version: int
    status: str  # "imported" | "replaced" | "unchanged"


@dataclasses.dataclass(slots=True)
class BatchLoad:
    """What happened to one demo inspection's photos."""

    inspection: str
    files: int
    ingested: int = 0
    duplicates: int = 0
    failed: int = 0
    placed_by: dict[str, int] = dataclasses.field(default_factory=dict)
    unplaced: int = 0
    errors: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class DemoSummary:
    """Everything :func:`load_demo` did; :meth:`lines` is what ``fieldkit demo`` prints."""

    layers: list[LayerLoad] = dataclasses.field(default_factory=list)
    batches: list[BatchLoad] = dataclasses.field(default_factory=list)
    rejoined_links: int = 0
    users_created: list[str] = dataclasses.field(default_factory=list)
    user_ids: dict[str, int] = dataclasses.field(default_factory=dict)
    cases: Any = None  # demo_cases.CasesLoad, once the findings-and-cases step has run

    @property
    def photos_ingested(self) -> int:
        """New photos stored by this run."""
        return sum(b.ingested for b in self.batches)

    @property
    def duplicates(self) -> int:
        """Photos already in the evidence store."""
        return sum(b.duplicates for b in self.batches)

    @property
    def failed(self) -> int:
        """Photos that could not be ingested."""
        return sum(b.failed for b in self.batches)

    @property
    def unplaced(self) -> int:
        """Newly ingested photos without a position."""
        return sum(b.unplaced for b in self.batches)

    @property
    def placed_by(self) -> dict[str, int]:
        """Newly ingested photos per location source ("exif", "gpx", ...)."""
        total: dict[str, int] = {}
        for batch in self.batches:
            for key, n in batch.placed_by.items():
                total[key] = total.get(key, 0) + n
        return total

    @property
    def changed(self) -> bool:
        """Whether this run changed anything."""
        return (self.photos_ingested > 0 or bool(self.users_created)
                or any(l.status != "unchanged" for l in self.layers)
                or bool(self.cases and (self.cases.findings or self.cases.cases)))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {"layers": [dataclasses.asdict(l) for l in self.layers],
                "batches": [dataclasses.asdict(b) for b in self.batches],
                "photos_ingested": self.photos_ingested, "duplicates": self.duplicates,
                "failed": self.failed, "unplaced": self.unplaced, "placed_by": self.placed_by,
                "users_created": self.users_created,
                "cases": dataclasses.asdict(self.cases) if self.cases else None}

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        out = [f"layers ({len(self.layers)}):"]
        out += [f"  {l.slug:<26} {l.kind:<12} {l.features:>5} features  v{l.version}  {l.status}"
                for l in self.layers]
        out.append(f"photos ({sum(b.files for b in self.batches)} files):")
        for b in self.batches:
            placed = ", ".join(f"{k} {v}" for k, v in sorted(b.placed_by.items())) or "-"
            out.append(f"  {b.inspection}: {b.files} files, {b.ingested} new, {b.duplicates} already stored, "
                       f"{b.failed} failed; placed by {placed}; unplaced {b.unplaced}")
            out += [f"    ! {e}" for e in b.errors]
        if self.users_created:
            out.append("demo accounts (public passwords, demo data only): " + ", ".join(
                f"{u.username} / {u.password}" for u in DEMO_USERS if u.username in self.users_created))
        if self.cases:
            out += self.cases.lines()
        if self.rejoined_links:
            out.append(f"re-joined photos to replaced layers: {self.rejoined_links} link(s)")
        if not self.changed:
            out.append("nothing changed: the demo was already loaded")
        return out


@dataclasses.dataclass(frozen=True, slots=True)
class DemoContext:
    """Where the demo material is and what to do with it."""

    manifest: Path | None
    photos_dir: Path | None
    force_layers: bool = False


def demo_root() -> Path:
    """The folder holding ``layers/`` and ``photos/``: the repository root above the package."""
    return Path(fieldkit.__file__).resolve().parents[1]


def load_demo(rt, layers_manifest: str | Path | None = None, photos_dir: str | Path | None = None, *,
              load_layers: bool = True, load_photos: bool = True, force_layers: bool = False) -> DemoSummary:
    """Load the demo layers and photos into ``rt``; safe to run again (see the module docstring).

    ``layers_manifest`` defaults to ``<repo>/layers/layers.toml`` and ``photos_dir`` to
    ``<repo>/photos`` (``<repo>`` is :func:`demo_root`). Raises :class:`ConfigError` when they
    are missing (e.g. FieldKit installed from a wheel: pass the paths of a checkout).
    """
    root = demo_root()
    manifest = Path(layers_manifest) if layers_manifest else root / "layers" / "layers.toml"
    photos = Path(photos_dir) if photos_dir else root / "photos"
    if load_layers and not manifest.is_file():
        raise ConfigError(f"demo layers manifest {manifest} not found: pass the path of a FieldKit "
                          "checkout's layers/layers.toml (fieldkit demo --layers PATH)")
    if load_photos and not photos.is_dir():
        raise ConfigError(f"demo photos folder {photos} not found: pass the path of a FieldKit "
                          "checkout's photos/ folder (fieldkit demo --photos PATH)")
    ctx = DemoContext(manifest if load_layers else None, photos if load_photos else None, force_layers)
    summary = DemoSummary()
    for step in DEMO_STEPS:
        step(rt, ctx, summary)
    return summary


# --- steps ---------------------------------------------------------------------------------

def step_users(rt, ctx: DemoContext, summary: DemoSummary) -> None:
    """Create the demo accounts that do not exist yet (existing ones are left as they are)."""
    from .errors import NotFoundError
    from .users import add_user, get_user_by_name

    for demo in DEMO_USERS:
        try:
            user = get_user_by_name(rt, demo.username)
        except NotFoundError:
            user = add_user(rt, demo.username, demo.password, role=demo.role, team=demo.team,
                            display_name=demo.display_name)
            summary.users_created.append(demo.username)
        summary.user_ids[demo.username] = user.id


def step_layers(rt, ctx: DemoContext, summary: DemoSummary) -> None:
    """Import every manifest layer whose file or manifest changed since its last import."""
    if ctx.manifest is None:
        return
    from sqlalchemy import select

    from .layers import import_file, load_manifest
    from .store.models import Layer

    manifest = load_manifest(ctx.manifest)
    for entry in manifest.entries:
        with rt.db.session() as session:
            old = session.scalar(select(Layer).where(Layer.slug == entry.id))
            old_state = None if old is None else (old.feature_count, old.version, old.kind, old.imported_at,
                                                  old.source_file)
        if old_state and not ctx.force_layers and _up_to_date(old_state, entry.file, ctx.manifest):
            summary.layers.append(LayerLoad(entry.id, entry.name, entry.kind, old_state[0], old_state[1],
                                            "unchanged"))
            continue
        layer, _report = import_file(rt, entry.file, entry.kind, **entry.import_options())
        status = "imported" if old_state is None else "replaced"
        summary.layers.append(LayerLoad(entry.id, entry.name, entry.kind, layer.feature_count,
                                        layer.version, status))
        if old_state is not None:
            summary.rejoined_links += _rejoin(rt, layer.id)


def _up_to_date(old_state: tuple, file: Path, manifest: Path) -> bool:
    """True when the stored layer came from ``file`` after it and the manifest last changed."""
    _count, _version, _kind, imported_at, source_file = old_state
    if imported_at is None or source_file != str(file):
        return False
    newest = max(file.stat().st_mtime, manifest.stat().st_mtime)
    changed = dt.datetime.fromtimestamp(newest, dt.timezone.utc).replace(tzinfo=None)
    return imported_at >= changed


def _rejoin(rt, layer_id: int) -> int:
    """Re-link the stored photos to a replaced layer's new features."""
    from .join import rejoin_layer

    return rejoin_layer(rt, layer_id)


def step_photos(rt, ctx: DemoContext, summary: DemoSummary) -> None:
    """Ingest each demo inspection's folder (photos already stored are duplicates)."""
    if ctx.photos_dir is None:
        return
    from .photos.ingest import ingest_paths

    for batch in DEMO_BATCHES:
        folder = ctx.photos_dir / batch.folder
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES) \
            if folder.is_dir() else []
        load = BatchLoad(batch.inspection, len(files))
        summary.batches.append(load)
        if not files:
            load.errors.append(f"{folder}: no photos")
            continue
        new = _not_stored(rt, files)
        load.duplicates = len(files) - len(new)
        if not new:
            continue
        gpx = ctx.photos_dir / batch.gpx if batch.gpx else None
        result = ingest_paths(rt, new, inspection=batch.inspection, gpx=gpx, camera_tz=batch.camera_tz,
                              uploaded_by=summary.user_ids.get(batch.uploaded_by))
        _count(load, result.results)


def _not_stored(rt, files: list[Path]) -> list[Path]:
    """The files whose SHA-256 is not yet a stored photo (so a re-run adds no custody records)."""
    from sqlalchemy import select

    from .store.models import Photo

    hashes = {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in files}
    with rt.db.session() as session:
        known = set(session.scalars(select(Photo.sha256).where(Photo.sha256.in_(set(hashes.values())))))
    return [path for path in files if hashes[path] not in known]


def _count(load: BatchLoad, results) -> None:
    for res in results:
        if res.status == "duplicate":
            load.duplicates += 1
        elif res.status == "failed":
            load.failed += 1
            load.errors.append(f"{res.name}: {res.error}")
        elif res.placed_by in (None, "none"):
            load.ingested += 1
            load.unplaced += 1
        else:
            load.ingested += 1
            load.placed_by[res.placed_by] = load.placed_by.get(res.placed_by, 0) + 1


from .demo_cases import step_cases  # noqa: E402  (demo_cases imports this module's types)

DEMO_STEPS: list[Callable[[Any, DemoContext, DemoSummary], None]] = [
    step_users, step_layers, step_photos, step_cases,
]
