"""The workflow files we ship load, and demo_shop.yml defines the demo's four journeys as the docs describe."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthetic.config import Config, ConfigError, load_config
from tests.conftest import REPO_ROOT

WORKFLOWS = Path("synthetic/workflows")
SHIPPED = sorted(p for pattern in ("*.yml", "*.yaml") for p in (REPO_ROOT / WORKFLOWS).glob(pattern))
# What the shipped files read from the environment: the required ones set, the ones with defaults unset.
REQUIRED_ENV = {"DEMO_PROBE_PASSWORD": "probe-password", "SHOP_DATABASE_URL": "sqlite:///var/lib/shop/db.sqlite3"}
DEFAULTED_ENV = ["SHOP_URL", "DEMO_PROBE_USER", "SYNTHETIC_SECRET"]

# The steps that carry each journey's latency budget.
BUDGETED = {
    "login": ["session-login", "jwt-login"],
    "product-fetch": ["list-products", "product-detail"],
    "cart": ["add-item", "change-quantity"],
    "checkout": ["checkout", "order-row"],
}


@pytest.fixture
def shipped_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO_ROOT)
    for name, value in REQUIRED_ENV.items():
        monkeypatch.setenv(name, value)
    for name in DEFAULTED_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def demo_shop(shipped_env: None) -> Config:
    return load_config(WORKFLOWS / "demo_shop.yml")


def test_the_shipped_files_are_found() -> None:
    assert REPO_ROOT / WORKFLOWS / "demo_shop.yml" in SHIPPED


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_workflow_file_loads(shipped_env: None, path: Path) -> None:
    config = load_config(path.relative_to(REPO_ROOT))
    assert config.workflows
    assert config.targets


def test_demo_shop_needs_its_password_and_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO_ROOT)
    for name in [*REQUIRED_ENV, *DEFAULTED_ENV]:
        monkeypatch.delenv(name, raising=False)
    path = WORKFLOWS / "demo_shop.yml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    unset = "environment variable DEMO_PROBE_PASSWORD is not set"
    assert caught.value.problems == [
        f"{path}: target 'demo-shop'.credentials.probe.password: {unset}",
        f"{path}: target 'demo-shop'.credentials.checkout.password: {unset}",
        f"{path}: target 'demo-shop'.database.dsn: environment variable SHOP_DATABASE_URL is not set",
    ]


def test_demo_shop_target_uses_the_defaults(demo_shop: Config) -> None:
    shop = demo_shop.targets["demo-shop"]
    assert shop.base_url == "http://127.0.0.1:8000"
    assert shop.credentials["probe"] == {"username": "probe", "password": "probe-password"}
    assert shop.database == "sqlite:///var/lib/shop/db.sqlite3"
    assert shop.synthetic_secret is None


def test_demo_shop_defines_the_four_journeys(demo_shop: Config) -> None:
    assert set(demo_shop.workflows) >= {"login", "product-fetch", "cart", "checkout"}
    for name, budgeted in BUDGETED.items():
        workflow = demo_shop.workflows[name]
        assert workflow.targets == ("demo-shop",)
        assert len(workflow.steps) >= 2, name
        steps = {step.name: step for step in workflow.steps}
        for step_name in budgeted:
            assert steps[step_name].max_duration is not None, f"{name}/{step_name} has no max_duration"
            assert 0 < (steps[step_name].max_duration or 0) <= workflow.timeout


def test_checkout_proves_the_order_row_and_cleans_up(demo_shop: Config) -> None:
    steps = demo_shop.workflows["checkout"].steps
    sql_steps = [step for step in steps if step.kind == "sql"]
    assert [step.name for step in sql_steps] == ["order-row"]
    assert sql_steps[0].spec.query.upper().startswith("SELECT")
    teardown = [step for step in steps if step.always_run]
    assert [step.name for step in teardown] == ["cancel-order", "clear-cart"]
    assert all(step.kind == "http" and step.spec.method == "DELETE" for step in teardown)
    # teardown comes last: every always_run step runs after the steps it cleans up after
    assert list(steps[-len(teardown) :]) == teardown


def test_cart_removes_its_item_even_when_a_step_fails(demo_shop: Config) -> None:
    last = demo_shop.workflows["cart"].steps[-1]
    assert (last.name, last.always_run, last.spec.method) == ("remove-item", True, "DELETE")
