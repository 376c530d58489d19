"""The systemd unit verifies and says what the README promises; LOG_FORMAT=json writes one JSON
object a line, with the token redacted as in plain text."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.ops.logs import REDACTED, setup_logging
from bot.settings import BotSettings
from classifier import SettingsError

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "toonclip.service"
INSTALLED_AT = "/opt/toonclip"
TOKEN = "123456:AAE-secret-token"


def unit_settings() -> dict[str, str]:
    settings: dict[str, str] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            settings.setdefault(key, value)  # the first Environment= is enough here
    return settings


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify checks that ExecStart's program exists: install a stand-in venv where the unit looks for it.
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    os.symlink(sys.executable, tmp_path / ".venv" / "bin" / "python")
    unit = tmp_path / "toonclip.service"
    unit.write_text(UNIT.read_text().replace(INSTALLED_AT, str(tmp_path)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr  # not even a warning


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_rates_the_unit_below_exposure_4() -> None:
    result = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(UNIT)], capture_output=True,
                            text=True, timeout=120)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found is not None, result.stdout + result.stderr
    assert float(found.group(1)) < 4.0, result.stdout  # 1.4 OK when written; 5.5 MEDIUM before


def test_the_unit_limits_memory_tasks_system_calls_and_capabilities() -> None:
    text = UNIT.read_text()
    unit = unit_settings()
    assert (unit["MemoryHigh"], unit["MemoryMax"], unit["TasksMax"]) == ("2560M", "3G", "512")
    assert "SystemCallFilter=@system-service\nSystemCallFilter=~@privileged\n" in text
    assert unit["SystemCallArchitectures"] == "native" and unit["CapabilityBoundingSet"] == ""
    assert unit["ProtectProc"] == "invisible" and unit["UMask"] == "0077" and unit["PrivateDevices"] == "yes"
    # oneDNN compiles kernels at run time; the bot reads /proc/cpuinfo and /proc/meminfo.
    assert "\nMemoryDenyWriteExecute=" not in text and "\nProcSubset=" not in text


def test_the_unit_runs_the_venv_with_env_restarts_and_is_hardened() -> None:
    unit = unit_settings()
    assert unit["ExecStart"] == f"{INSTALLED_AT}/.venv/bin/python -m bot"
    assert unit["EnvironmentFile"] == f"{INSTALLED_AT}/.env"
    assert unit["WorkingDirectory"] == INSTALLED_AT
    assert unit["User"] == "toonclip" and unit["Restart"] == "on-failure"
    assert unit["KillSignal"] == "SIGTERM"  # the bot drains on SIGTERM
    for option in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
        assert unit[option] == "yes", option
    assert unit["ProtectSystem"] == "strict" and unit["ReadWritePaths"] == f"{INSTALLED_AT}/data"


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Logging set up as `python -m bot` does, into a buffer; the previous handlers come back after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    yield stream
    root.handlers[:], level = saved
    root.setLevel(level)


def test_json_logs_are_one_object_a_line_without_the_token(log_output: io.StringIO,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", log_output)  # where the handler writes
    setup_logging(TOKEN, log_format="json")
    log = logging.getLogger("bot.test")
    log.info("Calling https://api.telegram.org/bot%s/getMe\nsecond line", TOKEN)
    try:
        raise ValueError(f"failed at /bot{TOKEN}/sendMessage")
    except ValueError:
        log.exception("It broke")
    lines = log_output.getvalue().splitlines()
    assert len(lines) == 2  # one a record, newlines escaped
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "INFO" and first["logger"] == "bot.test"
    assert first["message"] == f"Calling https://api.telegram.org/bot{REDACTED}/getMe\nsecond line"
    assert first["time"].endswith("+00:00")
    assert second["message"] == "It broke" and "ValueError" in second["exception"]
    assert TOKEN not in log_output.getvalue() and REDACTED in second["exception"]


def test_log_format_is_text_or_json() -> None:
    env = {"TELEGRAM_BOT_TOKEN": TOKEN}
    assert BotSettings.from_env(env).log_format == "text"
    assert BotSettings.from_env(env | {"LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(SettingsError, match="LOG_FORMAT must be one of text, json"):
        BotSettings.from_env(env | {"LOG_FORMAT": "xml"})


def test_operator_settings_are_read_and_checked() -> None:
    env = {"TELEGRAM_BOT_TOKEN": TOKEN}
    settings = BotSettings.from_env(env | {"METRICS_PORT": "9464", "METRICS_LISTEN": "0.0.0.0",
                                           "ADMIN_USER_IDS": "11, 22 33", "HEALTH_POLL_AGE_SECONDS": "90"})
    assert (settings.metrics_port, settings.metrics_listen) == (9464, "0.0.0.0")
    assert settings.admin_user_ids == {11, 22, 33} and settings.health_poll_age_seconds == 90
    defaults = BotSettings.from_env(env)
    assert defaults.metrics_port is None and defaults.metrics_listen == "127.0.0.1"
    assert defaults.admin_user_ids == frozenset()
    with pytest.raises(SettingsError, match="ADMIN_USER_IDS must be Telegram user ids"):
        BotSettings.from_env(env | {"ADMIN_USER_IDS": "@ann"})
    with pytest.raises(SettingsError, match="METRICS_PORT must be a port number"):
        BotSettings.from_env(env | {"METRICS_PORT": "70000"})
    with pytest.raises(SettingsError, match="must be longer than POLL_TIMEOUT_SECONDS"):
        BotSettings.from_env(env | {"HEALTH_POLL_AGE_SECONDS": "10"})
