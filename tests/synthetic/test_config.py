"""The workflow config, blackbox_exporter style: one file per invalid case, each with its exact problem lines.

Every file in testdata/invalid-*.yml is in INVALID (and the other way round), so a new case cannot go untested.
Paths are relative to the repo root, as a user passes them, and the expected lines are built from that path.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from exporter.sections import SECTIONS
from synthetic.config import (
    CircuitBreakerConfig,
    Config,
    ConfigError,
    Step,
    Target,
    TLSConfig,
    load_config,
    parse_config,
)
from synthetic.errors import Problems
from synthetic.steps.http import HttpSpec
from synthetic.steps.sql import SqlSpec
from tests.conftest import REPO_ROOT

TESTDATA = Path("tests/synthetic/testdata")
VALID = TESTDATA / "valid-full.yml"
VALID_ENV = {"WFX_TEST_TOKEN": "api-token-1234", "WFX_TEST_PROBE_HEADER": "probe-header"}

NAME_RULE = "lower-case letters, digits, '-' and '_'"
UNDEFINED_NEVER = "no step extracts it and it is not built in (run.*, target.*, credentials.*)"

# Each file, and the problems after "<file>: " on each line, in the order they are reported.
INVALID: dict[str, list[str]] = {
    "not-yaml": [
        "line 4: invalid YAML: expected ',' or '}', but got ':' (while parsing a flow mapping that starts on line 3)"
    ],
    "top-level-not-mapping": ["expected a mapping with 'targets' and 'workflows'"],
    "unknown-top-level-key": ["unknown field 'settings' (known: targets, workflows)"],
    "no-targets": [
        "targets: expected a mapping of target names to targets, with at least one",
        "workflow 'browse': unknown target 'shop' (known: none)",
    ],
    "target-base-url-scheme": ["target 'shop': base_url must be an http:// or https:// URL, got 'ftp://127.0.0.1/'"],
    "unknown-target-field": [
        "target 'shop': unknown field 'timeout' (known: base_url, circuit_breaker, contracts, credentials, database, "
        "headers, "
        "implicit_statuses, max_response_bytes, openapi, synthetic_secret, synthetic_secret_file, tls)"
    ],
    "target-name-upper-case": [f"target 'Shop': names are {NAME_RULE} (they become label values)"],
    "tls-ca-file-missing": [
        f"target 'shop'.tls.ca_file: file '{TESTDATA / 'no-such-ca.pem'}' does not exist or is not a file"
    ],
    "circuit-breaker-not-mapping": ["target 'shop'.circuit_breaker: expected a mapping with failures and cooldown"],
    "password-and-password-file": ["target 'shop'.credentials.probe: set password or password_file, not both"],
    "password-file-missing": [
        f"target 'shop'.credentials.probe: password_file '{TESTDATA / 'no-such-password.txt'}': "
        "No such file or directory"
    ],
    # An unset variable is reported once, not again as "base_url ... got ''"; the username's :-default is no problem.
    "env-unset": [
        "target 'shop'.base_url: environment variable WFX_TEST_UNSET_URL is not set",
        "target 'shop'.credentials.probe.password: environment variable WFX_TEST_UNSET_PASSWORD is not set",
    ],
    "database-dsn-scheme": [
        "target 'shop'.database: dsn must start with mysql://, mariadb:// or sqlite:///, got postgres://"
    ],
    "unknown-workflow-target": ["workflow 'browse': unknown target 'staging' (known: shop)"],
    "workflow-target-not-a-name": ["workflow 'browse': targets must list target names, got {'name': 'shop'}"],
    "unknown-workflow-field": [
        "workflow 'browse': unknown field 'schedule' (known: description, interval, min_interval, steps, targets, "
        "timeout)"
    ],
    "timeout-longer-than-interval": ["workflow 'browse': timeout (30s) must not be longer than interval (10s)"],
    "bad-duration": ["workflow 'browse': interval: '5 seconds' is not a duration (use e.g. 500ms, 5s, 1m)"],
    "zero-interval": ["workflow 'browse': interval: must be longer than 0"],
    "empty-steps": ["workflow 'browse': steps must be a list with at least one step"],
    "step-without-name": [f"workflow 'browse', step 2: name is required: {NAME_RULE} (it becomes a label value)"],
    "step-name-not-valid": [
        f"workflow 'browse', step 1: name 'Home Page' is not valid: {NAME_RULE} (it becomes a label value)"
    ],
    "duplicate-step-names": ["workflow 'browse', step 'home': duplicate step name"],
    "unknown-step-kind": ["workflow 'browse', step 'download': unknown step kind 'ftp' (known: browser, http, sql)"],
    "step-without-kind": ["workflow 'browse', step 'home': needs exactly one step kind (browser, http, sql), got none"],
    "two-kinds": ["workflow 'browse', step 'both': needs exactly one step kind (browser, http, sql), got http and sql"],
    "unknown-step-field": [
        "workflow 'browse', step 'home': unknown field 'retry' (known: always_run, description, expect, extract, "
        "name, retries, timeout, and one step kind: browser, http, sql)"
    ],
    "http-method": [
        "workflow 'browse', step 'home': http: method 'FETCH' is not one of "
        "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
    ],
    "http-path": [
        "workflow 'browse', step 'products': http: path must start with one '/' (it is relative to the target), "
        "got 'api/products/'"
    ],
    "json-and-form": ["workflow 'browse', step 'login': http: set one of json, form and body, not json and form"],
    "unknown-expect-assertion": [
        "workflow 'browse', step 'home': expect: unknown assertion 'code' "
        "(known: body_regex, headers, json, json_schema, max_duration, openapi, server, status)"
    ],
    "bad-status": ["workflow 'browse', step 'home': expect.status: '6xx' is not a status code, '2xx' or '200-299'"],
    # One line each, though JMESPath's own message draws the expression and a caret on lines of their own.
    "jmespath-expect": [
        "workflow 'browse', step 'products': expect.json: 'results[' is not a JMESPath expression: "
        'Invalid jmespath expression: Incomplete expression: "results["'
    ],
    # The variable of an extract that does not parse still counts as defined: no follow-on problem in 'detail'.
    "jmespath-extract": [
        "workflow 'browse', step 'products': extract.product_id: 'results[?id' is not a JMESPath expression: "
        'Invalid jmespath expression: Incomplete expression: "results[?id"'
    ],
    "regex-body": [
        "workflow 'browse', step 'home': expect.body_regex: invalid regular expression 'Welcome (to': "
        "missing ), unterminated subpattern at position 8"
    ],
    "regex-extract": [
        "workflow 'browse', step 'home': extract.version: invalid regular expression 'version=[0-9': "
        "unterminated character set at position 8"
    ],
    "json-schema": [
        "workflow 'browse', step 'products': expect.json_schema is not a valid JSON Schema: "
        "'objekt' is not valid under any of the given schemas"
    ],
    "retries-on-post": [
        "workflow 'browse', step 'checkout': retries are only allowed for idempotent steps "
        "(GET, HEAD, OPTIONS, PUT, DELETE), not POST"
    ],
    "variable-used-before-extract": [
        "workflow 'browse', step 'detail': undefined variable ${product_id}: "
        "it is used before step 'products' extracts it"
    ],
    "variable-never-defined": [
        f"workflow 'browse', step 'detail': undefined variable ${{access_token}}: {UNDEFINED_NEVER}"
    ],
    "variable-same-step": [
        "workflow 'browse', step 'products': undefined variable ${product_id}: "
        "this step extracts it, but only after its request and assertions"
    ],
    "credential-not-on-every-target": [
        "workflow 'login', step 'login': undefined variable ${credentials.probe.password}: "
        "target 'backup' has no such credential",
        "workflow 'login', step 'login': undefined variable ${credentials.probe.username}: "
        "target 'backup' has no such credential",
    ],
    "sql-no-database": [
        "workflow 'browse', step 'order-row': sql steps need a database on target 'shop' (database: {dsn: ...})"
    ],
    "sql-not-read-only": [
        "workflow 'browse', step 'purge': sql: query must be one read-only statement "
        "(SELECT, WITH … SELECT, SHOW, EXPLAIN or DESCRIBE), got 'DELETE FROM shop_order'"
    ],
    "sql-params-missing": [
        "workflow 'browse', step 'order-row': sql: the query uses %(user_id)s but params has no 'user_id'"
    ],
    "several-problems": [
        "unknown field 'extras' (known: targets, workflows)",
        "target 'shop': base_url must be an http:// or https:// URL, got 'shop.example.com'",
        "target 'shop'.credentials.probe: set password or password_file, not both",
        "workflow 'checkout': unknown target 'staging' (known: shop)",
        "workflow 'checkout': timeout (60s) must not be longer than interval (30s)",
        "workflow 'checkout', step 'login': expect: unknown assertion 'code' "
        "(known: body_regex, headers, json, json_schema, max_duration, openapi, server, status)",
        "workflow 'checkout', step 'login': expect.status: '6xx' is not a status code, '2xx' or '200-299'",
        "workflow 'checkout', step 'login': retries are only allowed for idempotent steps "
        "(GET, HEAD, OPTIONS, PUT, DELETE), not POST",
        "workflow 'checkout', step 'login': duplicate step name",
        f"workflow 'checkout', step 'login': undefined variable ${{order_id}}: {UNDEFINED_NEVER}",
        "workflow 'checkout', step 'order-row': sql: query must be one read-only statement "
        "(SELECT, WITH … SELECT, SHOW, EXPLAIN or DESCRIBE), got 'DELETE FROM shop_order'",
        "workflow 'checkout', step 'order-row': sql steps need a database on target 'shop' (database: {dsn: ...})",
        f"workflow 'Browse': names are {NAME_RULE} (they become label values)",
        "workflow 'Browse': steps must be a list with at least one step",
    ],
}


def invalid_path(case: str) -> Path:
    return TESTDATA / f"invalid-{case}.yml"


def expected_lines(path: Path, messages: list[str]) -> list[str]:
    return [f"{path}: {message}" for message in messages]


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative paths as a user passes them, and no WFX_TEST_* variable left over from the environment."""
    monkeypatch.chdir(REPO_ROOT)
    for name in list(os.environ):
        if name.startswith("WFX_TEST_"):
            monkeypatch.delenv(name)


def test_every_invalid_file_has_its_expected_problems_and_the_other_way_round() -> None:
    files = {p.name.removeprefix("invalid-").removesuffix(".yml") for p in (REPO_ROOT / TESTDATA).glob("invalid-*")}
    assert files == set(INVALID)


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_config_reports_exactly_its_problems(case: str) -> None:
    path = invalid_path(case)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == expected_lines(path, INVALID[case])
    assert str(caught.value) == "\n".join(caught.value.problems)
    assert all("\n" not in problem for problem in caught.value.problems)


def test_several_problems_are_all_reported_together_in_order() -> None:
    path = invalid_path("several-problems")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert len(caught.value.problems) == 14
    assert caught.value.problems == expected_lines(path, INVALID["several-problems"])


def test_problems_never_show_a_secret() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(invalid_path("database-dsn-scheme"))
    assert "db-secret" not in str(caught.value)
    assert "probe:" not in str(caught.value)


def test_a_file_that_cannot_be_read_is_one_problem() -> None:
    path = TESTDATA / "no-such-config.yml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [f"{path}: cannot read: No such file or directory"]


def test_parse_config_names_the_text_it_was_given() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("[]")
    assert caught.value.problems == ["<config>: expected a mapping with 'targets' and 'workflows'"]


def test_workflow_durations_that_are_not_finite_are_rejected() -> None:
    text = (REPO_ROOT / invalid_path("zero-interval")).read_text().replace("interval: 0s", "interval: .inf")
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "w.yml")
    assert caught.value.problems == [
        "w.yml: workflow 'browse': interval: inf is not a duration (use e.g. 500ms, 5s, 1m)"
    ]


# --- a valid file with every feature ------------------------------------------------------------------------------


@pytest.fixture
def valid(monkeypatch: pytest.MonkeyPatch) -> Config:
    for name, value in VALID_ENV.items():
        monkeypatch.setenv(name, value)
    return load_config(VALID)


def test_valid_config_targets(valid: Config) -> None:
    assert valid.path == str(VALID)
    assert list(valid.targets) == ["shop", "backup"]
    shop = valid.targets["shop"]
    assert shop.name == "shop"
    assert shop.base_url == "https://shop.example.com"  # the ${env:...:-default}, trailing '/' removed
    assert shop.openapi == "/api/schema/?format=json"
    assert shop.headers == {"X-Probe": "probe-header", "Accept-Language": "en"}
    assert shop.tls == TLSConfig(ca_file=str(TESTDATA / "ca.pem"))
    assert Path(shop.tls.ca_file or "").is_file()
    assert shop.credentials == {
        "probe": {"username": "probe", "password": "probe-secret-pw"},  # password_file, stripped
        "api": {"token": "api-token-1234"},
    }
    assert shop.database == "sqlite:///var/lib/shop/db.sqlite3"  # dsn_file
    assert shop.synthetic_secret == "marker-signing-key"  # synthetic_secret_file, stripped
    assert shop.circuit_breaker == CircuitBreakerConfig(failures=3, cooldown=120.0)
    assert shop.implicit_statuses == frozenset({401, 429})
    assert shop.max_response_bytes == 65536
    assert shop.variables() == {
        "target.name": "shop",
        "target.base_url": "https://shop.example.com",
        "credentials.probe.username": "probe",
        "credentials.probe.password": "probe-secret-pw",
        "credentials.api.token": "api-token-1234",
    }
    known = ["probe-secret-pw", "api-token-1234", "marker-signing-key", "sqlite:///var/lib/shop/db.sqlite3"]
    env_token = "api-token-1234"  # found again as the value of ${env:WFX_TEST_TOKEN}, a secret-looking name
    assert sorted(shop.secrets()) == sorted([*known, env_token])

    backup = valid.targets["backup"]
    assert backup.base_url == "http://127.0.0.1:8001"
    assert backup.tls == TLSConfig()
    assert backup.circuit_breaker == CircuitBreakerConfig()
    assert backup.implicit_statuses == frozenset({401, 403, 429})
    assert backup.max_response_bytes == 1024 * 1024
    assert backup.synthetic_secret is None
    assert sorted(backup.secrets()) == sorted(
        ["other-pw", "mysql://probe:db-pw-1234@127.0.0.1:3306/shop", "db-pw-1234"]  # the DSN's password alone too
    )


@pytest.mark.parametrize("target_name", ["shop", "backup"])
def test_secrets_are_not_in_repr(valid: Config, target_name: str) -> None:
    target: Target = valid.targets[target_name]
    assert target.secrets()
    for secret in target.secrets():
        assert secret not in repr(target)
        assert secret not in repr(valid)
    assert target.name in repr(target)


def test_valid_config_workflows(valid: Config) -> None:
    assert list(valid.workflows) == ["checkout", "health"]
    checkout = valid.workflows["checkout"]
    assert (checkout.targets, checkout.interval, checkout.timeout, checkout.min_interval) == (("shop",), 60, 20, 15)
    assert checkout.description == "Every step feature."
    health = valid.workflows["health"]
    assert (health.targets, health.interval, health.timeout, health.min_interval) == (("shop", "backup"), 60, 10, 0)
    assert [(w.name, t.name) for w, t in valid.pairs()] == [
        ("checkout", "shop"),
        ("health", "shop"),
        ("health", "backup"),
    ]


def test_valid_config_steps(valid: Config) -> None:
    login, products, order_row, cleanup = valid.workflows["checkout"].steps
    assert isinstance(login, Step)
    assert (login.name, login.kind, login.max_duration, login.retries, login.always_run) == (
        "login", "http", 1.0, 0, False
    )  # fmt: skip
    assert login.spec == HttpSpec(
        method="POST",
        path="/api/auth/token/",
        json={"username": "${credentials.probe.username}", "password": "${credentials.probe.password}"},
    )
    assert login.expect["status"] == [(200, 200)]

    assert (products.kind, products.max_duration, products.retries) == ("http", 0.75, 2)  # retries on a GET
    assert products.spec.method == "GET"
    assert products.spec.query == {"page": 1}
    assert products.expect["status"] == [(200, 200), (300, 399), (400, 404)]
    assert products.expect["headers"] == {"Content-Type": "^application/json", "X-Debug": None}
    assert products.expect["body_regex"] == ["results", "count"]
    assert products.expect["openapi"] is True
    assert products.expect["server"] == {"max_queries": 5, "max_db_duration": 0.2}
    assert products.expect["json_schema"].is_valid({"results": []})
    assert not products.expect["json_schema"].is_valid({"count": 0})
    expression, expected = products.expect["json"]["length(results) > `0`"]
    assert (expression.search({"results": [1]}), expected) == (True, True)
    # extraction of each kind
    assert set(products.extract) == {"product_id", "etag", "csrf", "count"}
    assert products.extract["product_id"]["text"] == "results[0].id"
    assert products.extract["product_id"]["json"].search({"results": [{"id": 7}]}) == 7
    assert products.extract["etag"] == {"header": "ETag"}
    assert products.extract["csrf"] == {"cookie": "csrftoken"}
    assert products.extract["count"]["regex"].search('{"count": 42}').group(1) == "42"

    assert (order_row.kind, order_row.max_duration) == ("sql", 0.2)
    assert order_row.spec == SqlSpec(
        query="SELECT id, total FROM shop_order WHERE id = %(product_id)s", params={"product_id": "${product_id}"}
    )
    assert order_row.expect == {"rows": 1, "values": {"total": "10.00"}}
    assert order_row.extract == {"total": {"column": "total"}}

    assert (cleanup.kind, cleanup.always_run, cleanup.max_duration) == ("http", True, None)
    assert cleanup.spec.method == "DELETE"
    assert cleanup.expect["status"] == [(200, 200), (404, 404)]

    ping, form_login = valid.workflows["health"].steps
    assert (ping.spec.method, ping.retries, ping.expect["status"]) == ("HEAD", 1, [(200, 299)])
    assert form_login.spec.form == {
        "username": "${credentials.probe.username}",
        "password": "${credentials.probe.password}",
    }


def test_env_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFX_TEST_SHOP_URL", "http://shop.internal:8080")
    monkeypatch.setenv("WFX_TEST_USER", "robot")
    for name, value in VALID_ENV.items():
        monkeypatch.setenv(name, value)
    config = load_config(VALID)
    shop = config.targets["shop"]
    assert shop.base_url == "http://shop.internal:8080"
    assert shop.credentials["probe"]["username"] == "robot"


def test_env_default_also_stands_in_for_an_empty_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in VALID_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WFX_TEST_SHOP_URL", "")
    assert load_config(VALID).targets["shop"].base_url == "https://shop.example.com"


def test_an_empty_env_variable_without_default_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFX_TEST_TOKEN", "")
    monkeypatch.setenv("WFX_TEST_PROBE_HEADER", "probe-header")
    assert load_config(VALID).targets["shop"].credentials["api"] == {"token": ""}


# --- workflow-exporter --config.check -----------------------------------------------------------------------------


def config_check(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WFX_TEST_")}
    return subprocess.run(
        [sys.executable, "-m", "exporter", "--config.file", str(path), "--config.check"],
        cwd=REPO_ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_config_check_prints_every_problem_and_exits_1() -> None:
    path = invalid_path("several-problems")
    result = config_check(path, {})
    assert result.returncode == 1, result.stderr
    # The exporter's command line also knows the top-level sections it owns (exporter.sections).
    known = ", ".join(sorted({"targets", "workflows", *SECTIONS}))
    problems = [
        line.replace("(known: targets, workflows)", f"(known: {known})")
        for line in expected_lines(path, INVALID["several-problems"])
    ]
    assert result.stderr.splitlines() == [f"{path}: invalid, {len(problems)} problem(s):"] + [
        f"  {problem}" for problem in problems
    ]
    assert result.stdout == ""


def test_config_check_of_a_valid_file_exits_0() -> None:
    result = config_check(VALID, VALID_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{VALID}: valid, 2 workflows on 2 targets\n"
    assert result.stderr == ""


def test_sections_owned_by_another_layer_are_read_by_their_own_reader() -> None:
    """A top-level section (the exporter's ``trace:``) is unknown to the engine alone, and read by the reader the
    owning layer passes in, its problems listed with the others."""
    text = VALID.read_text().replace("workflows:", "trace:\n  logs: [a.log, 3]\nworkflows:", 1)

    def read_trace(raw: object, where: str, problems: Problems, base_dir: Path) -> object:
        assert isinstance(raw, dict)
        for item in raw["logs"]:
            if not isinstance(item, str):
                problems.add(f"{where}.logs", f"expected a path, got {item!r}")
        return {"logs": [item for item in raw["logs"] if isinstance(item, str)]}

    os.environ.update(VALID_ENV)
    try:
        with pytest.raises(ConfigError) as alone:
            parse_config(text, "t.yml", base_dir=TESTDATA)
        assert alone.value.problems == ["t.yml: unknown field 'trace' (known: targets, workflows)"]
        with pytest.raises(ConfigError) as read:
            parse_config(text, "t.yml", base_dir=TESTDATA, sections={"trace": read_trace})
        assert read.value.problems == ["t.yml: trace.logs: expected a path, got 3"]
        fine = text.replace("[a.log, 3]", "[a.log]")
        config = parse_config(fine, "t.yml", base_dir=TESTDATA, sections={"trace": read_trace})
        assert config.sections == {"trace": {"logs": ["a.log"]}}
    finally:
        for name in VALID_ENV:
            os.environ.pop(name, None)
