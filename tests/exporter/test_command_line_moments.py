"""Every command-line flag that names a moment (``report --until``, ``trace --since`` and ``--until``) reads the
same three forms to the same moment, and refuses what is not a moment between 1970 and the year 5138 with exit 2
and the flag's name, before it reads anything."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from exporter.cli import main
from tests.harness import free_port

MOMENT = datetime(2026, 11, 30, 10, 0, tzinfo=UTC).timestamp()
CID = "0123456789abcdef0123456789abcdef"


AGO = "(how long ago MOMENT was, in seconds, when the test runs)"


def _forms() -> list[tuple[str, str]]:
    return [
        ("RFC 3339, Z", "2026-11-30T10:00:00Z"),
        ("ISO 8601 without a zone: UTC", "2026-11-30T10:00:00"),
        ("an offset", "2026-11-30T11:00:00+01:00"),
        ("unix seconds", f"{MOMENT:.0f}"),
        ("unix seconds with a fraction", f"{MOMENT:.3f}"),
        ("a duration ago", AGO),
    ]


NOT_MOMENTS = ["nan", "inf", "-5", "1e300", "100000000d", "yesterday", "2026-13-01", "1" * 13, "10:00"]


def _report(tmp_path: Path, *flags: str) -> tuple[int, float | None]:
    """``report`` against a Prometheus that is not there: the period it reports on ends where --until says."""
    out = tmp_path / "report.json"
    out.unlink(missing_ok=True)
    argv = ["report", "--prometheus", f"http://127.0.0.1:{free_port()}", "--query.timeout", "1s",
            "--format", "json", "--output", str(out), *flags]  # fmt: skip
    code = main(argv)
    return code, json.loads(out.read_text())["end"] if out.exists() else None


def _trace(tmp_path: Path, *flags: str) -> tuple[int, float | None]:
    """``trace`` of one log line 30 s after MOMENT: found (0) when --since is MOMENT, not (1) when --until is."""
    log = tmp_path / "app.log"
    stamp = datetime.fromtimestamp(MOMENT + 30, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    log.write_text(json.dumps({"timestamp": stamp, "level": "INFO", "message": "hit", "correlation_id": CID}) + "\n")
    return main(["trace", CID, "--log", str(log), *flags]), None


COMMANDS: dict[str, tuple[Callable[..., tuple[int, float | None]], str, int]] = {
    # command, flag, exit code when the flag reads MOMENT
    "report --until": (_report, "--until", 0),
    "trace --since": (_trace, "--since", 0),
    "trace --until": (_trace, "--until", 1),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("form", "value"), _forms(), ids=[form for form, _ in _forms()])
def test_each_form_names_the_same_moment(command: str, form: str, value: str, tmp_path: Path) -> None:
    run, flag, code = COMMANDS[command]
    value = f"{round(time.time() - MOMENT)}s" if value == AGO else value
    found, end = run(tmp_path, flag, value)
    assert found == code, f"{command} {value!r}"
    if end is not None:  # a duration ago is read a moment after it was written
        assert abs(end - MOMENT) < (5 if form == "a duration ago" else 0.001), (value, end)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("value", NOT_MOMENTS)
def test_what_is_not_a_moment_is_refused_by_name(
    command: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, flag, _ = COMMANDS[command]
    assert run(tmp_path, flag, value)[0] == 2
    error = capsys.readouterr().err
    assert f"{flag}: {value[:60]!r} is not" in error and "Traceback" not in error, error
    assert not (tmp_path / "report.json").exists()


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (["--since", "0s"], "--since: must be longer than 0s"),
        (
            ["--since", "3000d", "--until", "1975-01-01T00:00:00Z"],
            "--since: '3000d' reaches back before 1970 (with --compare previous)",
        ),
        (["--since", "20000d"], "--since: '20000d' is longer than 3650d"),
        (["--since", "1d", "--until", "1970-01-03T00:00:00Z", "--compare", "7d"], "reaches back before 1970"),
        (["--slo-window", "0s"], "--slo-window: must be longer than 0s"),
        (["--query.timeout", "0ms"], "--query.timeout: must be longer than 0s"),
        (["--since", "soon"], "--since: 'soon' is not a duration"),
    ],
)
def test_a_report_period_that_is_not_one_is_refused(
    flags: list[str], problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _report(tmp_path, *flags) == (2, None)
    assert problem in capsys.readouterr().err
