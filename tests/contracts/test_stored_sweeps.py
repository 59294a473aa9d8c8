"""Contract sweeps in the run store, against the real demo shop under gunicorn with its shipped config
(synthetic/workflows/demo_shop.yml) and the exporter's real HTTP server: a sweep that fails on ``schema_drift``
keeps its example (the request, the answer's status, the first schema error) through a restart on the same
``--storage.path``, on its pages and in the API, while the metrics wait for the next sweep; and a store whose disk
is locked past its timeout still serves the last sweep from memory. The shop's database does not matter to the
store, so the shop runs on SQLite only."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from exporter.store import DATABASE_FILE
from synthetic.config import Config
from synthetic.contracts.negative import NegativeData
from tests.exporter.test_api import Served, serving
from tests.harness import ShopServer, start_shop

from .conftest import DEMO_WORKFLOWS

OPERATION, CHECK = "GET /api/products/{id}/", "response_schema_conformance"
SCHEMA_ERROR = "price: 4.99 is not of type 'string'"
ESCAPED_ERROR = SCHEMA_ERROR.replace("'", "&#39;")  # as the pages show it


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopServer]:
    """The demo shop under gunicorn on SQLite (this module's ``healthy`` and ``demo_config`` use it)."""
    workdir = tmp_path_factory.mktemp("shop-sqlite")
    server = start_shop(workdir, f"sqlite:///{workdir / 'shop.sqlite3'}")
    yield server
    server.stop()


@pytest.fixture
def serve_app(tmp_path: Path, demo_config: Config, negative: NegativeData) -> Iterator[Callable[..., Served]]:
    """Exporters of the shipped demo config (``demo_config`` set the environment it reads), not scheduled: only
    the test sweeps. They share the session's generated invalid requests (generating them costs seconds)."""

    def start(**kwargs: Any) -> Served:
        served = starter(DEMO_WORKFLOWS.read_text(), **kwargs)
        served.exporter.contracts.negative = negative
        return served

    with serving(tmp_path) as starter:
        yield start


def text(response: requests.Response) -> str:
    """A page's text with its whitespace runs made single spaces (the templates wrap their sentences)."""
    assert response.status_code == 200, response.text
    return " ".join(response.text.split())


def sweep_now(served: Served) -> str:
    """A sweep over real HTTP, as Prometheus asks for one; the probe's exposition."""
    answer = requests.get(f"{served.url}/probe", params={"target": "demo-shop", "module": "contract"}, timeout=90)
    assert answer.status_code == 200, answer.text
    return answer.text


def sweeps(served: Served, **params: str) -> list[dict[str, Any]]:
    answer = served.get("/api/v1/sweeps", target="demo-shop", **params)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["sweeps"]


def the_failure(served: Served, sweep_id: str) -> dict[str, Any]:
    answer = served.get(f"/api/v1/sweeps/{sweep_id}")
    assert answer.status_code == 200, answer.text
    failed = [r for r in answer.json()["data"]["results"] if r["status"] in ("failed", "error")]
    assert [(r["operation"], r["check"]) for r in failed] == [(OPERATION, CHECK)]
    return failed[0]


def check_series(served: Served) -> list[str]:
    return [line for line in served.get("/metrics").text.splitlines()
            if line.startswith("workflow_contract_check_success{")]  # fmt: skip


def test_a_failing_sweep_keeps_its_example_through_a_restart(
    serve_app: Callable[..., Served], healthy: ShopServer, tmp_path: Path
) -> None:
    storage = tmp_path / "data"
    first = serve_app(storage_path=storage)
    healthy.set_faults(schema_drift=True)
    assert "probe_success 0.0" in sweep_now(first).splitlines()
    (listed,) = sweeps(first)
    assert (listed["result"], listed["source"], listed["counts"]["failed"], listed["error"]) == (
        "failure", "probe", 1, None)  # fmt: skip
    sweep_id = listed["id"]
    first.stop()

    second = serve_app(storage_path=storage)
    assert check_series(second) == [], "the gauges come back with the next sweep, not from the store"
    # The target's page: the stored sweep, said to be from before the restart, its failure with the example.
    page = text(second.get("/contracts/demo-shop"))
    assert "This sweep ran before the exporter started and was read back from the run store." in page
    assert ESCAPED_ERROR in page and OPERATION in page
    assert f'href="/contracts/demo-shop/sweeps/{sweep_id}"' in page
    assert "response_schema_conformance" in text(second.get("/contracts"))
    # The sweep's own page and the API: the request, the answer's status, the first schema error.
    own = text(second.get(f"/contracts/demo-shop/sweeps/{sweep_id}"))
    assert f"GET {healthy.url}/api/products/" in own and "<dt>status</dt><dd>200</dd>" in own
    assert f'<dt>first schema error</dt><dd><code class="schema-error">{ESCAPED_ERROR}</code>' in own
    failure = the_failure(second, sweep_id)
    example = failure["example"]
    assert (example["method"], example["status"], example["schema_error"]) == ("GET", 200, SCHEMA_ERROR)
    assert example["url"].startswith(f"{healthy.url}/api/products/") and example["correlation_id"]
    assert "Bearer" not in example["curl"] or "[REDACTED]" in example["curl"]
    # What the store holds on disk went through the sweep's redaction: no password, no token.
    on_disk = b"".join(path.read_bytes() for path in storage.glob(f"{DATABASE_FILE}*"))
    assert healthy.env["DEMO_PROBE_PASSWORD"].encode() not in on_disk and b"Bearer ey" not in on_disk

    # The fault mended: the next sweep replaces the restored one and brings the series back; the failed sweep's
    # page stays, in the target's history.
    healthy.set_faults(schema_drift=False)
    assert "probe_success 1.0" in sweep_now(second).splitlines()
    page = text(second.get("/contracts/demo-shop"))
    assert "read back from the run store" not in page and "Every check the sweep could run passed." in page
    assert [s["result"] for s in sweeps(second)] == ["success", "failure"]
    assert [s["id"] for s in sweeps(second, result="failure")] == [sweep_id]
    assert f'href="/contracts/demo-shop/sweeps/{sweep_id}"' in page, "the failed sweep in the history"
    assert ESCAPED_ERROR in text(second.get(f"/contracts/demo-shop/sweeps/{sweep_id}"))
    series = check_series(second)
    assert series and all(line.endswith(" 1.0") for line in series)


def test_a_degraded_store_still_serves_the_last_sweep(
    serve_app: Callable[..., Served], healthy: ShopServer, tmp_path: Path
) -> None:
    """Another process holds the store's lock for longer than the writer waits: the store degrades to memory,
    carrying the sweeps it has, and the sweep that could not be written is served from there."""
    storage = tmp_path / "data"
    served = serve_app(storage_path=storage)
    assert "probe_success 1.0" in sweep_now(served).splitlines()
    assert served.exporter.store.flush()
    holder = sqlite3.connect(storage / DATABASE_FILE, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        healthy.set_faults(schema_drift=True)
        assert "probe_success 0.0" in sweep_now(served).splitlines()
        assert served.exporter.store.flush(timeout=30)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert served.exporter.store.degraded
    assert "workflow_exporter_store_degraded 1.0" in served.get("/metrics").text.splitlines()
    listed = sweeps(served)
    assert [s["result"] for s in listed] == ["failure", "success"], "the earlier sweep came along from the disk"
    example = the_failure(served, listed[0]["id"])["example"]
    assert (example["status"], example["schema_error"]) == (200, SCHEMA_ERROR)
    page = text(served.get("/contracts/demo-shop"))
    assert "which failed and keeps them in memory only" in page and ESCAPED_ERROR in page
    assert ESCAPED_ERROR in text(served.get(f"/contracts/demo-shop/sweeps/{listed[0]['id']}"))
