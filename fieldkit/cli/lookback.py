"""``fieldkit lookback``: due look-backs (with an iCalendar export) and trip plans (GPX/KML)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from ..errors import InputError, StorageError
from ..runtime import Runtime

_GROUPS = (("overdue", "已逾期 overdue"), ("this_week", "本周 this week"), ("later", "以后 later"))


@click.group("lookback")
def command() -> None:
    """Look-back checks (回头看): what is due, and trip plans for phones."""


@command.command("due")
@click.option("--ics", "ics_path", type=click.Path(dir_okay=False), help="Also write the dates as iCalendar.")
@click.option("--inspector", "inspector_id", type=int, help="Only cases of this user id.")
@click.option("--team", help="Only cases of inspectors in this team.")
@click.option("--body", "responsible_body", help="Only cases against this responsible body.")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), help="Group as of this date (default: today in China).")
@click.pass_obj
def due(rt: Runtime, ics_path: str | None, inspector_id: int | None, team: str | None,
        responsible_body: str | None, today: dt.datetime | None) -> None:
    """List the look-backs due: overdue, this week, later."""
    from ..lookback import due_ics, due_lookbacks

    listing = due_lookbacks(rt, today=today.date() if today else None, inspector_id=inspector_id, team=team,
                            responsible_body=responsible_body)
    for key, label in _GROUPS:
        items = getattr(listing, key)
        click.echo(f"{label}: {len(items)}")
        for i in items:
            click.echo(f"  {i.due_on}  case {i.case_id}  {i.title}  [{i.responsible_body}]  ({i.basis}, "
                       f"{i.days_left:+d} d)")
    if ics_path:
        _write(Path(ics_path), due_ics(listing.items).encode("utf-8"))
        click.echo(f"wrote {len(listing.items)} event(s) to {ics_path}")


@command.command("plan")
@click.argument("case_ids", nargs=-1, type=int, required=True)
@click.option("--start", required=True, metavar="LON,LAT", help="Where the trip starts (the office), WGS84.")
@click.option("--gpx", "gpx_path", type=click.Path(dir_okay=False), help="Write the trip as GPX.")
@click.option("--kml", "kml_path", type=click.Path(dir_okay=False), help="Write the trip as KML.")
@click.option("--return", "return_to_start", is_flag=True, help="Plan a round trip back to the start.")
@click.pass_obj
def plan(rt: Runtime, case_ids: tuple[int, ...], start: str, gpx_path: str | None, kml_path: str | None,
         return_to_start: bool) -> None:
    """Order the open findings of CASE_IDS into a trip and print the list to re-shoot."""
    from ..lookback import plan_trip, write_gpx, write_kml

    trip = plan_trip(rt, case_ids, _lonlat(start), return_to_start=return_to_start)
    for stop in trip.stops:
        photos = ", ".join(f"#{p}" for p in stop.old_photo_ids) or "—"
        click.echo(f"{stop.order:>3}. {stop.place or stop.feature_name or '—'}  {stop.chainage or ''}  "
                   f"case {stop.case_id} finding {stop.finding_id}  +{stop.leg_m / 1000:.2f} km  "
                   f"re-shoot: {photos}")
    click.echo(f"total {trip.total_m / 1000:.2f} km (given order {trip.given_order_m / 1000:.2f} km)")
    if trip.unplaced_finding_ids:
        click.echo("no position: finding " + ", ".join(map(str, trip.unplaced_finding_ids)))
    if gpx_path:
        write_gpx(trip, gpx_path)
        click.echo(f"wrote {gpx_path}")
    if kml_path:
        write_kml(trip, kml_path)
        click.echo(f"wrote {kml_path}")


def _lonlat(text: str) -> tuple[float, float]:
    try:
        lon, lat = (float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"--start {text!r}: expected LON,LAT, e.g. 101.97,38.25") from None
    return lon, lat


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc}") from exc
