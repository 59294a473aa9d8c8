"""The log-file source on files written for the test: rotations and gzip, lines that are not JSON or too long,
an ID that is a prefix of another, the ID outside ``correlation_id``, time bounds, a file rotated while it is
searched, missing files; hostile IDs refused before any search; the command line's exit codes."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pytest

from exporter.trace import TraceConfig, TraceSources, Window, collect, logs
from tests.conftest import REPO_ROOT

CID = "trace-test-0123456789abcdef"
BASE = 1_796_000_000.0  # a fixed moment: lines carry their own timestamps


def line(offset: float, message: str, cid: str = CID, **fields: object) -> str:
    stamp = datetime.fromtimestamp(BASE + offset, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    record = {"timestamp": stamp, "level": "INFO", "logger": "app", "message": message, "correlation_id": cid,
              "layer": "api", **fields}  # fmt: skip
    return json.dumps(record) + "\n"


@dataclass(frozen=True)
class Files:
    name: str
    write: Callable[[Path], None]  # writes files under the directory; the config names dir/app.log
    found: list[str]  # messages expected, in order
    problem: str = ""


def _plain(d: Path) -> None:
    (d / "app.log").write_text(line(1, "one") + line(2, "other id", cid=CID + "0") + line(3, "two"))


def _rotated(d: Path) -> None:
    (d / "app.log.2.gz").write_bytes(gzip.compress(line(1, "oldest").encode()))
    (d / "app.log.1").write_text(line(2, "older"))
    (d / "app.log").write_text(line(3, "newest"))
    for index, name in enumerate(["app.log.2.gz", "app.log.1", "app.log"]):  # mtimes in rotation order
        (d / name).touch()
        stamp = time.time() - 30 + index
        import os

        os.utime(d / name, (stamp, stamp))


def _hostile(d: Path) -> None:
    (d / "app.log").write_bytes(
        b"gunicorn says hello "
        + CID.encode()
        + b" in plain text\n"  # not JSON: skipped
        + b'{"broken json '
        + CID.encode()
        + b"\n"
        + line(1, "kept").encode()
        + b'{"correlation_id": "'
        + CID.encode()
        + b'", "x": "'
        + b"y" * (2 * logs.MAX_LINE_BYTES)
        + b'"}\n'
        + line(2, "message mentions " + CID, cid="someone-else-1234").encode()  # the ID, but not its line
        + line(3, "after the long line").encode()
        + b"\xff\xfe invalid utf-8 "
        + CID.encode()
        + b"\n"
        + line(4, "no newline at the end").encode().rstrip(b"\n")
    )


def _chunk_boundary(d: Path) -> None:
    filler = "x" * (logs.CHUNK_BYTES - 150)
    (d / "app.log").write_text(line(0, filler, cid="filler-0000000000") + line(1, "across the chunk edge"))


CASES = [
    Files("plain", _plain, ["one", "two"]),
    Files("rotated-and-gzipped", _rotated, ["oldest", "older", "newest"]),
    Files("hostile-lines", _hostile, ["kept", "after the long line", "no newline at the end"],
          problem="1 line(s) longer than"),
    Files("a-line-across-the-chunk-edge", _chunk_boundary, ["across the chunk edge"]),
    Files("missing", lambda d: None, [], problem="no such file"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_log_files(case: Files, tmp_path: Path) -> None:
    case.write(tmp_path)
    report = logs.search([str(tmp_path / "app.log")], CID, Window())
    assert [e.title for e in report.events] == case.found
    if case.problem:
        assert any(case.problem in p for p in report.problems), report.problems
    else:
        assert not report.problems


def test_time_bounds(tmp_path: Path) -> None:
    _plain(tmp_path)
    found = logs.search([str(tmp_path / "app.log")], CID, Window(since=BASE + 1.5, until=BASE + 10))
    assert [e.title for e in found.events] == ["two"]


def test_a_file_rotated_while_it_is_searched_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """logrotate moves app.log to app.log.1 between listing and reading: the open handle reads on, the lines
    seen under both names are kept once."""
    log = tmp_path / "app.log"
    log.write_text(line(1, "before") + line(2, "during"))
    opened = logs._open

    def rotate_then_open(path: str) -> IO[bytes]:
        handle = opened(path)
        if path == str(log) and not (tmp_path / "app.log.1").exists():
            log.rename(tmp_path / "app.log.1")
            log.write_text(line(3, "after"))
        return handle

    monkeypatch.setattr(logs, "_open", rotate_then_open)
    first = logs.search([str(log)], CID, Window())
    assert [e.title for e in first.events] == ["before", "during"]
    second = logs.search([str(log)], CID, Window())  # now both files exist
    assert sorted(e.title for e in second.events) == ["after", "before", "during"]


@pytest.mark.parametrize(
    "hostile",
    ["", "short", "a" * 129, "../../etc/passwd", "x*y*z*abcdefgh", "abc\ndefghijkl", "(?:.*)+$abcdef", "ab cd ef gh"],
)
def test_an_id_that_is_not_a_correlation_id_is_refused_before_any_search(hostile: str, tmp_path: Path) -> None:
    _plain(tmp_path)
    with pytest.raises(ValueError, match="not a correlation ID"):
        collect(hostile, TraceSources(config=TraceConfig(logs=(str(tmp_path / "app.log"),))))


def _cli(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "exporter", "trace", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})  # fmt: skip


def test_the_command_line_prints_the_timeline_and_exits_by_what_it_found(tmp_path: Path) -> None:
    _plain(tmp_path)
    log = str(tmp_path / "app.log")
    found = _cli(CID, "--log", log)
    assert found.returncode == 0, found.stderr
    assert f"trace {CID}: 2 event(s) from 1 source(s)" in found.stdout and "two" in found.stdout
    as_json = json.loads(_cli(CID, "--log", log, "--format", "json").stdout)
    # two seconds between the lines, with nothing else recorded: the timeline says so
    assert [(e["kind"], e["title"]) for e in as_json["events"]] == [
        ("log", "one"),
        ("gap", "nothing recorded for 2000 ms"),
        ("log", "two"),
    ]
    nothing = _cli("nobody-has-this-id", "--log", log)
    assert nothing.returncode == 1 and "nothing found" in nothing.stdout
    missing = _cli(CID, "--log", str(tmp_path / "gone.log"), "--log", log)
    assert missing.returncode == 0 and "gone.log: no such file" in missing.stderr  # the other source answers
    assert _cli("../etc/passwd", "--log", log).returncode == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _cli(CID, cwd=empty).returncode == 2  # no source at all (no config, no run store in data/)


def test_a_file_truncated_while_it_is_searched_is_read_as_far_as_it_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """copytruncate empties the file under the open handle: the search reads what is left, without an error."""
    log = tmp_path / "app.log"
    first = line(1, "kept")
    log.write_text(first + line(2, "cut away") * 50_000)
    opened = logs._open

    def truncate_then_open(path: str) -> IO[bytes]:
        handle = opened(path)
        with open(path, "r+b") as writer:
            writer.truncate(len(first))
        return handle

    monkeypatch.setattr(logs, "_open", truncate_then_open)
    report = logs.search([str(log)], CID, Window())
    assert [e.title for e in report.events] == ["kept"] and not report.problems


def test_a_browser_steps_api_calls_are_followed_under_their_own_ids(tmp_path: Path) -> None:
    """The page of a browser step sends each API call with an ID of its own; the run's trace follows those IDs
    into the logs and nests the requests under the step that made them."""
    from synthetic.result import RunResult, StepResult

    run_id, call_id = "run-with-browser-0001", "call-from-page-0001"
    step = StepResult(name="add-to-cart", kind="browser", offset=0.5, duration=2.0)
    step.browser = {"calls": [{"method": "POST", "url": "/api/cart/items/", "status": 201, "request_id": call_id},
                              {"method": "GET", "url": "/x", "status": 200, "request_id": "bad id"}]}  # fmt: skip
    run = RunResult(workflow="storefront-buy", target="storefront", correlation_id=run_id, started_at=BASE,
                    duration=3.0, steps=[step])  # fmt: skip
    (tmp_path / "app.log").write_text(
        line(1.5, "POST api/cart/items/ 201", cid=call_id, logger="django_integration.request", duration_ms=40.0)
        + line(1.6, "an unrelated request", cid="someone-else-0001")
    )
    trace = collect(run_id, TraceSources(runs={run_id: run}.get, config=TraceConfig(logs=(str(tmp_path / "app.log"),))))
    (browser_step,) = trace.events
    assert browser_step.kind == "step" and [c.title for c in browser_step.children] == ["POST api/cart/items/ 201"]


@pytest.mark.parametrize(
    ("flags", "store_in_data", "expected"),
    [
        ([], True, 0),  # the service's default directory holds a store: searched, as replay does
        ([], False, 2),  # nothing to search: usage error naming the sources
        (["--storage.path=elsewhere"], True, 2),  # an explicit path wins, and a missing one is an error
        (["--storage.path="], True, 2),  # "" turns the store off
    ],
)
def test_the_command_line_reads_the_services_run_store_unless_told_otherwise(
    tmp_path: Path, flags: list[str], store_in_data: bool, expected: int
) -> None:
    """``trace <id>`` on the exporter's host, in its working directory, finds a synthetic run with no flag: the
    service stores runs in ``data/`` by default (``--storage.path``), and ``replay`` reads it there too."""
    from exporter.store import RunStore
    from tests.exporter.test_store import make_run

    run_id = "trace-default-store-0001"
    if store_in_data:
        store = RunStore(str(tmp_path / "data"))
        store.add(make_run(run_id))
        store.close()
    result = _cli(run_id, "--format=json", *flags, cwd=tmp_path)
    assert result.returncode == expected, result.stderr
    if expected == 0:
        assert run_id in result.stdout and "pay" in result.stdout
