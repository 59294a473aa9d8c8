"""One redaction policy, every output: no secret of a run reaches a page, the debug probe, the ``run`` command,
a curl line, a log line, the run history or a reload answer (issue: secrets leak through channels other than
the run page).

Rows are where a secret comes from (a credential, URL userinfo, a header by a secret-looking name that no
fixed list knows, an extracted login token, a value secret only by where it flows, a secret environment
variable, a DSN password, the synthetic marker's key); columns are the channels, each checked for every row.
Every row's step fails on purpose, so its failure message and curl line are printed too. The stub echoes
requests back, so secrets also come back inside response bodies and headers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

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


def _config(leak: Leak, url: str) -> str:
    base_url = leak.base_url.format(url=url, hostport=url.removeprefix("http://"))
    steps = "\n".join(f"      {line}" for line in leak.steps.splitlines())
    return (
        f"targets:\n  stub:\n    base_url: {base_url}\n    {leak.target}\n"
        f"workflows:\n  leak:\n    targets: [stub]\n    timeout: 5s\n    steps:\n{steps}\n"
    )


def _assert_clean(channel: str, text: str, leak: Leak) -> None:
    for secret in leak.secrets:
        assert secret not in text, f"{leak.name}: {secret!r} leaks through {channel}"


@pytest.mark.parametrize("leak", LEAKS, ids=[leak.name for leak in LEAKS])
def test_no_channel_shows_a_secret(
    leak: Leak, echo: StubServer, serve_exporter, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in leak.env:
        monkeypatch.setenv(name, value)
    running = serve_exporter(_config(leak, echo.url))
    params = {"target": "stub", "workflow": "leak"}

    debug = requests.get(f"{running.url}/probe", params={**params, "debug": "true"}, timeout=30).text
    assert "failed step call" in debug, debug  # the failure message and the curl line are printed
    _assert_clean("/probe?debug=true", debug, leak)

    (run,) = running.exporter.history.recent()
    _assert_clean("the run history", repr(run), leak)
    page = requests.get(f"{running.url}/runs/{run.correlation_id}", timeout=10).text
    assert run.correlation_id in page
    _assert_clean("the run page", page, leak)
    _assert_clean("the landing page", requests.get(f"{running.url}/", timeout=10).text, leak)
    _assert_clean("the log", caplog.text + json.dumps([r.__dict__ for r in caplog.records], default=str), leak)

    config_file = running.config_path
    cli = subprocess.run(
        [sys.executable, "-m", "exporter", "run", f"--config.file={config_file}", "--workflow", "leak"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert cli.returncode == 1, cli.stderr
    _assert_clean("workflow-exporter run", cli.stdout + cli.stderr, leak)

    # The same secret in a config that does not load: the reload answer and its log line.
    config_file.write_text(_config(leak, echo.url) + "  unknown-field: [token]\n")
    answer = requests.post(f"{running.url}/-/reload", timeout=10)
    assert answer.status_code == 400
    _assert_clean("the reload answer", answer.text, leak)
    _assert_clean("the log", caplog.text, leak)


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
