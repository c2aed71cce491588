"""docs/deploy.md: what it tells an administrator to write must work as written."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from fieldkit.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def _env_file() -> str:
    """The env file as the install step's heredoc writes it (PASSWORD and $secret filled in)."""
    text = DOC.read_text(encoding="utf-8")
    body = re.search(r"cat > /etc/fieldkit/env <<EOF\n(.*?)\nEOF\n", text, re.S).group(1)
    return body.replace("$secret", "ab" * 32).replace("PASSWORD", "pw")


def _systemd_environment_file(text: str) -> dict[str, str]:
    """What systemd's EnvironmentFile= gives for ``text`` (whole-line comments only; an unquoted
    value keeps everything up to the end of the line but trailing blanks)."""
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        key, _, value = line.partition("=")
        env[key.strip()] = value.rstrip()
    return env


def test_the_env_file_gives_the_same_settings_to_systemd_and_to_the_shell(tmp_path):
    text = _env_file()
    systemd = _systemd_environment_file(text)
    assert all("#" not in v for v in systemd.values()), systemd  # a comment would become the value
    settings = Settings.from_env(env=systemd)  # raises ConfigError on a value it cannot read
    assert settings.trusted_proxies == 1 and settings.secret_key == "ab" * 32
    assert settings.db_url.startswith("postgresql+psycopg://fieldkit:pw@")
    if shutil.which("sh"):
        script = f"set -a\n{text}\nset +a\nenv\n"
        out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True, env={}).stdout
        shell = dict(line.split("=", 1) for line in out.splitlines() if line.startswith("FIELDKIT_"))
        assert shell == systemd


def test_every_service_reads_the_env_file_and_runs_as_the_service_user():
    blocks = re.findall(r"```ini\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    services = [b for b in blocks if "[Service]" in b]
    assert len(services) == 3  # the web app, the nightly backup, the weekly fixity check
    for block in services:
        assert "EnvironmentFile=/etc/fieldkit/env" in block and "User=fieldkit" in block
