"""Document numbers: GB/T 9704 7.2.5 format, pattern validation and per-year allocation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldkit.documents.numbering import (
    DEFAULT_PATTERN,
    MemorySequenceStore,
    NumberingScheme,
    allocate_number,
    next_sequence,
    validate_pattern,
)
from fieldkit.errors import ConfigError, ConflictError, InputError


def test_default_pattern_matches_the_issue_example():
    assert NumberingScheme(org="金").format(2025, 3) == "金检行公建〔2025〕3号"


def test_no_leading_zeros_and_full_year():
    text = NumberingScheme(org="永").format(2025, 7)
    assert text == "永检行公建〔2025〕7号"
    assert "第" not in text and "〔2025〕" in text
    with pytest.raises(InputError, match="four-digit year"):
        NumberingScheme(org="永").format(25, 7)
    with pytest.raises(InputError, match="positive integer"):
        NumberingScheme(org="永").format(2025, 0)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("{org}检行公建[{year}]{seq}号", "〔〕"),
        ("{org}检行公建〔{year}〕第{seq}号", "no 第"),
        ("{org}检行公建〔{year}〕", "{seq}"),
        ("{org}检〔{yr}〕{seq}号", "unknown placeholder"),
        ("{org}检〔{year}〕{seq}号{seq}号", "exactly once"),
        ("{org}检〔{year}〕{seq号", "numbering pattern"),
    ],
)
def test_bad_patterns_are_refused_with_the_reason(pattern, reason):
    with pytest.raises(ConfigError, match=reason.replace("[", r"\[").replace("{", r"\{").replace("}", r"\}")):
        validate_pattern(pattern)


def test_legacy_pattern_allowed_when_not_strict():
    scheme = NumberingScheme(org="永", pattern="{org}检行公建[{year}]第{seq}号", strict=False)
    assert scheme.format(2024, 12) == "永检行公建[2024]第12号"
    assert scheme.parse("永检行公建[2024]第12号").seq == 12


def test_parse_round_trips_and_rejects_foreign_numbers():
    scheme = NumberingScheme(org="金")
    parsed = scheme.parse("金检行公建〔2025〕13号")
    assert (parsed.year, parsed.seq) == (2025, 13)
    for bad in ("金检行公建〔2025〕013号", "永检行公建〔2025〕3号", "金检行公建〔25〕3号"):
        with pytest.raises(InputError, match="does not match"):
            scheme.parse(bad)


def test_next_sequence_is_pure():
    assert next_sequence(None) == 1
    assert next_sequence(41) == 42
    for bad in (0, -3, True, "3"):
        with pytest.raises(ConfigError):
            next_sequence(bad)


def test_allocation_is_per_year_and_per_scheme():
    store = MemorySequenceStore()
    jin, yong = NumberingScheme(org="金"), NumberingScheme(org="永")
    assert allocate_number(jin, 2025, store).text == "金检行公建〔2025〕1号"
    assert allocate_number(jin, 2025, store).text == "金检行公建〔2025〕2号"
    assert allocate_number(yong, 2025, store).text == "永检行公建〔2025〕1号"
    assert allocate_number(jin, 2026, store).text == "金检行公建〔2026〕1号"
    assert allocate_number(jin, 2025, store).seq == 3
    other = NumberingScheme(org="金", pattern="{org}检民公建〔{year}〕{seq}号")
    assert allocate_number(other, 2025, store).seq == 1


def test_allocation_continues_after_numbers_used_elsewhere():
    store = MemorySequenceStore()
    scheme = NumberingScheme(org="金")
    last = scheme.parse("金检行公建〔2025〕2号")
    store.record(scheme.key, last.year, last.seq)
    assert allocate_number(scheme, 2025, store).text == "金检行公建〔2025〕3号"
    with pytest.raises(ConflictError, match="already used"):
        store.record(scheme.key, 2025, 3)


@given(st.lists(st.sampled_from([2024, 2025, 2026]), max_size=40))
def test_allocated_sequences_are_gapless_per_year(years):
    store = MemorySequenceStore()
    scheme = NumberingScheme(org="金", pattern=DEFAULT_PATTERN)
    got: dict[int, list[int]] = {}
    for year in years:
        number = allocate_number(scheme, year, store)
        assert scheme.parse(number.text) == number
        got.setdefault(year, []).append(number.seq)
    for seqs in got.values():
        assert seqs == list(range(1, len(seqs) + 1))
