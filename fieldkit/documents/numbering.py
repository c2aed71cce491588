"""Document numbers (文号) from a configurable pattern with a per-year sequence.

GB/T 9704-2012 clause 7.2.5: the year is written in full inside 六角括号 〔〕, the sequence has no
"第" and no leading zeros, and ends with "号". With the default pattern and organ mark "金"::

    >>> NumberingScheme(org="金").format(2025, 3)
    '金检行公建〔2025〕3号'

**Open question (BRIEF §6 Q1).** No primary source fixes the current 检察建议书 numbering pattern;
the older legal-document style ("×检刑捕字[年度]第×号") clashes with 9704. The pattern is therefore
configurable. ``strict=True`` (default) enforces the 9704 rules on the pattern itself; pass
``strict=False`` for an office that must keep a legacy pattern.

Allocation is a pure function (:func:`next_sequence`) plus a tiny storage port
(:class:`SequenceStore`): the database layer implements ``last_used``/``record`` later, with a
unique constraint on (key, year, seq). :class:`MemorySequenceStore` is the reference implementation.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import ConfigError, ConflictError, InputError

DEFAULT_PATTERN = "{org}检行公建〔{year}〕{seq}号"
_FIELDS = {"org", "year", "seq"}


@dataclass(slots=True, frozen=True)
class DocNumber:
    """An allocated number: its text, year and sequence."""

    text: str
    year: int
    seq: int


@dataclass(slots=True, frozen=True)
class NumberingScheme:
    """A numbering pattern with placeholders ``{org}``, ``{year}`` and ``{seq}``."""

    org: str
    pattern: str = DEFAULT_PATTERN
    strict: bool = True

    def __post_init__(self) -> None:
        validate_pattern(self.pattern, strict=self.strict)

    @property
    def key(self) -> str:
        """The sequence key: one counter per distinct (org, pattern), then per year."""
        return self.pattern.replace("{org}", self.org)

    def format(self, year: int, seq: int) -> str:
        """The number for ``year`` and ``seq`` (full year, no leading zeros)."""
        _check_year_seq(year, seq)
        return self.pattern.format(org=self.org, year=year, seq=seq)

    def parse(self, text: str) -> DocNumber:
        """Read ``year`` and ``seq`` back from a number written with this scheme."""
        regex = _pattern_regex(self.pattern, self.org)
        match = regex.fullmatch(text.strip())
        if not match:
            raise InputError(f"document number {text!r} does not match the pattern {self.key!r}")
        year, seq = int(match["year"]), int(match["seq"])
        return DocNumber(text=text.strip(), year=year, seq=seq)


def validate_pattern(pattern: str, *, strict: bool = True) -> None:
    """Raise :class:`ConfigError` when ``pattern`` is unusable (or breaks GB/T 9704 when strict)."""
    try:
        names = [name for _, name, spec, conv in string.Formatter().parse(pattern) if name is not None]
    except ValueError as exc:
        raise ConfigError(f"numbering pattern {pattern!r}: {exc}") from exc
    unknown = set(names) - _FIELDS
    if unknown:
        raise ConfigError(f"numbering pattern {pattern!r}: unknown placeholder(s) {sorted(unknown)}")
    for required in ("year", "seq"):
        if names.count(required) != 1:
            raise ConfigError(f"numbering pattern {pattern!r} must contain {{{required}}} exactly once")
    if strict:
        if "〔{year}〕" not in pattern:
            raise ConfigError(f"numbering pattern {pattern!r}: GB/T 9704 7.2.5 wants the year in 〔〕")
        if "第{seq}" in pattern or not pattern.endswith("{seq}号"):
            raise ConfigError(f"numbering pattern {pattern!r}: GB/T 9704 7.2.5 wants '{{seq}}号', no 第")


def next_sequence(last_used: int | None) -> int:
    """The sequence after ``last_used`` (``None`` when the year has no number yet → 1)."""
    if last_used is None:
        return 1
    if isinstance(last_used, bool) or not isinstance(last_used, int) or last_used < 1:
        raise ConfigError(f"last used sequence must be a positive integer, not {last_used!r}")
    return last_used + 1


class SequenceStore(Protocol):
    """Storage port for the last used sequence per (scheme key, year)."""

    def last_used(self, key: str, year: int) -> int | None:
        """The highest sequence recorded for ``key`` in ``year``, or ``None``."""

    def record(self, key: str, year: int, seq: int) -> None:
        """Record ``seq`` as used; refuse (ConflictError) a sequence already used."""


@dataclass(slots=True)
class MemorySequenceStore:
    """In-memory :class:`SequenceStore` (tests, previews); the DB adapter mirrors it."""

    used: dict[tuple[str, int], set[int]] = field(default_factory=dict)

    def last_used(self, key: str, year: int) -> int | None:
        """The highest sequence recorded for ``key`` in ``year``, or ``None``."""
        seqs = self.used.get((key, year))
        return max(seqs) if seqs else None

    def record(self, key: str, year: int, seq: int) -> None:
        """Record ``seq``; a sequence used twice in one year raises :class:`ConflictError`."""
        seqs = self.used.setdefault((key, year), set())
        if seq in seqs:
            raise ConflictError(f"document number sequence {seq} of {year} for {key!r} is already used")
        seqs.add(seq)


def allocate_number(scheme: NumberingScheme, year: int, store: SequenceStore) -> DocNumber:
    """Take the next number of ``year`` for ``scheme`` from ``store`` and record it."""
    _check_year_seq(year, 1)
    seq = next_sequence(store.last_used(scheme.key, year))
    store.record(scheme.key, year, seq)
    return DocNumber(text=scheme.format(year, seq), year=year, seq=seq)


def _check_year_seq(year: int, seq: int) -> None:
    if isinstance(year, bool) or not isinstance(year, int) or not 1000 <= year <= 9999:
        raise InputError(f"document number year must be a full four-digit year, not {year!r}")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise InputError(f"document number sequence must be a positive integer, not {seq!r}")


def _pattern_regex(pattern: str, org: str) -> re.Pattern[str]:
    out = []
    for literal, name, _spec, _conv in string.Formatter().parse(pattern):
        out.append(re.escape(literal))
        if name == "org":
            out.append(re.escape(org))
        elif name == "year":
            out.append(r"(?P<year>[1-9]\d{3})")
        elif name == "seq":
            out.append(r"(?P<seq>[1-9]\d*)")
    return re.compile("".join(out))
