"""Demo look-backs (回头看) for :mod:`fieldkit.demo_cases`: planned ones left due, done ones judged.

The demo photos hold no second visit, so a done look-back draws its re-shot photos: each is the
finding's first old photo, upright, framed a little tighter, with a caption band (回头看, the date,
the verdict, 演示照片 DEMO), saved as a JPEG whose EXIF carries the old spot's GPS position (2 m
off), the old bearing and the look-back time (+08:00). They are ingested like any upload into the
look-back inspection, so custody, derivatives and placement are the real ones. Pixels, EXIF and
times are fixed, so two fresh demo databases hold the same photos.
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps
from sqlalchemy import select

from .errors import StorageError
from .lookback import conclude_lookback, pair_manually, plan_lookback, record_verdict
from .lookback.verdicts import VERDICT_ZH
from .store.models import Photo
from .store.models_cases import Case, FindingPhoto

CHINA = dt.timezone(dt.timedelta(hours=8))
PLANNED_AFTER_REPLY_DUE = dt.timedelta(days=7)
DONE_AFTER_FOLLOW_UP = dt.timedelta(days=14)
OFFSET_M = 2.0
_GPS, _EXIF = 0x8825, 0x8769


def demo_lookback(rt, case_id: int, spec, finding_ids: list[int], user_ids: dict[str, int],
                  last: dt.date) -> str:
    """Plan (``spec.lookback == "planned"``) or do a look-back of the case; its outcome or ``planned``.

    ``last`` is the day of the case's last action; ``spec`` a :class:`~fieldkit.demo_cases.DemoCase`."""
    inspector, reviewer = user_ids[spec.inspector], user_ids["reviewer"]
    place = spec.inspection.split(" ", 1)[-1].replace("巡查", "")
    if spec.lookback == "planned":
        with rt.db.session() as s:
            reply_due = s.get(Case, case_id).reply_due
        day = reply_due + PLANNED_AFTER_REPLY_DUE
        plan_lookback(rt, case_id, planned_on=day, actor_id=reviewer, inspector_ids=[inspector],
                      inspection=f"{day:%Y-%m} {place}回头看", note="演示：已计划，待实施", at=_at(day - dt.timedelta(days=10)))
        return "planned"
    day = last + DONE_AFTER_FOLLOW_UP
    lb = plan_lookback(rt, case_id, planned_on=day, actor_id=reviewer, inspector_ids=[inspector],
                       inspection=f"{day:%Y-%m} {place}回头看", at=_at(day - dt.timedelta(days=5)))
    new = _reshoot(rt, finding_ids, spec.lookback, day, lb.inspection_name, inspector)
    for finding_id, photo_id in zip(finding_ids, new):
        pair_manually(rt, lb.id, finding_id, photo_id, inspector, at=_at(day, 16))
        record_verdict(rt, lb.id, finding_id, spec.lookback, reviewer, at=_at(day + dt.timedelta(days=1)),
                       note=f"演示：回头看现场复拍，{VERDICT_ZH[spec.lookback]}")
    return conclude_lookback(rt, lb.id, reviewer, done_on=day, at=_at(day + dt.timedelta(days=1), 11)).outcome


def _reshoot(rt, finding_ids: list[int], verdict: str, day: dt.date, inspection: str, inspector: int) -> list[int]:
    """Draw and ingest one re-shot photo per finding; their photo ids in the same order."""
    from .photos.ingest import ingest_paths

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for k, finding_id in enumerate(finding_ids):
            path = Path(tmp) / f"回头看_{day:%Y%m%d}_{k + 1}.jpg"
            path.write_bytes(reshot_jpeg(rt, _old_photo(rt, finding_id), verdict, day, k))
            paths.append(path)
        summary = ingest_paths(rt, paths, inspection=inspection, uploaded_by=inspector, workers=1)
    by_name = {Path(r.name).name: r for r in summary.results}
    failed = [f"{n}: {r.error}" for n, r in by_name.items() if r.photo_id is None]
    if failed:
        raise StorageError("demo look-back photos not ingested: " + "; ".join(failed))
    return [by_name[p.name].photo_id for p in paths]


def _old_photo(rt, finding_id: int) -> Photo:
    with rt.db.session() as s:
        return s.scalars(select(Photo).join(FindingPhoto, FindingPhoto.photo_id == Photo.id)
                         .where(FindingPhoto.finding_id == finding_id).order_by(FindingPhoto.position)).first()


def reshot_jpeg(rt, old: Photo, verdict: str, day: dt.date, k: int) -> bytes:
    """The re-shot drawing of ``old`` (module docstring) as JPEG bytes with EXIF."""
    with Image.open(rt.evidence.path(old.sha256)) as im:
        image = ImageOps.exif_transpose(im).convert("RGB")
    w, h = image.size
    image = image.crop((w // 25, h // 25, w - w // 25, h - h // 25)).resize((w, h))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, h - h // 8, w, h), fill=(20, 90, 40) if verdict == "rectified" else (150, 30, 30))
    text = f"回头看 {day} {VERDICT_ZH[verdict]} 演示照片 DEMO"
    draw.text((w // 30, h - h // 10), text, fill="white", font=_font(max(h // 22, 12)))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=85, exif=_exif(old, day, k))
    return buf.getvalue()


def _font(size: int):
    try:
        from .reports.plotting import cjk_font_file

        return ImageFont.truetype(str(cjk_font_file().path), size)
    except Exception:  # noqa: BLE001  (no CJK font: the caption is still drawn, boxes for Chinese)
        return ImageFont.load_default()


def _exif(old: Photo, day: dt.date, k: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "HUAWEI", "FieldKit demo re-shoot"
    sub = exif.get_ifd(_EXIF)
    sub[0x9003] = f"{day:%Y:%m:%d} {10 + k // 6:02d}:{(k % 6) * 10:02d}:00"
    sub[0x9011] = "+08:00"
    if old.lat is not None and old.lon is not None:
        gps = exif.get_ifd(_GPS)
        lat = old.lat - OFFSET_M / 111_320
        gps[1], gps[2] = ("N" if lat >= 0 else "S"), _dms(abs(lat))
        gps[3], gps[4] = ("E" if old.lon >= 0 else "W"), _dms(abs(old.lon))
        if old.bearing is not None:
            gps[16], gps[17] = "T", float(old.bearing)
    return exif


def _dms(value: float) -> tuple[float, float, float]:
    deg = int(value)
    minutes = int((value - deg) * 60)
    return float(deg), float(minutes), round((value - deg - minutes / 60) * 3600, 4)


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    """``hour``:00 China time on ``day`` as naive UTC (how the store keeps times)."""
    return dt.datetime.combine(day, dt.time(hour), tzinfo=CHINA).astimezone(dt.UTC).replace(tzinfo=None)
