"""Malformed, oversized and ambiguous configs: each one a listed problem, never a traceback or a stall.

One table, three channels. Every row is a file that once crashed the loader, grew without bound, or was
silently misread (issue: the config loader crashes instead of reporting a problem; the config's size is
unbounded; duplicate keys are silently accepted), and each row is checked

* by ``--config.check`` (its function: exit code 1, the problem on stderr, no traceback),
* by ``POST /-/reload`` on a running exporter (400 with the problem, the reload metric at 0, the old config
  still serving),
* and, for the observed bomb, by SIGHUP on the command-line service (only JSON lines in its log; ``/metrics``
  and ``/-/healthy``, polled from before the signal until the refusal, each answer within ``ANSWER_BOUND``).

A property test replaces every node of the full valid config by hostile values: the loader answers with a
ConfigError or a Config, nothing else.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from exporter.cli import check_config
from synthetic.config import Config, ConfigError, parse_config
from synthetic.documents import CONFIG_LIMITS
from tests.exporter.conftest import simple_config
from tests.harness import ManagedProcess, free_port, wait_until

TESTDATA = Path(__file__).parents[1] / "synthetic" / "testdata"

GOOD_TARGET = "  shop:\n    base_url: http://127.0.0.1:9\n"
GOOD_WORKFLOW = "  browse:\n    targets: [shop]\n    steps:\n      - {name: home, http: {path: /}}\n"


def _config(targets: str = GOOD_TARGET, workflows: str = GOOD_WORKFLOW) -> str:
    return f"targets:\n{targets}workflows:\n{workflows}"


def _anchor_bomb() -> str:
    """The observed 702-byte case: nine levels of nine aliases each, 9⁹ (387 million) nodes when expanded."""
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    return "\n".join(lines) + "\n"


def _many_workflows() -> str:
    """Over the byte bound: ~9 MB of workflows (the observed file had 700 000 small ones in 50 MB; these carry
    long descriptions so that the byte bound, not the node bound, is what they cross)."""
    one = (
        "  w{0}:\n    description: "
        + "x" * 2000
        + "\n    targets: [shop]\n    steps: [{{name: s, http: {{path: /}}}}]\n"
    )
    count = CONFIG_LIMITS.max_bytes // len(one.format(100000)) + 10
    return "targets:\n" + GOOD_TARGET + "workflows:\n" + "".join(one.format(i) for i in range(count))


def _secret_file(tmp: Path, content: bytes) -> str:
    (tmp / "secret.txt").write_bytes(content)
    return _config(GOOD_TARGET + "    credentials: {probe: {username: p, password_file: secret.txt}}\n")


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], str | bytes]  # the file's content, given the directory it is written to
    problem: str  # a part of the problem line
    forbidden: str = ""  # what must appear in no output (a secret the file holds)


CASES = [
    # -- the loader crashed (TypeError, UnicodeDecodeError, RecursionError) ------------------------------------
    Case("int-key-next-to-string-keys", lambda d: _config(GOOD_TARGET + "  3:\n    base_url: http://x\n"),
         "key 3 is a number; keys must be strings"),
    Case("password-file-not-utf8", lambda d: _secret_file(d, b"\xff\xfe\x00pw"), "the file is not UTF-8"),
    Case("config-utf16-bom", lambda d: b"\xff\xfe" + _config().encode("utf-16-le"), "UTF-16 byte-order mark"),
    Case("config-latin1", lambda d: _config().replace("browse", "br\xf6wse").encode("latin-1"), "is not UTF-8"),
    Case("nesting-20000-levels", lambda d: "targets: " + "[" * 20000 + "]" * 20000 + "\n",
         "nested deeper than 64 levels"),
    Case("nesting-in-block-style", lambda d: "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v\n",
         "nested deeper than 64 levels"),
    Case("recursive-alias", lambda d: "targets: &a {x: *a}\nworkflows: {}\n", "refers to the node that contains it"),
    Case("nul-in-secret-path", lambda d: _config(GOOD_TARGET + '    credentials: {p: {password_file: "a\\0b"}}\n'),
         "embedded null byte"),
    Case("list-as-key", lambda d: _config(GOOD_TARGET + "    headers: {? [a, b] : c}\n"),
         "a key cannot be a mapping or a list"),
    Case("boolean-key", lambda d: _config(GOOD_TARGET + "    headers: {yes: c}\n"), "key True is a boolean"),
    Case("null-key", lambda d: _config(GOOD_TARGET + "    headers: {~: c}\n"), "key None is null"),
    Case("control-character", lambda d: _config().replace("home", "ho\x07me"), "special characters are not allowed"),
    # -- the config's size was unbounded ------------------------------------------------------------------------
    Case("anchor-bomb-702-bytes", lambda d: _anchor_bomb(), "expands to more than 1000000 values"),
    Case("too-many-aliases", lambda d: "a: &a x\nb: [" + ", ".join(["*a"] * 1001) + "]\n", "more than 1000 aliases"),
    Case("file-over-the-byte-bound", lambda d: _many_workflows(), "larger than the limit of 8388608 bytes"),
    Case("password-file-is-a-device", lambda d: _config(
        GOOD_TARGET + "    credentials: {probe: {password_file: /dev/zero}}\n"), "not a regular file"),
    Case("password-file-is-a-directory", lambda d: _config(
        GOOD_TARGET + "    credentials: {probe: {password_file: /}}\n"), "Is a directory"),
    Case("password-file-too-large", lambda d: _secret_file(d, b"x" * 70_000), "larger than the limit of 65536 bytes"),
    Case("tls-ca-file-is-a-directory", lambda d: _config(GOOD_TARGET + "    tls: {ca_file: /}\n"),
         "does not exist or is not a file"),
    Case("step-timeout-of-a-million-years", lambda d: _config(workflows=GOOD_WORKFLOW.replace(
        "{name: home, http: {path: /}}", "{name: home, timeout: 99999999999d, http: {path: /}}")),
        "timeout: '99999999999d' is longer than 3650d"),  # it stopped the transport's watchdog thread
    Case("interval-beyond-the-timers", lambda d: _config(workflows=GOOD_WORKFLOW.replace(
        "    targets:", "    interval: 3651d\n    timeout: 3651d\n    targets:")), "is longer than 3650d"),
    Case("circuit-cooldown-beyond-the-timers", lambda d: _config(
        GOOD_TARGET + "    circuit_breaker: {failures: 2, cooldown: 99999999999d}\n"), "is longer than 3650d"),
    # -- duplicate keys were silently accepted, unknown names had no hint ----------------------------------
    Case("duplicate-workflow", lambda d: _config(workflows=GOOD_WORKFLOW + GOOD_WORKFLOW),
         "line 9: duplicate key 'browse' (first on line 5)"),
    Case("duplicate-expect", lambda d: _config(workflows=GOOD_WORKFLOW.replace(
        "{name: home, http: {path: /}}", "{name: home, http: {path: /}, expect: {status: 201}, expect: {}}")),
         "duplicate key 'expect'"),
    Case("duplicate-target", lambda d: _config(GOOD_TARGET + GOOD_TARGET), "duplicate key 'shop'"),
    Case("duplicate-header-in-flow-mapping", lambda d: _config(GOOD_TARGET + "    headers: {A: b, A: c}\n"),
         "duplicate key 'A'"),
    Case("unknown-field-close-to-a-known-one", lambda d: _config(
        workflows=GOOD_WORKFLOW.replace("    targets:", "    intervall: 1m\n    targets:")),
        "unknown field 'intervall' (did you mean 'interval'?)"),
    Case("unknown-target-close-to-a-known-one", lambda d: _config(
        workflows=GOOD_WORKFLOW.replace("[shop]", "[shopp]")), "unknown target 'shopp' (did you mean 'shop'?)"),
    Case("unknown-step-kind-close-to-a-known-one", lambda d: _config(
        workflows=GOOD_WORKFLOW.replace("http:", "htp:")), "unknown step kind 'htp' (did you mean 'http'?)"),
    # -- secrets in problems -------------------------------------------------------------------------------
    Case("base-url-with-userinfo", lambda d: _config("  shop:\n    base_url: ftp://admin:pw-in-url@host/\n"),
         "got 'ftp://[REDACTED]@host/'", forbidden="pw-in-url"),
    Case("header-value-not-a-string", lambda d: _config(GOOD_TARGET + "    headers: {X-Api-Key: [key-in-list]}\n"),
         "X-Api-Key: expected a string, got a list", forbidden="key-in-list"),
    Case("dsn-password-with-hash", lambda d: _config(
        GOOD_TARGET + '    database: {dsn: "mysql://probe:pa#ss-word@127.0.0.1:3306/shop"}\n'),
        "percent-encode", forbidden="ss-word"),
    Case("dsn-password-with-question-mark", lambda d: _config(
        GOOD_TARGET + '    database: {dsn: "mysql://probe:pa?ss-word@127.0.0.1:3306/shop"}\n'),
        "percent-encode", forbidden="ss-word"),
    Case("dsn-port-not-a-number", lambda d: _config(
        GOOD_TARGET + '    database: {dsn: "mysql://probe:pw-x@127.0.0.1:33o6/shop"}\n'),
        "dsn port is not a number", forbidden="pw-x"),
    Case("dsn-without-database", lambda d: _config(
        GOOD_TARGET + '    database: {dsn: "mysql://probe:pw-y@127.0.0.1:3306"}\n'),
        "dsn must name one database", forbidden="pw-y"),
]  # fmt: skip


def _write(directory: Path, case: Case) -> Path:
    content = case.build(directory)
    path = directory / "workflows.yml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_config_check_lists_the_problem(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, case)
    assert check_config(str(path)) == 1
    captured = capsys.readouterr()
    assert f"{path}: invalid" in captured.err
    assert case.problem in captured.err, captured.err[:2000]
    assert "Traceback" not in captured.err + captured.out
    if case.forbidden:
        assert case.forbidden not in captured.err + captured.out


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_reload_answers_400_with_the_problem_and_keeps_serving(
    case: Case, serve_exporter, target, caplog: pytest.LogCaptureFixture
) -> None:
    running = serve_exporter(simple_config(target.url))
    sample = running.registry.get_sample_value
    _write(running.config_path.parent, case).replace(running.config_path)
    response = requests.post(f"{running.url}/-/reload", timeout=30)
    assert response.status_code == 400, response.text
    assert case.problem in response.text
    assert sample("workflow_exporter_config_last_reload_successful") == 0
    logged = [r for r in caplog.records if r.getMessage().startswith("config reload failed")]
    assert logged and any(case.problem in problem for problem in logged[-1].problems)  # type: ignore[attr-defined]
    if case.forbidden:
        assert case.forbidden not in response.text
        assert case.forbidden not in json.dumps(logged[-1].problems)  # type: ignore[attr-defined]
    still = requests.get(f"{running.url}/probe", params={"target": "local", "workflow": "probe-ok"}, timeout=10)
    assert "probe_success 1.0" in still.text


ANSWER_BOUND = 2.0  # seconds /metrics and /-/healthy may take while a bomb is refused (the observed stall: 10 s)


def test_sighup_with_the_anchor_bomb_logs_json_and_keeps_serving(tmp_path: Path, target) -> None:
    config = tmp_path / "workflows.yml"
    config.write_text(simple_config(target.url, interval="1m"))
    port = free_port()
    process = ManagedProcess(
        "workflow-exporter",
        [sys.executable, "-m", "exporter", f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
        tmp_path / "exporter.log",
    )
    url = f"http://127.0.0.1:{port}"
    polls: list[tuple[str, int, float, float]] = []  # path, status (0: no answer), started, took
    stop = threading.Event()

    def poll() -> None:
        """/metrics and /-/healthy, one after the other, from before the signal until the reload is refused."""
        while not stop.is_set():
            for path in ("/metrics", "/-/healthy"):
                started = time.monotonic()
                try:
                    status = requests.get(f"{url}{path}", timeout=ANSWER_BOUND + 10).status_code
                except requests.RequestException:
                    status = 0
                polls.append((path, status, started, time.monotonic() - started))

    try:
        process.wait_ready(lambda: requests.get(f"{url}/-/healthy", timeout=1).status_code == 200)
        config.write_text(_anchor_bomb())
        poller = threading.Thread(target=poll, name="poll-during-reload")
        poller.start()
        try:
            wait_until(lambda: len(polls) >= 4, 10, "polls before the signal")
            signalled = time.monotonic()
            os.kill(process.pid, signal.SIGHUP)
            wait_until(
                lambda: "config reload failed" in process.log_path.read_text(), 30, "the failed reload's log line"
            )
            refused = time.monotonic()
            wait_until(lambda: any(started > refused for _, _, started, _ in polls), 10, "polls after the refusal")
        finally:
            stop.set()
            poller.join(ANSWER_BOUND + 15)
        during = [(path, status, took) for path, status, started, took in polls
                  if started + took >= signalled and started <= refused]  # fmt: skip
        assert {path for path, _, _ in during} == {"/metrics", "/-/healthy"}, (during, refused - signalled)
        late = [(path, status, round(took, 2)) for path, status, _, took in polls
                if status != 200 or took > ANSWER_BOUND]  # fmt: skip
        assert not late, f"answers late or failed while the bomb was refused ({len(polls)} polls): {late}"
        metrics = requests.get(f"{url}/metrics", timeout=10).text
        assert "workflow_exporter_config_last_reload_successful 0.0" in metrics
        ok = requests.get(f"{url}/probe", params={"target": "local", "workflow": "probe-ok"}, timeout=10)
        assert "probe_success 1.0" in ok.text
    finally:
        process.stop()
    lines = [line for line in process.log_path.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON: no plain-text traceback
    failed = next(r for r in records if r["message"].startswith("config reload failed"))
    assert any("expands to more than" in problem for problem in failed["problems"])


# --- every node of the full valid config, replaced by hostile values ----------------------------------------

HOSTILE_VALUES: list[object] = [None, 3, True, "", [], {"a": 1}, "\x00", "${nope}", [{"x": None}]]


def _paths(value: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def test_every_node_replaced_by_a_hostile_value_is_a_problem_or_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFX_TEST_TOKEN", "api-token-1234")
    monkeypatch.setenv("WFX_TEST_PROBE_HEADER", "probe-header")
    base = yaml.safe_load((TESTDATA / "valid-full.yml").read_text())
    crashes = []
    for path in _paths(base):
        for hostile in HOSTILE_VALUES:
            document = copy.deepcopy(base)
            parent = document
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = copy.deepcopy(hostile)
            try:
                assert isinstance(parse_config(yaml.safe_dump(document), "fuzz.yml", base_dir=TESTDATA), Config)
            except ConfigError:
                pass
            except Exception as error:
                crashes.append(f"{'.'.join(map(str, path))} = {hostile!r}: {type(error).__name__}: {error}")
    assert not crashes, "\n".join(crashes[:20])
