"""Ingest photos as evidence: store the original, make derivatives, place, record, join.

Worker processes do the CPU work (read, hash, metadata, derivatives, blob + derivative files);
the parent does every database write, in batches, and never hands a connection to a worker.
Placement order per photo: EXIF GPS → GPX track → device position → manual pin.
One bad file never stops a batch: it becomes a ``failed`` result with its reason.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import timedelta, tzinfo
from pathlib import Path
from typing import Callable, Iterable, Sequence

import shapely
from PIL import Image
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import FieldkitError, InputError, StorageError
from ..store.models import Inspection, Photo, PhotoSubmission, User
from .derivatives import decode_for_preview, render_derivatives
from .evidence import EvidenceStore
from .geotag import TrackPoint, parse_gpx
from .metadata import PhotoMetadata, extract, open_image
from .names import clean_name
from .placement import PlaceContext, capture_time_utc, place

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".heic", ".heif", ".png", ".tif", ".tiff")
DB_BATCH = 64
WORKER_CHUNK = 4  # files a worker takes at a time: each one's fsync overlaps the next one's decode


@dataclass(slots=True)
class IngestResult:
    """What happened to one file: ``ingested``, ``duplicate`` (re-submitted) or ``failed``."""

    name: str
    status: str
    photo_id: int | None = None
    sha256: str | None = None
    placed_by: str | None = None  # exif | gpx | device | manual | none
    error: str | None = None
    note: str | None = None  # how (or why not) it was placed


@dataclass(slots=True)
class IngestSummary:
    """The results of one ingest run with counts: ``ingested``, ``duplicates`` (re-submitted),
    ``unplaced`` (new photos no source could place, kept all the same) and ``failed``."""

    results: list[IngestResult]
    # Largest growth of a worker's resident set above what it had when it started (KiB). A
    # forked worker's ru_maxrss starts at its parent's size, which is not the worker's doing.
    peak_worker_kb: int = 0

    @property
    def ingested(self) -> int:  # noqa: D102
        return sum(r.status == "ingested" for r in self.results)

    @property
    def duplicates(self) -> int:  # noqa: D102
        return sum(r.status == "duplicate" for r in self.results)

    @property
    def failed(self) -> int:  # noqa: D102
        return sum(r.status == "failed" for r in self.results)

    @property
    def unplaced(self) -> int:  # noqa: D102
        return sum(r.status == "ingested" and r.placed_by == "none" for r in self.results)

    def failures(self) -> list[IngestResult]:
        """The failed results, each with its reason."""
        return [r for r in self.results if r.status == "failed"]

    def counts(self) -> dict[str, int]:
        """``{"ingested", "duplicates", "unplaced", "failed"}`` counts."""
        return {"ingested": self.ingested, "duplicates": self.duplicates,
                "unplaced": self.unplaced, "failed": self.failed}


@dataclass(slots=True)
class Processed:
    """What a worker sends back for one file (metadata only, never the bytes)."""

    name: str
    size: int = 0
    meta: PhotoMetadata | None = None
    error: str | None = None
    maxrss_kb: int = 0


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """What a worker needs to know: the store and the derivative sizes."""

    store_root: str
    preview_px: int
    thumb_px: int
    max_pixels: int


# -- worker side ------------------------------------------------------------------------------

_worker: dict = {}


PILLOW_BLOCKS_MAX = 16  # 16 MiB blocks Pillow may keep for reuse in a worker (see below)


def tune_image_memory() -> None:
    """Let Pillow keep freed image blocks for the next photo instead of returning them.

    Every photo allocates the same large buffers (decoded image, preview). Returned to the
    system, they come back as fresh pages that must be faulted in and zeroed again, which on
    the VMs FieldKit runs on cost about 20 ms a photo. Called in ingest workers only.
    """
    Image.core.set_blocks_max(PILLOW_BLOCKS_MAX)


def _init_worker(opts: WorkerOptions) -> None:
    tune_image_memory()
    _worker["opts"] = opts
    _worker["store"] = EvidenceStore(opts.store_root, max_pixels=opts.max_pixels)
    _worker["rss0_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _start_path(path: str) -> tuple[Processed, Callable[[], object] | None]:
    """Worker side of one file from disk, up to the original's fsync (see :func:`start_processing`)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return Processed(path, error=f"{path}: cannot read file ({exc.strerror or exc})"), None
    try:
        return start_processing(_worker["store"], data, path, _worker["opts"])
    except StorageError as exc:
        return Processed(path, len(data), error=str(exc)), None


def _finish_path(item: Processed, wait: Callable[[], object] | None) -> Processed:
    try:
        item = finish_processing(item, wait)
    except StorageError as exc:
        item = Processed(item.name, item.size, error=str(exc))
    item.maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - _worker["rss0_kb"]
    return item


def _process_paths(paths: Sequence[str]) -> list[Processed]:
    """Worker entry point: a few files, each finished (its original durable) while the next one
    is decoded, so the original's write and fsync overlap the next photo's work. Never raises."""
    done, pending = [], None
    for path in paths:
        started = _start_path(path)
        if pending is not None:
            done.append(_finish_path(*pending))
        pending = started
    if pending is not None:
        done.append(_finish_path(*pending))
    return done


def process_bytes(store: EvidenceStore, data: bytes, name: str, opts: WorkerOptions) -> Processed:
    """Hash, read metadata, make derivatives and store one photo; bad images become errors.

    :class:`StorageError` propagates. (:func:`start_processing` and :func:`finish_processing`
    split the same work around the wait for the original's fsync.)
    """
    return finish_processing(*start_processing(store, data, name, opts))


def start_processing(store: EvidenceStore, data: bytes, name: str,
                     opts: WorkerOptions) -> tuple[Processed, Callable[[], object] | None]:
    """All of :func:`process_bytes` but the wait for the original: returns the result and the
    ``wait`` to pass to :func:`finish_processing` before the photo may be recorded.

    The image is decoded before the original is stored, so a broken file leaves no blob; the
    blob's write and fsync then overlap the resize and encode, and whatever the caller does
    before finishing. :class:`StorageError` propagates (after waiting for the blob).
    """
    stored = None
    try:
        with open_image(data, name, opts.max_pixels) as img:
            meta = extract(img, data, name)
            if store.exists(meta.sha256) and store.has_derivatives(meta.sha256):
                return Processed(name, len(data), meta), None
            decoded = decode_for_preview(img, data, opts.preview_px)
            stored = store.put_in_background(data, meta.sha256)
            made = render_derivatives(decoded, opts.preview_px, opts.thumb_px)
        store.put_derivative(meta.sha256, "preview", made.preview)
        store.put_derivative(meta.sha256, "thumb", made.thumb)
    except StorageError:
        finish_processing(None, stored)  # the blob's own error, if any, wins
        raise
    except FieldkitError as exc:
        return Processed(name, len(data), error=str(exc)), stored
    except Exception as exc:  # noqa: BLE001 - any decoder failure is this file's problem only
        return Processed(name, len(data), error=f"{name}: cannot decode image ({type(exc).__name__}: {exc})"), stored
    return Processed(name, len(data), meta), stored


def finish_processing(item: Processed | None, wait: Callable[[], object] | None) -> Processed | None:
    """Wait until the original of ``item`` is durable (re-raising its :class:`StorageError`)."""
    if wait is not None:
        wait()
    return item


# -- database (parent only) -------------------------------------------------------------------


def _new_photo(item: Processed, ctx: PlaceContext, inspection: int | None, user: int | None) -> Photo:
    meta, where = item.meta, place(item.meta, ctx)
    geom = shapely.Point(where.lon, where.lat) if where.lat is not None else None
    return Photo(
        sha256=meta.sha256, original_name=clean_name(item.name), size_bytes=item.size,
        format=meta.format, width=meta.width, height=meta.height, orientation=meta.orientation,
        make=meta.make, model=meta.model, taken_at=meta.taken_at, taken_at_utc=capture_time_utc(meta, ctx),
        lat=where.lat, lon=where.lon, alt=where.alt, bearing=meta.bearing, location_source=where.source,
        location_note=where.note, geom=geom, metadata_json=meta.to_dict(),
        inspection_id=inspection, uploaded_by_id=user,
    )


def _record_one(s: Session, item: Processed, known: dict, ctx: PlaceContext,
                inspection: int | None, user: int | None) -> IngestResult:
    """Insert the photo (or find it) and add its custody record."""
    if item.error is not None:
        return IngestResult(item.name, "failed", error=item.error)
    sha = item.meta.sha256
    if sha not in known:
        photo = _new_photo(item, ctx, inspection, user)
        try:
            with s.begin_nested():
                s.add(photo)
                s.flush()
        except IntegrityError:  # another process inserted the same bytes just now
            row = s.execute(select(Photo.id, Photo.location_source).where(Photo.sha256 == sha)).one()
            known[sha] = (row.id, row.location_source)
        else:
            s.add(_submission(photo.id, sha, item.name, "ingested", inspection, user))
            known[sha] = (photo.id, photo.location_source)
            return IngestResult(item.name, "ingested", photo.id, sha, photo.location_source,
                                note=photo.location_note)
    photo_id, source = known[sha]
    s.add(_submission(photo_id, sha, item.name, "resubmitted", inspection, user))
    return IngestResult(item.name, "duplicate", photo_id, sha, source, note="already in the store: re-submitted")


def _submission(photo_id, sha, name, action, inspection, user) -> PhotoSubmission:
    return PhotoSubmission(photo_id=photo_id, sha256=sha, action=action, original_name=clean_name(name), inspection_id=inspection, submitted_by_id=user)


def record_batch(rt, items: Sequence[Processed], ctx: PlaceContext,
                 inspection: int | None = None, user: int | None = None) -> list[IngestResult]:
    """Write one batch of processed files in one write transaction; results in input order."""
    shas = [i.meta.sha256 for i in items if i.error is None]
    with rt.db.session(write=True) as s:
        rows = s.execute(select(Photo.sha256, Photo.id, Photo.location_source).where(Photo.sha256.in_(shas)))
        known = {r.sha256: (r.id, r.location_source) for r in rows} if shas else {}
        try:
            with s.begin_nested():
                return _record_all(s, items, dict(known), ctx, inspection, user)
        except IntegrityError:  # a concurrent writer stored some of these bytes: one by one
            return [_record_one(s, item, known, ctx, inspection, user) for item in items]


def _record_all(s: Session, items: Sequence[Processed], known: dict, ctx: PlaceContext,
                inspection: int | None, user: int | None) -> list[IngestResult]:
    """The batch in one flush: new photos first, then every custody record (the fast path)."""
    new: dict[str, Photo] = {}
    for item in items:
        if item.error is None and item.meta.sha256 not in known and item.meta.sha256 not in new:
            new[item.meta.sha256] = _new_photo(item, ctx, inspection, user)
    s.add_all(new.values())
    s.flush()
    known.update({sha: (p.id, p.location_source) for sha, p in new.items()})
    results, first = [], set()
    for item in items:
        if item.error is not None:
            results.append(IngestResult(item.name, "failed", error=item.error))
            continue
        sha = item.meta.sha256
        photo_id, source = known[sha]
        if sha in new and sha not in first:
            first.add(sha)
            s.add(_submission(photo_id, sha, item.name, "ingested", inspection, user))
            results.append(IngestResult(item.name, "ingested", photo_id, sha, source, note=new[sha].location_note))
        else:
            s.add(_submission(photo_id, sha, item.name, "resubmitted", inspection, user))
            results.append(IngestResult(item.name, "duplicate", photo_id, sha, source,
                                        note="already in the store: re-submitted"))
    return results


def _inspection_id(rt, name: str | None) -> int | None:
    """Create or reuse the Inspection called ``name``."""
    if name is None:
        return None
    name = name.strip()
    if not name or len(name) > 200:
        raise InputError(f"inspection name {name!r}: must be 1-200 characters")
    with rt.db.session(write=True) as s:
        found = s.scalar(select(Inspection.id).where(Inspection.name == name))
        if found is not None:
            return found
        row = Inspection(name=name)
        try:
            with s.begin_nested():
                s.add(row)
                s.flush()
        except IntegrityError:
            return s.scalar(select(Inspection.id).where(Inspection.name == name))
        return row.id


def _check_user(rt, user_id: int | None) -> None:
    if user_id is None:
        return
    with rt.db.session() as s:
        if s.get(User, user_id) is None:
            raise InputError(f"uploaded_by: no user with id {user_id}")


# -- public API -------------------------------------------------------------------------------


def collect_files(paths: Iterable[str | Path]) -> tuple[list[str], list[IngestResult]]:
    """Image files under ``paths`` (directories recursively, by extension, case-insensitive)
    plus a failed result for each path that does not exist."""
    files: list[str] = []
    missing: list[IngestResult] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = (Path(d) / f for d, _, names in os.walk(path) for f in names)
            files.extend(sorted(str(p) for p in found if p.suffix.lower() in IMAGE_EXTENSIONS))
        elif path.is_file():
            files.append(str(path))
        else:
            missing.append(IngestResult(str(path), "failed", error=f"{path}: no such file or directory"))
    return list(dict.fromkeys(files)), missing


def _worker_options(rt) -> WorkerOptions:
    s = rt.settings
    return WorkerOptions(str(s.evidence_dir), s.preview_px, s.thumb_px, s.max_image_pixels)


def _process_all(rt, files: list[str], workers: int) -> Iterable[Processed]:
    opts = _worker_options(rt)
    chunks = [files[i:i + WORKER_CHUNK] for i in range(0, len(files), WORKER_CHUNK)]
    if workers <= 1:
        _init_worker(opts)
        for chunk in map(_process_paths, chunks):
            yield from chunk
        return
    if "db" in rt.__dict__:
        rt.db.dispose()  # no connection may be carried across fork
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    done = 0
    try:
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(opts,)) as pool:
            for chunk in pool.map(_process_paths, chunks):
                for item in chunk:
                    done += 1
                    yield item
    except BrokenProcessPool:  # a decoder crashed its process: report the rest, keep what is done
        for path in files[done:]:
            yield Processed(path, error=f"{path}: not processed: a worker process died (re-run to retry)")


def ingest_paths(rt, paths: Iterable[str | Path], *, inspection: str | None = None,
                 gpx: str | Path | bytes | list[TrackPoint] | None = None, time_offset: timedelta = timedelta(0),
                 camera_tz: tzinfo | None = None, uploaded_by: int | None = None, workers: int | None = None,
                 progress: Callable[[str], None] | None = None) -> IngestSummary:
    """Ingest photo files and directories; ``progress(name)`` is called as each file is done."""
    track = gpx if isinstance(gpx, list) or gpx is None else parse_gpx(gpx)
    ctx = PlaceContext(track, time_offset, camera_tz)
    files, results = collect_files(paths)
    _check_user(rt, uploaded_by)
    inspection_id = _inspection_id(rt, inspection)
    rt.evidence  # open (and sweep) the store once in the parent  # noqa: B018
    count = max(1, min(workers or rt.settings.ingest_workers or os.cpu_count() or 1, len(files)))
    peak, batch = 0, []
    for item in _process_all(rt, files, count):
        if progress is not None:
            progress(item.name)
        peak = max(peak, item.maxrss_kb)
        batch.append(item)
        if len(batch) >= DB_BATCH:
            results += record_batch(rt, batch, ctx, inspection_id, uploaded_by)
            batch = []
    results += record_batch(rt, batch, ctx, inspection_id, uploaded_by) if batch else []
    _join([r.photo_id for r in results if r.status == "ingested"], rt)
    return IngestSummary(results, peak)


def ingest_upload(rt, data: bytes, name: str, *, inspection: str | None = None, uploaded_by: int | None = None,
                  track: list[TrackPoint] | None = None, time_offset: timedelta = timedelta(0),
                  camera_tz: tzinfo | None = None, manual: tuple[float, float, str] | None = None,
                  device: tuple[float, float, float] | None = None) -> IngestResult:
    """Ingest one uploaded photo in this process. A bad image gives a ``failed`` result;
    a storage problem raises :class:`StorageError`; bad coordinates raise :class:`InputError`."""
    ctx = PlaceContext(track, time_offset, camera_tz, device, manual)
    ctx.check()  # refuse bad coordinates before storing anything
    _check_user(rt, uploaded_by)
    inspection_id = _inspection_id(rt, inspection)
    item = process_bytes(rt.evidence, data, name, _worker_options(rt))
    result = record_batch(rt, [item], ctx, inspection_id, uploaded_by)[0]
    _join([result.photo_id] if result.status == "ingested" else [], rt)
    return result


def _join(photo_ids: list[int], rt) -> None:
    if photo_ids:
        from ..join import join_photos

        join_photos(rt, photo_ids)
