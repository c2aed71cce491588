"""Shared fixtures: a runtime on a temporary data directory, the real data in ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from fieldkit.runtime import Runtime
from fieldkit.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FIELDKIT_SHARED_DIR", ROOT.parent / "shared"))
SHARED_DATA = SHARED / "data"
TEST_DATA = Path(__file__).with_name("data")

# CI runs property tests on a fixed seed sequence, so a red build is reproducible; locally they
# explore new examples every run.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose data directory is a fresh temporary directory."""
    return Settings.from_env(env={}, data_dir=tmp_path / "data")


@pytest.fixture
def runtime(settings: Settings) -> Runtime:
    """A runtime on a fresh SQLite database (migrated on first use)."""
    rt = Runtime(settings)
    yield rt
    if "db" in rt.__dict__:
        rt.db.dispose()


@pytest.fixture
def db(runtime: Runtime):
    """The runtime's database, migrated."""
    return runtime.db


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need it skip with the reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (clone ../shared beside the repo)")
    return SHARED_DATA
