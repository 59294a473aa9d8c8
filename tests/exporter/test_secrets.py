"""One redaction policy, every output: no secret of a run reaches a page, the debug probe, the ``run`` command,
a curl line, a log line, the run history, a reload answer, the JSON API (``/api/v1/runs``, ``/api/v1/runs/<id>``,
``/api/v1/failures``, ``/api/v1/workflows``, the ``/api/v1/stream`` event, ``/api/v1/sweeps`` and
``/api/v1/sweeps/<id>``), a replay, the target's contract sweep (its probe, pages and the ``contract`` command), or
the run store on disk (issue: secrets leak through channels other than the run page).

Rows are where a secret comes from (a credential, URL userinfo, a header by a secret-looking name that no
fixed list knows, an extracted login token, a value secret only by where it flows, a secret environment
variable, a DSN password, the synthetic marker's key); columns are the channels, each checked for every row.
Every row's step fails on purpose, so its failure message and curl line are printed too. The stub echoes
requests back, so secrets also come back inside response bodies and headers.

The exporter keeps its runs in a SQLite store under ``--storage.path`` (as the service does by default), and the
``run`` and ``replay`` commands store theirs there too: the store's files (the database, its write-ahead log and
shared memory) must not hold a secret's bytes, neither as they are on disk nor inside the zlib-compressed
documents, in live rows or in freed pages.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from exporter.store import DATABASE_FILE
from tests.conftest import REPO_ROOT
from tests.steps.stub import StubServer


@pytest.fixture
def echo() -> Iterator[StubServer]:
    server = StubServer().start()
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class Leak:
    name: str
    target: str  # extra target YAML (indented under the target); {url} is the stub's URL
    steps: str  # the workflow's steps; the last one fails (expect status 599)
    secrets: tuple[str, ...]  # none may appear in any output
    base_url: str = "{url}"
    env: tuple[tuple[str, str], ...] = ()


FAIL = "expect: {status: 599}"

LEAKS = [
    Leak("credential-token-in-query-string", "credentials: {api: {token: cred-token-q1w2e3}}",
         f'- {{name: call, http: {{path: /echo, query: {{api_token: "${{credentials.api.token}}"}}}}, {FAIL}}}',
         ("cred-token-q1w2e3",)),
    Leak("unknown-token-in-query-by-parameter-name", "",
         f"- {{name: call, http: {{path: /echo, query: {{access_token: literal-tok-9z8y7x}}}}, {FAIL}}}",
         ("literal-tok-9z8y7x",)),
    Leak("token-header-by-name-not-in-a-fixed-list", "",
         f"- {{name: call, http: {{path: /echo, headers: {{X-Auth-Token: hdr-tok-5t6y7u}}}}, {FAIL}}}",
         ("hdr-tok-5t6y7u",)),
    Leak("target-api-key-header", "headers: {X-Service-Key: svc-key-1a2b3c}",
         f"- {{name: call, http: {{path: /echo}}, {FAIL}}}", ("svc-key-1a2b3c",)),
    Leak("base-url-userinfo", "", f"- {{name: call, http: {{path: /echo}}, {FAIL}}}", ("url-pass-4r5t6y",),
         base_url="http://probe:url-pass-4r5t6y@{hostport}"),
    Leak("extracted-login-token", "",
         "- {name: login, http: {path: /set-cookie, query: {token: login-tok-7u8i9o}},\n"
         "   extract: {access: {json: csrftoken}}}\n"
         f'- {{name: call, http: {{path: /echo, headers: {{Authorization: "Bearer ${{access}}"}}}}, {FAIL}}}',
         ("login-tok-7u8i9o",)),
    Leak("extracted-value-secret-by-flow", "",
         "- {name: first, http: {path: /set-cookie, query: {token: flow-val-0p9o8i}},\n"
         "   extract: {handle: {json: csrftoken}}}\n"
         f'- {{name: call, http: {{path: /echo, headers: {{X-Session-Handle: "${{handle}}"}}}}, {FAIL}}}',
         ("flow-val-0p9o8i",)),
    Leak("secret-environment-variable", "headers: {X-Custom: '${env:WFX_LEAK_API_TOKEN}'}",
         f"- {{name: call, http: {{path: /echo}}, {FAIL}}}", ("env-tok-2w3e4r",),
         env=(("WFX_LEAK_API_TOKEN", "env-tok-2w3e4r"),)),
    Leak("password-in-json-body", "credentials: {probe: {username: probe, password: body-pw-6y7u8i}}",
         '- {name: call, http: {method: POST, path: /echo,\n'
         f'   json: {{user: probe, pass: "${{credentials.probe.password}}"}}}}, {FAIL}}}',
         ("body-pw-6y7u8i",)),
    Leak("dsn-password-percent-encoded", 'database: {dsn: "mysql://probe:dsn%23pw-3e4r5t@127.0.0.1:9/shop"}',
         "- {name: call, sql: 'SELECT 1'}", ("dsn#pw-3e4r5t", "dsn%23pw-3e4r5t")),
    Leak("synthetic-marker-key", "synthetic_secret: marker-key-8i9o0p",
         f"- {{name: call, http: {{path: /echo}}, {FAIL}}}", ("marker-key-8i9o0p",)),
]  # fmt: skip


# The target's contract sweep (a ``contracts:`` section) checks GET /echo against a document that wants a string:
# the echo of what was sent fails it, so each sweep keeps an example (request head, response body, curl line).
OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "echo", "version": "1"},
    "paths": {"/echo": {"get": {"responses": {"200": {
        "description": "the request, echoed", "content": {"application/json": {"schema": {"type": "string"}}}}}}}},
}  # fmt: skip


def _config(leak: Leak, url: str, openapi: Path) -> str:
    base_url = leak.base_url.format(url=url, hostport=url.removeprefix("http://"))
    steps = "\n".join(f"      {line}" for line in leak.steps.splitlines())
    return (
        f"targets:\n  stub:\n    base_url: {base_url}\n    {leak.target}\n"
        f'    openapi: {openapi}\n    contracts: {{include: ["GET /echo"]}}\n'
        f"workflows:\n  leak:\n    targets: [stub]\n    timeout: 5s\n    steps:\n{steps}\n"
    )


def _assert_clean(channel: str, text: str, leak: Leak) -> None:
    for secret in leak.secrets:
        assert secret not in text, f"{leak.name}: {secret!r} leaks through {channel}"


def _inflated(data: bytes) -> bytes:
    """Whatever zlib streams inside raw bytes decompress to (the store compresses its documents): from every
    zlib header on, as far as the stream goes (a row spilling over SQLite pages stops at the page's end)."""
    found = []
    start = data.find(b"\x78")
    while start != -1:
        if data[start + 1 : start + 2] in (b"\x01", b"\x5e", b"\x9c", b"\xda"):
            inflate = zlib.decompressobj()
            for offset in range(start, len(data), 512):
                try:
                    found.append(inflate.decompress(data[offset : offset + 512]))
                except zlib.error:
                    break
                if inflate.eof:
                    break
        start = data.find(b"\x78", start + 1)
    return b"".join(found)


def _stored_text(storage: Path) -> bytes:
    """The store's files as bytes (database, WAL, shared memory; as they are and inflated), then every value of
    every table read through SQLite, compressed documents inflated."""
    files = sorted(storage.glob(f"{DATABASE_FILE}*"))
    assert [f.name for f in files if f.name in (DATABASE_FILE, f"{DATABASE_FILE}-wal")], files
    raw = b"".join(f.read_bytes() for f in files)
    parts = [raw, _inflated(raw)]
    connection = sqlite3.connect(f"file:{storage / DATABASE_FILE}?mode=ro", uri=True)
    try:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):  # the store's own table names
                for value in row:
                    if isinstance(value, bytes):
                        try:
                            parts.append(zlib.decompress(value))
                        except zlib.error:
                            parts.append(value)
                    elif value is not None:
                        parts.append(str(value).encode())
    finally:
        connection.close()
    return b"\n".join(parts)


def _assert_clean_bytes(channel: str, data: bytes, leak: Leak) -> None:
    for secret in leak.secrets:
        assert secret.encode() not in data, f"{leak.name}: {secret!r} leaks through {channel}"


def _first_event(lines: Iterator[str]) -> str:
    """The data of the first ``run`` event of an open ``/api/v1/stream``'s lines."""
    for line in lines:
        if line.startswith("data: "):
            return str(line.removeprefix("data: "))
    raise AssertionError("the stream ended without an event")


def _commands(*commands: tuple[str, ...]) -> list[tuple[int, str]]:
    """``workflow-exporter`` commands run at once (each takes seconds to start): (exit code, stdout + stderr)."""
    started = [subprocess.Popen([sys.executable, "-m", "exporter", *args], cwd=REPO_ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for args in commands]  # fmt: skip
    done = []
    try:
        for process in started:
            output, _ = process.communicate(timeout=90)
            done.append((process.returncode, output))
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait()
    return done


@pytest.mark.parametrize("leak", LEAKS, ids=[leak.name for leak in LEAKS])
def test_no_channel_shows_a_secret(
    leak: Leak,
    echo: StubServer,
    serve_exporter,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    for name, value in leak.env:
        monkeypatch.setenv(name, value)
    storage, openapi = tmp_path / "data", tmp_path / "openapi.json"
    openapi.write_text(json.dumps(OPENAPI))
    monkeypatch.chdir(REPO_ROOT)  # the document is a file: a path starting with "/" would be one on the target
    openapi = Path(os.path.relpath(openapi, REPO_ROOT))
    running = serve_exporter(_config(leak, echo.url, openapi), storage_path=storage)
    assert running.exporter.store.persistent
    params = {"target": "stub", "workflow": "leak"}
    api = f"{running.url}/api/v1"

    with requests.get(f"{api}/stream", params=params, stream=True, timeout=(5, 30)) as stream:
        assert stream.status_code == 200, stream.text
        lines = stream.iter_lines(chunk_size=1, decode_unicode=True)
        assert next(lines).startswith("retry:")  # the stream is open
        debug = requests.get(f"{running.url}/probe", params={**params, "debug": "true"}, timeout=30).text
        assert "failed step call" in debug, debug  # the failure message and the curl line are printed
        _assert_clean("/probe?debug=true", debug, leak)
        _assert_clean("the /api/v1/stream event", _first_event(lines), leak)

    (run,) = running.exporter.history.recent()
    _assert_clean("the run history", repr(run), leak)
    page = requests.get(f"{running.url}/runs/{run.correlation_id}", timeout=10).text
    assert run.correlation_id in page
    _assert_clean("the run page", page, leak)
    _assert_clean("the landing page", requests.get(f"{running.url}/", timeout=10).text, leak)
    _assert_clean("the log", caplog.text + json.dumps([r.__dict__ for r in caplog.records], default=str), leak)

    # The JSON API: the list (filtered too), the run whole, its failure group with examples, the pairs.
    queries = [("/runs", {}), ("/runs", {**params, "result": "failure", "step": "call"}),
               (f"/runs/{run.correlation_id}", {}), ("/failures", {"examples": "20"}), ("/workflows", {})]  # fmt: skip
    for path, query in queries:
        answer = requests.get(f"{api}{path}", params=query, timeout=10)
        assert answer.status_code == 200, answer.text
        assert run.correlation_id in answer.text, (path, answer.text)
        _assert_clean(f"GET /api/v1{path}", answer.text, leak)
    whole = requests.get(f"{api}/runs/{run.correlation_id}", timeout=10).json()["data"]
    assert whole["has_bodies"] and whole["steps"][-1]["exchange"], "the failed run keeps its heads and bodies"

    # The commands, with the same store: ``run`` stores its run, ``replay`` replays the probe's run (its last step
    # alone: earlier values from the store, secret ones made again), ``contract`` prints the target's sweep.
    config_file = running.config_path
    (cli, cli_output), (replay, replay_output), (contract, contract_output) = _commands(
        ("run", f"--config.file={config_file}", "--workflow", "leak", f"--storage.path={storage}"),
        ("replay", run.correlation_id, "--step", "call", f"--config.file={config_file}", f"--storage.path={storage}"),
        ("contract", f"--config.file={config_file}", "--target", "stub", "--format", "json"),
    )
    assert cli == 1, cli_output
    _assert_clean("workflow-exporter run", cli_output, leak)
    assert replay == 1, replay_output
    _assert_clean("workflow-exporter replay", replay_output, leak)
    assert contract == 1 and "response_schema_conformance" in contract_output, contract_output
    _assert_clean("workflow-exporter contract", contract_output, leak)
    listed = requests.get(f"{api}/runs", params=params, timeout=10).json()["data"]["runs"]
    assert sorted(r["source"] for r in listed) == ["cli", "probe", "replay"], listed
    _assert_clean("GET /api/v1/runs (cli, replay)", json.dumps(listed), leak)
    for other in listed:
        _assert_clean(f"GET /api/v1/runs/<{other['source']} run>", requests.get(f"{api}/runs/{other['id']}",
                      timeout=10).text, leak)  # fmt: skip

    # The target's contract sweep: the probe's answer, its pages, its JSON.
    sweep = requests.get(f"{running.url}/probe", params={"target": "stub", "module": "contract"}, timeout=60)
    assert sweep.status_code == 200 and "probe_success 0.0" in sweep.text, sweep.text
    _assert_clean("/probe?module=contract", sweep.text, leak)
    (listed_sweep,) = requests.get(f"{api}/sweeps", params={"target": "stub"}, timeout=10).json()["data"]["sweeps"]
    sweep_id = listed_sweep["id"]
    _assert_clean("GET /api/v1/sweeps", json.dumps(listed_sweep), leak)
    whole_sweep = requests.get(f"{api}/sweeps/{sweep_id}", timeout=10)
    failed = [r for r in whole_sweep.json()["data"]["results"] if r["check"] == "response_schema_conformance"]
    assert failed and failed[0]["status"] == "failed" and failed[0]["example"]["curl"], whole_sweep.text
    _assert_clean("GET /api/v1/sweeps/<id>", whole_sweep.text, leak)
    for path in ("/contracts", "/contracts/stub", f"/contracts/stub/sweeps/{sweep_id}"):
        _assert_clean(f"the page {path}", requests.get(f"{running.url}{path}", timeout=10).text, leak)

    # The same secret in a config that does not load: the reload answer and its log line.
    config_file.write_text(_config(leak, echo.url, openapi) + "  unknown-field: [token]\n")
    answer = requests.post(f"{running.url}/-/reload", timeout=10)
    assert answer.status_code == 400
    _assert_clean("the reload answer", answer.text, leak)
    _assert_clean("the log", caplog.text, leak)

    # The run store on disk, with the service still holding it open (its write-ahead log not yet merged) ...
    assert running.exporter.store.flush()
    stored = _stored_text(storage)
    assert run.correlation_id.encode() in stored and sweep_id.encode() in stored, "the run and the sweep are stored"
    _assert_clean_bytes("the run store (open)", stored, leak)
    # ... and after the service closed it.
    running.exporter.stop()
    _assert_clean_bytes("the run store (closed)", _stored_text(storage), leak)


def test_what_the_target_answered_is_still_shown() -> None:
    """Redaction is by secret, not wholesale: ordinary values stay readable on every channel."""
    from synthetic.redact import Redactor

    redactor = Redactor(["known-secret-1"])
    assert redactor.url("http://h/p?page=2&api_key=abc&author=me") == "http://h/p?page=2&api_key=[REDACTED]&author=me"
    assert redactor.headers({"X-Request-ID": "abc123", "X-Api-Key": "k", "Content-Type": "json"}) == {
        "X-Request-ID": "abc123",
        "X-Api-Key": "[REDACTED]",
        "Content-Type": "json",
    }
    assert redactor.text("user known-secret-1 logged in") == "user [REDACTED] logged in"
    assert redactor.text("ftp://admin:pw@host/x") == "ftp://[REDACTED]@host/x"
