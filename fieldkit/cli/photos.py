"""``fieldkit photos``: read photo metadata, and place photos on a GPX track (nothing is stored).

``read --json`` and ``geotag --json`` print one JSON array with an object per file.
The exit status is 0 when every file was read, 1 when any failed.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta

import click

from ..errors import InputError
from ..photos import geotag as gt
from ..photos.metadata import PhotoMetadata, parse_iso, read_metadata

_TABLE = (("file", 28), ("lat", 11), ("lon", 12), ("alt", 8), ("bearing", 7), ("taken_at", 25), ("size", 11))


@click.group("photos")
def command() -> None:
    """Photo metadata and placement commands."""


def _max_pixels() -> int:
    obj = click.get_current_context().find_root().obj
    settings = getattr(obj, "settings", None)
    return settings.max_image_pixels if settings else 250_000_000


_DECIMALS = {"lat": 6, "lon": 6, "alt": 1, "bearing": 1}


def _cell(name: str, value, width: int) -> str:
    if isinstance(value, float):
        text = f"{value:.{_DECIMALS.get(name, 2)}f}"
    else:
        text = "" if value is None else str(value)
    text = text.replace("\n", " ")
    return (text if len(text) <= width else "…" + text[-(width - 1) :]).ljust(width)


def _print_table(rows: list[dict], extra: tuple[str, ...]) -> None:
    click.echo(" ".join(name.ljust(width) for name, width in _TABLE) + " " + " ".join(extra))
    for row in rows:
        row = {**row, "size": f"{row['width']}x{row['height']}" if row.get("width") else None}
        cells = [_cell(name, row.get(name), width) for name, width in _TABLE]
        tail = [str(row.get(name) or "") for name in extra]
        click.echo(" ".join(cells) + " " + " ".join(tail))


def _emit(rows: list[dict], as_json: bool, extra: tuple[str, ...]) -> None:
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        _print_table(rows, extra)


@command.command("read")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per file.")
def read_command(files: tuple[str, ...], as_json: bool) -> None:
    """Print GPS, time, size and camera of each FILE (JPEG, HEIC/HEIF, PNG, TIFF).

    One bad file never stops the others; the exit status is 1 if any file failed.
    """
    cap = _max_pixels()
    rows = [read_metadata(path, cap).to_dict() for path in files]
    _emit(rows, as_json, ("make", "model", "error"))
    sys.exit(1 if any(row["error"] for row in rows) else 0)


def _photo_time(meta: PhotoMetadata, tz, offset: timedelta) -> datetime:
    """True UTC time of the photo: camera time corrected, or GPS time as is."""
    local = parse_iso(meta.taken_at)
    if local is not None:
        return gt.camera_time_to_utc(local, tz, offset)
    utc = parse_iso(meta.taken_at_utc)
    if utc is None:
        raise InputError(f"{meta.file}: the photo has no capture time")
    return utc


def _placement(meta: PhotoMetadata, track, tz, offset: timedelta, max_gap: float) -> dict:
    row = {"file": meta.file, "lat": None, "lon": None, "alt": None, "placed_by": None,
           "time_utc": None, "reason": None, "error": meta.error}
    if meta.error:
        return row
    if meta.location_source == "exif":
        row.update(lat=meta.lat, lon=meta.lon, alt=meta.alt, placed_by="exif", reason="GPS in the photo")
        return row
    try:
        when = _photo_time(meta, tz, offset)
    except InputError as exc:
        row["reason"] = str(exc)
        return row
    position, reason = gt.locate_explained(track, when, max_gap_s=max_gap)
    row.update(time_utc=when.isoformat(), reason=reason)
    if position is not None:
        row.update(lat=position[0], lon=position[1], alt=position[2], placed_by="gpx")
    return row


def _offset_option(value: str | None) -> timedelta:
    return gt.parse_time_offset(value) if value else timedelta(0)


@command.command("geotag")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--gpx", "gpx", required=True, type=click.Path(dir_okay=False), help="GPX track file.")
@click.option("--time-offset", default=None, help="Camera clock correction: +00:01:30, -90s, 90, -1h2m.")
@click.option(
    "--tz", "tz_text", default=None, help="Camera time zone for photos without one: +08:00, Asia/Shanghai.",
)
@click.option("--max-gap", default=300.0, show_default=True, help="Longest track gap (s) to bridge.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per file.")
def geotag_command(files, gpx, time_offset, tz_text, max_gap, as_json) -> None:
    """Report where each FILE would be placed: its own GPS, else its time on the GPX track.

    Nothing is stored. Photos outside the track or in a long gap are reported unplaced.
    """
    track = gt.parse_gpx(gpx)
    tz = gt.parse_tz(tz_text) if tz_text else None
    offset = _offset_option(time_offset)
    cap = _max_pixels()
    rows = [_placement(read_metadata(path, cap), track, tz, offset, max_gap) for path in files]
    if as_json:
        _emit(rows, True, ())
    else:
        for row in rows:
            where = f"{row['lat']:.6f},{row['lon']:.6f}" if row["placed_by"] else "not placed"
            click.echo(f"{row['file']}\t{where}\t{row['placed_by'] or ''}\t{row['error'] or row['reason']}")
    sys.exit(1 if any(row["error"] for row in rows) else 0)


@command.command("offset")
@click.argument("photo", type=click.Path(dir_okay=False))
@click.option("--lat", type=float, required=True, help="Latitude (WGS84) of where PHOTO was taken.")
@click.option("--lon", type=float, required=True, help="Longitude (WGS84) of where PHOTO was taken.")
@click.option("--gpx", "gpx", required=True, type=click.Path(dir_okay=False), help="GPX track file.")
@click.option("--tz", "tz_text", default=None, help="Camera time zone when the photo lacks one.")
def offset_command(photo, lat, lon, gpx, tz_text) -> None:
    """Estimate the camera clock offset from PHOTO taken at a known place (pass it as --time-offset)."""
    meta = read_metadata(photo, _max_pixels())
    if meta.error:
        raise InputError(meta.error)
    local = parse_iso(meta.taken_at)
    if local is None:
        raise InputError(f"{photo}: the photo has no camera time (DateTimeOriginal)")
    track = gt.parse_gpx(gpx)
    tz = gt.parse_tz(tz_text) if tz_text else None
    offset, distance = gt.estimate_offset_explained(local, lat, lon, track, tz)
    click.echo(gt.format_time_offset(offset))
    click.echo(f"(the track passes {distance:.0f} m from the given place)", err=True)
