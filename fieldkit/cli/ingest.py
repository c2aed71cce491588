"""``fieldkit ingest``: store photos as evidence, place them and join them to the layers."""

from __future__ import annotations

import sys
from datetime import timedelta

import click

from ..runtime import Runtime


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--inspection", metavar="NAME", help="Inspection (巡查) to file the photos under; created if new.")
@click.option("--gpx", type=click.Path(exists=True, dir_okay=False), help="GPX track to place photos without GPS.")
@click.option("--time-offset", default="0", show_default=True,
              help="Camera clock correction, true = camera + offset (e.g. +00:01:30, -90s).")
@click.option("--tz", "camera_tz", metavar="ZONE", help="Camera time zone for EXIF times without one (+08:00).")
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes (default: one per CPU core).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
def command(rt: Runtime, paths: tuple[str, ...], inspection: str | None, gpx: str | None,
            time_offset: str, camera_tz: str | None, workers: int | None, quiet: bool) -> None:
    """Ingest photos (files or directories, recursively) into the evidence store.

    Exits with status 1 when any file failed; the summary lists each failure and why.
    """
    from ..photos.geotag import parse_time_offset, parse_tz
    from ..photos.ingest import collect_files, ingest_paths

    offset = parse_time_offset(time_offset) if time_offset else timedelta(0)
    tz = parse_tz(camera_tz) if camera_tz else None
    files, _ = collect_files(paths)
    with _progress_bar(len(files), disable=quiet or not sys.stderr.isatty()) as bar:
        summary = ingest_paths(rt, files, inspection=inspection, gpx=gpx, time_offset=offset, camera_tz=tz,
                               workers=workers, progress=lambda _name: bar.update(1))
    counts = summary.counts()
    click.echo(", ".join(f"{key}: {value}" for key, value in counts.items()))
    for result in summary.failures():
        click.echo(f"failed: {result.error or result.name}", err=True)
    if counts["failed"]:
        sys.exit(1)


def _progress_bar(total: int, disable: bool):
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: the ingest forks worker processes
    return tqdm(total=total, unit="photo", file=sys.stderr, disable=disable, dynamic_ncols=True)
