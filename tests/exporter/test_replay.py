"""Replays and reproduction (exporter/replay.py): ``workflow-exporter replay <id>`` re-runs a stored run's workflow
or one step with the values the original had and the secrets of the current config, stores the result linked to
the original; the run page's replay (POST, same origin, --web.enable-replay only); ``run --storage.path`` keeps
its run; and the run page's curl line, whose secrets are shell variables, reproduces the request when pasted.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from exporter.store import RunFilter, RunStore
from tests.exporter.test_api import Served, serving
from tests.steps.stub import StubServer


@pytest.fixture
def serve_app(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    with serving(tmp_path) as start:
        yield start


PASSWORD_ENV = "WFX_REPLAY_PASSWORD"

CONFIG = """
targets:
  stub:
    base_url: {url}
    credentials:
      probe: {{username: probe, password: "${{env:{env}}}"}}
workflows:
  order:
    targets: [stub]
    timeout: 5s
    steps:
      - name: login
        http: {{method: POST, path: /echo/login, json: {{username: "${{credentials.probe.username}}",
                                                        password: "${{credentials.probe.password}}"}}}}
        extract: {{access: {{json: json.password}}}}
      - name: item
        http: {{path: /ok}}
        extract: {{item_id: {{json: id}}}}
      - name: sneaky
        http: {{method: POST, path: /echo/sneaky, body: "$${{credentials.probe.password}}"}}
        extract: {{quoted: {{json: body}}}}
      - name: pay
        http:
          method: POST
          path: "/echo/pay/${{item_id}}"
          headers: {{Authorization: "Bearer ${{access}}", X-Quoted: "${{quoted}}"}}
          json: {{item: "${{item_id}}", quantity: 2}}
        expect: {{status: 201}}
"""


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def setup(tmp_path: Path, stub: StubServer) -> dict[str, Any]:
    config = tmp_path / "workflows.yml"
    config.write_text(CONFIG.format(url=stub.url, env=PASSWORD_ENV))
    return {"config": config, "storage": tmp_path / "data"}


def cli(*args: str, password: str = "first-password-1", cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, PASSWORD_ENV: password}
    return subprocess.run([sys.executable, "-m", "exporter", *args], capture_output=True, text=True, timeout=60,
                          env=env, cwd=cwd)  # fmt: skip


def stored(storage: Path) -> RunStore:
    return RunStore(storage)


def first_run(setup: dict[str, Any]) -> str:
    """``run`` with --storage.path keeps its run (source cli); returns its ID."""
    done = cli("run", f"--config.file={setup['config']}", "--workflow", "order", f"--storage.path={setup['storage']}")
    assert done.returncode == 1, done.stderr  # pay wants 201, /echo answers 200
    store = stored(setup["storage"])
    try:
        (summary,) = store.runs(RunFilter())[0]
        assert (summary.source, summary.step, summary.reason) == ("cli", "pay", "http_status")
        return summary.id
    finally:
        store.close()


def sent(stub: StubServer, path: str) -> dict[str, Any]:
    request = stub.received(path)[-1]
    return {"headers": request.headers, "json": json.loads(request.body) if request.body else None}


def test_replaying_one_step_uses_the_runs_values_and_the_current_secrets(setup, stub: StubServer) -> None:
    original = first_run(setup)
    assert sent(stub, "/echo/login")["json"]["password"] == "first-password-1"
    done = cli("replay", original, "--step", "pay", f"--config.file={setup['config']}",
               f"--storage.path={setup['storage']}", password="second-password-2")  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "(ran login first for values the store does not hold)" in done.stderr
    assert "workflow order on stub: FAILURE" in done.stdout and "pay" in done.stdout
    pay = sent(stub, "/echo/pay/42")
    assert pay["headers"]["authorization"] == "Bearer second-password-2", "a fresh token, from the current config"
    assert pay["json"] == {"item": 42, "quantity": 2}, "item_id as the original run had it, typed"
    assert pay["headers"]["x-quoted"] == "${credentials.probe.password}", "a stored value is never expanded"
    assert len(stub.received("/ok")) == 1, "the step whose value was stored did not run again"
    store = stored(setup["storage"])
    try:
        replay = store.runs(RunFilter(source="replay"))[0][0]
        assert replay.replay_of == original
        replayed = store.get(replay.id)
        assert replayed is not None and [s.name for s in replayed.steps] == ["login", "pay"]
        assert [s.id for s in store.replays_of(original)] == [replay.id]
        text = json.dumps(json.loads(cli("replay", replay.id, "--step", "pay", "--format", "json",
                                         f"--config.file={setup['config']}",
                                         f"--storage.path={setup['storage']}").stdout))  # fmt: skip
        assert "second-password-2" not in text and "first-password-1" not in text
    finally:
        store.close()


def test_replay_with_set_and_a_body_file(setup, stub: StubServer, tmp_path: Path) -> None:
    original = first_run(setup)
    body = tmp_path / "body.json"
    body.write_text('{"item": 99, "note": "${credentials.probe.password}"}')
    done = cli("replay", original, "--step", "pay", "--set", "item_id=7", "--set", "quoted=by hand",
               "--body-file", str(body), f"--config.file={setup['config']}",
               f"--storage.path={setup['storage']}")  # fmt: skip
    assert done.returncode == 1, done.stderr
    pay = sent(stub, "/echo/pay/7")
    assert pay["json"] == {"item": 99, "note": "${credentials.probe.password}"}, "the file, literally"
    assert pay["headers"]["x-quoted"] == "by hand"


def test_replaying_the_whole_workflow(setup, stub: StubServer) -> None:
    original = first_run(setup)
    done = cli("replay", original, f"--config.file={setup['config']}", f"--storage.path={setup['storage']}",
               "--format", "json", "--output", str(setup["storage"].parent / "replay.json"))  # fmt: skip
    assert done.returncode == 1 and "replayed the whole workflow" in done.stderr
    document = json.loads((setup["storage"].parent / "replay.json").read_text())
    assert [s["name"] for s in document["steps"]] == ["login", "item", "sneaky", "pay"]
    assert len(stub.received("/ok")) == 2


REFUSED = [
    (["replay", "no-such-run"], "no run 'no-such-run' in the store"),
    (["replay", "{id}", "--step", "checkout"], "workflow 'order' has no step 'checkout'; its steps: login, item"),
    (["replay", "{id}", "--body-file", "{body}"], "--body-file needs --step"),
    (["replay", "{id}", "--step", "pay", "--set", "not an assignment"], "expected name=value"),
    (["replay", "{id}", "--step", "pay", "--body-file", "{text}"], "sends JSON, and the file is not JSON"),
    (["replay", "{id}", "--step", "pay", "--body-file", "{missing}"], "No such file or directory"),
    (["replay", "{id}", "--storage.path={empty}"], "no run store at"),
    (["replay", "{id}", "--storage.path="], "replay needs the run store"),
    (["replay", "{id}", "--config.file={renamed}"], "cannot replay order:\n  {renamed}: unknown workflow 'order'"),
]


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], str]]:
    """One stored run for the refusals (none of them runs anything or writes to the store)."""
    server = StubServer().start()
    directory = tmp_path_factory.mktemp("refusals")
    config = directory / "workflows.yml"
    config.write_text(CONFIG.format(url=server.url, env=PASSWORD_ENV))
    setup = {"config": config, "storage": directory / "data"}
    try:
        yield setup, first_run(setup)
    finally:
        server.stop()


@pytest.mark.parametrize(("args", "says"), REFUSED, ids=[row[1][:40] for row in REFUSED])
def test_replays_that_cannot_be_made_exit_2_and_say_why(refusals, tmp_path: Path, args: list[str], says: str) -> None:
    setup, original = refusals
    (tmp_path / "body.json").write_text("{}")
    (tmp_path / "text.txt").write_text("not json")
    (tmp_path / "empty").mkdir()
    (tmp_path / "renamed.yml").write_text(setup["config"].read_text().replace("  order:", "  renamed:"))
    values = {
        "id": original,
        "body": tmp_path / "body.json",
        "text": tmp_path / "text.txt",
        "missing": tmp_path / "missing.json",
        "empty": tmp_path / "empty",
        "renamed": tmp_path / "renamed.yml",
    }
    filled = [arg.format(**values) for arg in args]
    defaults = [f"--config.file={setup['config']}", f"--storage.path={setup['storage']}"]
    done = cli(*filled[:2], *defaults, *filled[2:])  # the later flags win
    assert done.returncode == 2, done.stdout + done.stderr
    assert says.format(**values) in done.stderr
    assert "Traceback" not in done.stderr


# --- the run page --------------------------------------------------------------------------------------------


@pytest.fixture
def page_setup(serve_app, stub: StubServer, monkeypatch: pytest.MonkeyPatch) -> Served:
    monkeypatch.setenv(PASSWORD_ENV, "page-password-3")
    served = serve_app(CONFIG.format(url=stub.url, env=PASSWORD_ENV), enable_replay=True)
    workflow, target = served.exporter.config.pairs()[0]
    served.exporter.run(workflow, target)
    return served


def post(served: Served, run_id: str, data: dict[str, str] | None = None, **headers: str) -> requests.Response:
    """POST the replay form with these headers (``Sec_Fetch_Site`` for ``Sec-Fetch-Site``)."""
    sent_headers = {name.replace("_", "-"): value for name, value in headers.items()}
    return requests.post(f"{served.url}/runs/{run_id}/replay", data=data, headers=sent_headers,
                         allow_redirects=False, timeout=10)  # fmt: skip


def test_the_page_replays_only_same_origin_posts(page_setup: Served) -> None:
    served = page_setup
    original = served.exporter.store.runs(RunFilter())[0][0].id
    origin = served.url
    assert post(served, original).status_code == 403, "no Origin, Referer or Sec-Fetch-Site: refused"
    assert post(served, original, Origin="http://evil.example").status_code == 403
    assert post(served, original, Origin=origin.replace("127.0.0.1", "localhost")).status_code == 403
    assert post(served, original, Referer="http://evil.example/runs/x").status_code == 403
    assert post(served, original, Sec_Fetch_Site="cross-site").status_code == 403
    wrong_method = requests.get(f"{served.url}/runs/{original}/replay", timeout=10)
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "POST"
    assert post(served, "no-such-run", Origin=origin).status_code == 404
    assert post(served, original, {"url": "http://evil.example/"}, Origin=origin).status_code == 400
    assert post(served, original, {"step": "nope"}, Origin=origin).status_code == 409

    accepted = post(served, original, {"step": "pay"}, Origin=origin)
    assert accepted.status_code == 303
    new_id = accepted.headers["Location"].removeprefix("/runs/")
    replay = requests.get(f"{served.url}/api/v1/runs/{new_id}", timeout=10).json()["data"]
    assert (replay["source"], replay["replay_of"]) == ("replay", original)
    assert [s["name"] for s in replay["steps"]] == ["login", "pay"]
    by_fetch_metadata = post(served, original, Sec_Fetch_Site="same-origin")
    assert by_fetch_metadata.status_code == 303


def test_replay_is_off_without_the_flag(serve_app, stub: StubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "page-password-3")
    served = serve_app(CONFIG.format(url=stub.url, env=PASSWORD_ENV))
    workflow, target = served.exporter.config.pairs()[0]
    run = served.exporter.run(workflow, target)
    refused = post(served, run.correlation_id, Origin=served.url)
    assert refused.status_code == 403 and "--web.enable-replay" in refused.text
    page = requests.get(f"{served.url}/runs/{run.correlation_id}", timeout=10).text
    assert 'id="replay"' not in page and "--web.enable-replay" in page


def test_the_curl_line_has_secrets_as_variables_and_reproduces_the_request(page_setup: Served,
                                                                           stub: StubServer) -> None:  # fmt: skip
    served = page_setup
    run_id = served.exporter.store.runs(RunFilter())[0][0].id
    page = requests.get(f"{served.url}/runs/{run_id}", timeout=10).text
    assert "page-password-3" not in page
    curls = page.split('<pre class="curl">')[1:]
    login = curls[0].split("</pre>")[0].replace("&#39;", "'").replace("&#34;", '"').replace("&amp;", "&")
    assert '"$PROBE_PASSWORD"' in login
    assert f"set there from the environment variable {PASSWORD_ENV}" in page
    pay = curls[3].split("</pre>")[0].replace("&#39;", "'").replace("&#34;", '"').replace("&amp;", "&")
    assert '"$ACCESS"' in pay and "/echo/pay/42" in pay
    assert "the value step &#39;login&#39; extracted (json: json.password)" in page

    before = len(stub.received("/echo/login"))
    shell = subprocess.run(["sh", "-c", login], env={"PATH": os.environ["PATH"], "PROBE_PASSWORD": "typed-by-hand"},
                           capture_output=True, text=True, timeout=30)  # fmt: skip
    assert shell.returncode == 0, shell.stderr
    assert len(stub.received("/echo/login")) == before + 1
    assert sent(stub, "/echo/login")["json"] == {"username": "probe", "password": "typed-by-hand"}
    paid = subprocess.run(["sh", "-c", pay], env={"PATH": os.environ["PATH"], "ACCESS": "tok en"},
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert paid.returncode == 0, paid.stderr
    assert sent(stub, "/echo/pay/42")["headers"]["authorization"] == "Bearer tok en"
    assert shlex.split(pay)[0] == "curl"
