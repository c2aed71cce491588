"""Project-level promises: library purity, documented settings and commands, CI entry."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from fieldkit.settings import SETTINGS_HELP, Settings

ROOT = Path(__file__).resolve().parents[2]


def test_library_never_imports_flask():
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "fieldkit").rglob("*.py")
        if re.search(r"^\s*(from|import)\s+flask", p.read_text(encoding="utf-8"), re.M)
    ]
    assert offenders == []


def test_every_setting_has_help_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for field in dataclasses.fields(Settings):
        assert SETTINGS_HELP.get(field.name), f"setting {field.name} has no help text"
        assert f"FIELDKIT_{field.name.upper()}" in readme, f"setting {field.name} missing from README"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "./dev test" in readme and "./dev run" in readme
    assert re.search(r"^exec \./dev test\s*$", ci, re.M)


def test_settings_from_env_coerces_and_rejects(tmp_path):
    s = Settings.from_env(env={"FIELDKIT_MAX_IMAGE_PIXELS": "1000", "FIELDKIT_DATA_DIR": str(tmp_path)})
    assert s.max_image_pixels == 1000 and s.data_dir == tmp_path
    import pytest

    from fieldkit.errors import ConfigError

    with pytest.raises(ConfigError, match="FIELDKIT_MAX_IMAGE_PIXELS"):
        Settings.from_env(env={"FIELDKIT_MAX_IMAGE_PIXELS": "many"})


def test_readme_documents_every_command():
    from fieldkit.cli import main

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in main.commands:
        if name == "db":
            assert "fieldkit db upgrade" in readme
            continue
        assert f"`fieldkit {name}" in readme, f"fieldkit {name} is not in the README"
