"""The contracts: section, read and validated with the rest of the config: every problem at once, each naming
the target and the field; one row per invalid case."""

from __future__ import annotations

import pytest

from synthetic.config import ConfigError, parse_config
from synthetic.contracts.config import CHECK_NAMES, DEFAULT_UNTRUSTED_ORIGIN, ContractsConfig, Selector

BASE = """
targets:
  shop:
    base_url: http://127.0.0.1:8000
    openapi: /api/schema/
    credentials:
      probe: {{username: probe, password: secret-pw}}
      token-only: {{token: abc123}}
{contracts}
  other:
    base_url: http://127.0.0.1:9000
workflows:
  login:
    targets: [shop]
    steps:
      - name: token
        http: {{method: POST, path: /api/auth/token/}}
        extract:
          access: {{json: access}}
  browse:
    targets: [shop]
    steps:
      - name: list
        http: {{path: /api/products/}}
        extract:
          product_id: {{json: "results[0].id"}}
  elsewhere:
    targets: [other]
    steps:
      - name: ok
        http: {{path: /}}
"""


def config_text(contracts: str) -> str:
    """The config with ``contracts`` (YAML at the target's level) in target ``shop``."""
    indented = "\n".join(f"    {line}" for line in contracts.strip("\n").splitlines())
    return BASE.format(contracts=indented)


def load(contracts: str) -> ContractsConfig:
    target = parse_config(config_text(contracts), "c.yml").targets["shop"]
    assert target.contracts is not None
    return target.contracts


def problems_of(contracts: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_config(config_text(contracts), "c.yml")
    return raised.value.problems


def test_no_section_no_sweep() -> None:
    assert parse_config(config_text(""), "c.yml").targets["shop"].contracts is None


def test_defaults() -> None:
    contracts = load("contracts: {}")
    assert contracts.openapi == "/api/schema/"  # the target's
    assert (contracts.interval, contracts.timeout, contracts.request_timeout) == (300.0, 60.0, 10.0)
    assert (contracts.max_requests, contracts.negative_examples) == (500, 3)
    assert contracts.checks == CHECK_NAMES
    assert contracts.cors.untrusted_origins == (DEFAULT_UNTRUSTED_ORIGIN,) and not contracts.cors.trusted_origins
    assert contracts.cors.request_headers == ("X-Request-ID", "traceparent")
    assert contracts.selects("DELETE", "/anything/", (), None)
    assert contracts.workflows() == []


def test_a_full_section() -> None:
    contracts = load("""
contracts:
  openapi: /other/schema.json
  interval: 1m
  timeout: 30s
  request_timeout: 2s
  max_requests: 50
  negative_examples: 5
  checks: [ignored_auth, not_a_server_error]
  include: ["GET /api/**", {tag: products}, {operation_id: checkout}]
  exclude: ["/api/auth/*", {method: [post, PUT], path: "/api/cart/*"}]
  public: ["GET /api/products/*"]
  parameters:
    workflow: browse
    values: {id: "${product_id}", page: 1, ids: [1, 2]}
    operations: {"get /api/orders/{id}/": {id: 99}}
  auth:
    workflow: login
    headers: {Authorization: "Bearer ${access}"}
  cors:
    trusted_origins: [https://shop.example, "http://127.0.0.1:3000/"]
    untrusted_origins: [https://evil.example]
    request_headers: [X-Request-ID]
    expose_headers: [X-Request-ID, Server-Timing]
""")
    assert contracts.openapi == "/other/schema.json"
    assert (contracts.interval, contracts.timeout, contracts.request_timeout) == (60.0, 30.0, 2.0)
    assert contracts.checks == ("not_a_server_error", "ignored_auth")  # in the registry's order
    assert contracts.include[0] == Selector(path="/api/**", methods=frozenset({"GET"}))
    assert contracts.exclude[1] == Selector(path="/api/cart/*", methods=frozenset({"POST", "PUT"}))
    assert contracts.selects("GET", "/api/products/{id}/", (), None)
    assert not contracts.selects("GET", "/api/auth/me/", (), None)  # excluded
    assert contracts.selects("POST", "/checkout/", (), "checkout")  # included by operationId
    assert not contracts.selects("POST", "/api/cart/items/", (), None)
    assert contracts.selects("PATCH", "/x/", ("products",), None)  # by tag
    assert contracts.is_public("GET", "/api/products/{id}/", (), None)
    assert contracts.parameters.for_operation("GET /api/orders/{id}/") == {"id": 99, "page": 1, "ids": [1, 2]}
    assert contracts.parameters.for_operation("GET /api/products/{id}/")["id"] == "${product_id}"
    assert contracts.auth.headers == {"Authorization": "Bearer ${access}"}
    assert contracts.workflows() == ["login", "browse"]
    assert contracts.cors.trusted_origins == ("https://shop.example", "http://127.0.0.1:3000")


W = "c.yml: target 'shop'.contracts"

# (case, the contracts section, the one problem after "c.yml: target 'shop'.contracts")
INVALID = [
    ('not-a-mapping', 'contracts: [1]',
     ': expected a mapping (see README: contract checks)'),
    ('unknown-field', 'contracts: {intervall: 1m}',
     ": unknown field 'intervall' (did you mean 'interval'?)"),
    ('bad-interval', 'contracts: {interval: often}',
     ": interval: 'often' is not a duration (use e.g. 500ms, 5s, 1m)"),
    ('zero-timeout', 'contracts: {timeout: 0s}',
     ': timeout: must be longer than 0'),
    ('timeout-over-interval', 'contracts: {interval: 30s, timeout: 1m}',
     ': timeout (60s) must not be longer than interval (30s)'),
    ('request-timeout-over-timeout', 'contracts: {timeout: 5s, request_timeout: 10s}',
     ': request_timeout (10s) must not be longer than timeout (5s)'),
    ('budget-zero', 'contracts: {max_requests: 0}',
     ': max_requests must be a whole number from 1 to 100000, got 0'),
    ('budget-string', 'contracts: {max_requests: many}',
     ": max_requests must be a whole number from 1 to 100000, got 'many'"),
    ('negative-examples', 'contracts: {negative_examples: 50}',
     ': negative_examples must be a whole number from 1 to 20, got 50'),
    ('unknown-check', 'contracts: {checks: [ignored_auth, cors_preflite]}',
     ".checks: unknown check 'cors_preflite' (did you mean 'cors_preflight'?)"),
    ('no-checks', 'contracts: {checks: []}',
     '.checks: lists no check; leave it out for every check'),
    ('selector-not-a-list', 'contracts: {include: GET /x}',
     '.include: expected a list of selectors ("GET /api/**", or {path, method, tag, operation_id})'),
    ('selector-bad-method', 'contracts: {exclude: ["FETCH /x"]}',
     ".exclude[0]: unknown method 'FETCH' (known: GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE, TRACE)"),
    ('selector-no-slash', 'contracts: {public: ["GET api/x"]}',
     '.public[0]: \'GET api/x\': expected "METHOD /path-glob" or "/path-glob"'),
    ('selector-empty', 'contracts: {include: [{}]}',
     '.include[0]: an empty selector would match every operation'),
    ('selector-unknown-key', 'contracts: {include: [{paths: /x}]}',
     ".include[0]: unknown field 'paths' (did you mean 'path'?)"),
    ('parameters-operation-key', 'contracts: {parameters: {operations: {"/x/{id}/": {id: 1}}}}',
     '.parameters.operations: \'/x/{id}/\': expected "METHOD /path/{template}"'),
    ('parameter-value-mapping', 'contracts: {parameters: {values: {id: {a: 1}}}}',
     '.parameters.values: id: expected a string, number, boolean or a list of them'),
    ('unknown-workflow', 'contracts: {parameters: {workflow: brows, values: {id: 1}}}',
     ".parameters: unknown workflow 'brows' (did you mean 'browse'?)"),
    ('workflow-on-other-target', 'contracts: {auth: {workflow: elsewhere, headers: {X-Key: k}}}',
     ".auth: workflow 'elsewhere' does not run on target 'shop' (add the target to its targets)"),
    ('undefined-variable', 'contracts: {auth: {workflow: browse, headers: {Authorization: "Bearer ${access}"}}}',
     ".auth: undefined variable ${access}: not built in and not extracted by workflow 'browse'"),
    ('undefined-variable-no-workflow', 'contracts: {parameters: {values: {id: "${product_id}"}}}',
     '.parameters: undefined variable ${product_id}: not built in; set parameters.workflow to one that extracts it'),
    ('basic-unknown', 'contracts: {auth: {basic: nobody}}',
     ".auth: basic: unknown credential 'nobody' (known: probe, token-only)"),
    ('basic-without-password', 'contracts: {auth: {basic: token-only}}',
     ".auth: basic: credential 'token-only' needs a username and a password"),
    ('basic-and-authorization', 'contracts: {auth: {basic: probe, headers: {Authorization: x}}}',
     '.auth: set basic or an Authorization header, not both'),
    ('cookies-without-workflow', 'contracts: {auth: {cookies: true}}',
     '.auth: cookies: true needs a workflow whose session holds them'),
    ('workflow-sends-nothing', 'contracts: {auth: {workflow: login}}',
     ".auth: workflow 'login' runs, but nothing of it is sent: set headers (with its variables) or cookies: true"),
    ('bad-header-name', 'contracts: {auth: {headers: {"Bad Header": x}}}',
     ".auth.headers: 'Bad Header' is not a valid header name"),
    ('origin-with-path', 'contracts: {cors: {trusted_origins: [https://shop.example/app]}}',
     ".cors.trusted_origins: 'https://shop.example/app' is not an origin (scheme://host[:port], nothing after it)"),
    ('origin-both', 'contracts: {cors: {trusted_origins: [https://a.example], untrusted_origins: [https://a.example]}}',
     '.cors: https://a.example is both trusted and untrusted'),
    ('cors-header-name', 'contracts: {cors: {request_headers: ["x y"]}}',
     ".cors.request_headers: 'x y' is not a valid header name"),
]  # fmt: skip


@pytest.mark.parametrize(("contracts", "expected"), [row[1:] for row in INVALID], ids=[row[0] for row in INVALID])
def test_each_invalid_case_is_named(contracts: str, expected: str) -> None:
    assert problems_of(contracts) == [W + expected]


def test_every_problem_at_once() -> None:
    found = problems_of(
        "contracts: {interval: x, max_requests: -1, checks: [nope], cors: {trusted_origins: [ftp://a]}}"
    )
    assert len(found) == 4, found


def test_no_document_anywhere() -> None:
    text = config_text("contracts: {}").replace("    openapi: /api/schema/\n", "", 1)
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "c.yml")
    assert raised.value.problems == [f"{W}: needs an OpenAPI document: set openapi here or on the target"]


def test_env_expands_in_values_headers_and_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every value a deployment changes: parameter values, auth headers and the CORS origins (the storefront's
    origin moves with its port)."""
    monkeypatch.setenv("WFX_CONTRACT_KEY", "key-from-env-123")
    monkeypatch.setenv("WFX_ORDER_ID", "42")
    monkeypatch.setenv("WFX_STOREFRONT", "http://127.0.0.1:13000")
    contracts = load('contracts: {auth: {headers: {X-Api-Key: "${env:WFX_CONTRACT_KEY}"}}, '
                     'parameters: {values: {id: "${env:WFX_ORDER_ID}"}}, '
                     'cors: {trusted_origins: ["${env:WFX_STOREFRONT}"], '
                     'untrusted_origins: ["${env:WFX_UNSET_ORIGIN:-https://evil.example}"]}}')  # fmt: skip
    assert contracts.auth.headers == {"X-Api-Key": "key-from-env-123"}
    assert contracts.parameters.values == {"id": "42"}
    assert contracts.cors.trusted_origins == ("http://127.0.0.1:13000",)
    assert contracts.cors.untrusted_origins == ("https://evil.example",)


def test_an_unset_origin_variable_is_a_problem() -> None:
    found = problems_of('contracts: {cors: {trusted_origins: ["${env:WFX_NO_SUCH_ORIGIN}"]}}')
    assert f"{W}.cors.trusted_origins: environment variable WFX_NO_SUCH_ORIGIN is not set" in found


def test_the_secret_of_an_auth_header_is_never_in_a_problem() -> None:
    found = problems_of("contracts: {auth: {headers: {Authorization: [secret-value-xyz]}}}")
    assert found == [f"{W}.auth.headers: Authorization: expected a string"]
