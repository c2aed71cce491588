"""Look-back checks (回头看): due list, trip plans, photo pairing, verdicts, records, scorecards.

Public API (``rt`` is a :class:`fieldkit.runtime.Runtime`; nothing here imports Flask)::

    from fieldkit.lookback import (
        due_lookbacks, due_ics,                                  # what is due; iCalendar export
        plan_trip, plan_order, gpx_bytes, kml_bytes, write_gpx, write_kml,   # trip plans
        plan_lookback, get_lookback, list_lookbacks,             # look-back visits
        suggest_pairs, list_pairs, confirm_pair, reject_pair, pair_manually, # pairing
        finding_checks, record_verdict, conclude_lookback,       # verdicts; the case moves on
        flag_recurrence, recurrences,                            # 反弹
        scorecards,                                              # per responsible body
        lookback_record, export_record_docx, export_record_pdf,  # 回头看记录
    )

Typical flow: :func:`due_lookbacks` → :func:`plan_lookback` (with an inspection name) →
:func:`plan_trip` → ingest the new photos into that inspection → :func:`suggest_pairs` →
:func:`confirm_pair` / :func:`pair_manually` → :func:`record_verdict` per finding →
:func:`conclude_lookback` (closes, refers to litigation review or stays in follow-up).
"""

from .due import DueItem, DueList, due_lookbacks
from .gpx_kml import gpx_bytes, kml_bytes, write_gpx, write_kml
from .ics import due_ics
from .pairing import (
    PairView,
    confirm_pair,
    list_pairs,
    pair_manually,
    reject_pair,
    score_pair,
    suggest_pairs,
)
from .record import LookBackRecord, RecordItem, RecordPhoto, lookback_record
from .record_export import export_record_docx, export_record_pdf
from .recurrence import RecurrenceView, flag_recurrence, recurrences
from .route import plan_order
from .scorecard import ScorecardRow, scorecards
from .service import LookBackView, get_lookback, list_lookbacks, plan_lookback
from .trip import OldPhoto, TripPlan, TripStop, plan_trip
from .verdicts import Conclusion, FindingCheck, conclude_lookback, decide, finding_checks, record_verdict

__all__ = [
    "Conclusion", "DueItem", "DueList", "FindingCheck", "LookBackRecord", "LookBackView", "OldPhoto",
    "PairView", "RecordItem", "RecordPhoto", "RecurrenceView", "ScorecardRow", "TripPlan", "TripStop",
    "conclude_lookback", "confirm_pair", "decide", "due_ics", "due_lookbacks", "export_record_docx",
    "export_record_pdf", "finding_checks", "flag_recurrence", "get_lookback", "gpx_bytes", "kml_bytes",
    "list_lookbacks", "list_pairs", "lookback_record", "pair_manually", "plan_lookback", "plan_order",
    "plan_trip", "record_verdict", "recurrences", "reject_pair", "scorecards", "score_pair",
    "suggest_pairs", "write_gpx", "write_kml",
]
