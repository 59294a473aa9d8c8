"""The time compressor on the shipped files: every window and wait changes by the one factor, nothing else does,
and what it writes is still valid for promtool and the exporter."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from synthetic.config import parse_config
from tests.harness import require_binary
from tests.loop.stack import (
    ALERTMANAGER,
    BROWSER_JOURNEY,
    PROMETHEUS,
    RULES,
    WORKFLOWS,
    alertmanager_config,
    exporter_config,
    prometheus_intervals,
    shop_environment,
    write_rules,
)
from tests.loop.timescale import (
    COMPRESSED,
    FACTOR,
    FLOOR,
    SHIPPED,
    WINDOW_FLOOR,
    WORK_FLOOR,
    Timescale,
    format_duration,
    parse_duration,
)

# Outside string literals, a duration in a window or after offset; counted independently of the compressor.
_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_QUERY = re.compile(r"`([^`]*)`")  # a query an annotation's template runs
_PLACES = re.compile(r"\[[^\]]*\]|\boffset\s+-?[0-9a-z]+")
_DURATIONS = re.compile(r"\d+(?:ms|[ywdhms])(?:\d+(?:ms|[ywdhms]))*")


def places(expr: str) -> list[str]:
    """Every range window, subquery bracket and offset of ``expr`` as written (string literals skipped)."""
    return _PLACES.findall(_LITERAL.sub('""', expr))


def durations(place: str) -> list[float]:
    return [parse_duration(text) for text in _DURATIONS.findall(place)]


def shipped_rules() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, yaml.safe_load(path.read_text())) for path in RULES]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5m", 300), ("1h30m", 5400), ("500ms", 0.5), ("3d", 259200), ("1w", 604800), ("1y", 31536000), ("90s", 90)],
)
def test_durations_read_as_prometheus_writes_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("seconds", "text"), [(300, "5m"), (4320, "1h12m"), (0.5, "500ms"), (1440, "24m"), (1, "1s")])
def test_durations_written_shortest(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 m", "1.5m", "m", "-5m"])
def test_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("expr", "compressed"),
    [
        ("rate(x[1h])", "rate(x[1m])"),
        ("rate(x[5m])", "rate(x[30s])"),  # the window floor: 5 s would hold no journey run part of the time
        ("max_over_time(rate(x[10m])[3h:5m])", "max_over_time(rate(x[30s])[3m:5s])"),  # a subquery's step: the floor
        ("max_over_time(rate(x[2h])[1h:])", "max_over_time(rate(x[2m])[1m:])"),
        ("rate(x[5m] offset 1h)", "rate(x[30s] offset 1m)"),
        ("x offset -30m", "x offset -30s"),
        ("x offset 30s", "x offset 1s"),  # the floor: 0.5 s becomes 1 s
        ("x{route=~\"[a-z]+[5m]\", a='[1h]'}[5m]", "x{route=~\"[a-z]+[5m]\", a='[1h]'}[30s]"),
    ],
)
def test_promql_windows_compressed_and_strings_untouched(expr: str, compressed: str) -> None:
    assert COMPRESSED.promql(expr) == compressed


def test_every_window_and_for_of_the_shipped_rules_changes_by_the_factor() -> None:
    changed = brackets = annotation_queries = 0
    for path, shipped in shipped_rules():
        compressed = COMPRESSED.rules(shipped)
        assert len(compressed["groups"]) == len(shipped["groups"]), path.name
        for group, group_c in zip(shipped["groups"], compressed["groups"], strict=True):
            assert {k: v for k, v in group.items() if k != "rules"} == {
                k: v for k, v in group_c.items() if k != "rules"
            }
            for rule, rule_c in zip(group["rules"], group_c["rules"], strict=True):
                name = rule.get("alert") or rule.get("record")
                # Nothing but expr, for and the annotations' queries changes: labels, names, words stay as shipped.
                assert {k: v for k, v in rule.items() if k not in ("expr", "for", "annotations")} == {
                    k: v for k, v in rule_c.items() if k not in ("expr", "for", "annotations")
                }, name
                queries: list[tuple[str, str]] = [(rule["expr"], rule_c["expr"])]
                for key, text in rule.get("annotations", {}).items():
                    text_c = rule_c["annotations"][key]
                    assert _QUERY.sub("``", text) == _QUERY.sub("``", text_c), (name, key)
                    found = list(zip(_QUERY.findall(text), _QUERY.findall(text_c), strict=True))
                    annotation_queries += sum(1 for query, _ in found if places(query))
                    queries += found
                if "for" in rule:
                    assert parse_duration(rule_c["for"]) == max(parse_duration(rule["for"]) / FACTOR, FLOOR), name
                    assert parse_duration(rule_c["for"]) < parse_duration(rule["for"]), name
                for query, query_c in queries:
                    stripped = _LITERAL.sub('""', query)
                    brackets += stripped.count("[") + len(re.findall(r"\boffset\b", stripped))
                    before, after = places(query), places(query_c)
                    assert len(before) == len(after), name
                    for place, place_c in zip(before, after, strict=True):
                        old, new = durations(place), durations(place_c)
                        assert old and len(old) == len(new), (name, place)
                        # A bracket's first duration is a range (raised to the window floor); a subquery's step and
                        # an offset are raised to the floor only.
                        floors = [WINDOW_FLOOR, FLOOR] if place.startswith("[") else [FLOOR]
                        for seconds, seconds_c, floor in zip(old, new, floors, strict=False):
                            assert seconds_c == max(seconds / FACTOR, floor) and seconds_c < seconds, (name, place)
                            changed += 1
                    # With every window put back, the query is the shipped one, character for character.
                    restored = query_c
                    for place, place_c in zip(before, after, strict=True):
                        restored = restored.replace(place_c, place, 1)
                    assert _LITERAL.sub('""', restored) == _LITERAL.sub('""', query), name
                    assert _LITERAL.findall(query_c) == _LITERAL.findall(query), name
    # Every bracket and offset of the shipped rules held durations, and each one changed: none was missed.
    assert changed >= brackets > 30
    # The burn-rate descriptions read windows (the step that failed most over 5m, and over each long window).
    assert annotation_queries >= 7


def test_promtool_accepts_the_compressed_rules(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    paths = write_rules(COMPRESSED, tmp_path)
    assert sorted(path.name for path in paths) == sorted(path.name for path in RULES)
    result = subprocess.run([promtool, "check", "rules", *map(str, paths)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_at_the_shipped_timescale_everything_is_as_shipped(tmp_path: Path) -> None:
    for path in write_rules(SHIPPED, tmp_path):
        assert yaml.safe_load(path.read_text()) == yaml.safe_load((ALERTMANAGER.parent.parent / "rules" /
                                                                   path.name).read_text())  # fmt: skip
    config = alertmanager_config(SHIPPED, "http://127.0.0.1:1/hook")
    shipped = yaml.safe_load(ALERTMANAGER.read_text())
    assert config["route"] == shipped["route"] and config["inhibit_rules"] == shipped["inhibit_rules"]
    assert exporter_config(SHIPPED) == shipped_workflows()
    assert prometheus_intervals(SHIPPED) == {"scrape_interval": "15s", "evaluation_interval": "15s"}
    assert shop_environment(SHIPPED)["INTEGRITY_REFRESH_SECONDS"] == "30"
    assert shop_environment(SHIPPED)["DEMO_LOGIN_RATE"] == "60/min"


def test_alertmanager_timings_compressed_routing_kept() -> None:
    shipped = yaml.safe_load(ALERTMANAGER.read_text())
    config = alertmanager_config(COMPRESSED, "http://127.0.0.1:1/hook")

    def timings(route: dict[str, Any]) -> list[tuple[str, str]]:
        own = [(k, route[k]) for k in ("group_wait", "group_interval", "repeat_interval") if k in route]
        return own + [t for child in route.get("routes", []) for t in timings(child)]

    pairs = list(zip(timings(shipped["route"]), timings(config["route"]), strict=True))
    assert len(pairs) >= 5
    for (key, before), (key_c, after) in pairs:
        assert key == key_c and parse_duration(after) == max(parse_duration(before) / FACTOR, FLOOR)
    assert parse_duration(config["global"]["resolve_timeout"]) == parse_duration("5m") / FACTOR

    def without_timings(route: dict[str, Any]) -> dict[str, Any]:
        keep = {k: v for k, v in route.items() if k not in ("group_wait", "group_interval", "repeat_interval")}
        if "routes" in keep:
            keep["routes"] = [without_timings(child) for child in keep["routes"]]
        return keep

    assert without_timings(config["route"]) == without_timings(shipped["route"])
    assert config["inhibit_rules"] == shipped["inhibit_rules"]
    # Every receiver of the shipped config is still there, each webhook pointed at the test's receiver.
    assert [r["name"] for r in config["receivers"]] == [r["name"] for r in shipped["receivers"]]
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            assert hook["url"] == f"http://127.0.0.1:1/hook?receiver={receiver['name']}"


def test_amtool_accepts_the_compressed_alertmanager_config(tmp_path: Path) -> None:
    amtool = require_binary("amtool")
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(alertmanager_config(COMPRESSED, "http://127.0.0.1:1/hook")))
    result = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_and_shop_timings_compressed() -> None:
    shipped = yaml.safe_load(PROMETHEUS.read_text())["global"]
    for key, value in prometheus_intervals(COMPRESSED).items():
        assert parse_duration(value) == max(parse_duration(shipped[key]) / FACTOR, FLOOR)
    env = shop_environment(COMPRESSED)
    assert float(env["INTEGRITY_REFRESH_SECONDS"]) == max(30 / FACTOR, WORK_FLOOR)
    assert env["DEMO_LOGIN_RATE"] == f"{60 * FACTOR}/min"


def shipped_workflows() -> dict[str, Any]:
    """The shop's journeys and the storefront's browser journey as shipped, in one config (as make demo runs them)."""
    shop, storefront = yaml.safe_load(WORKFLOWS.read_text()), yaml.safe_load(BROWSER_JOURNEY.read_text())
    return {**shop, "targets": {**shop["targets"], **storefront["targets"]},
            "workflows": {**shop["workflows"], **storefront["workflows"]}}  # fmt: skip


def test_exporter_intervals_compressed_and_the_config_still_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = shipped_workflows()
    assert "storefront-buy" in shipped["workflows"]
    config = exporter_config(COMPRESSED)
    for name, workflow in shipped["workflows"].items():
        interval = parse_duration(config["workflows"][name]["interval"])
        assert (
            interval
            == max(parse_duration(workflow["interval"]) / FACTOR, WORK_FLOOR)
            < parse_duration(workflow["interval"])
        )
        assert parse_duration(config["workflows"][name]["timeout"]) == min(
            parse_duration(workflow["timeout"]), interval
        )
        assert config["workflows"][name]["steps"] == workflow["steps"]
    contracts, contracts_c = shipped["targets"]["demo-shop"]["contracts"], config["targets"]["demo-shop"]["contracts"]
    assert parse_duration(contracts_c["interval"]) == max(parse_duration(contracts["interval"]) / FACTOR, WORK_FLOOR)
    assert parse_duration(contracts_c["timeout"]) == parse_duration(contracts_c["interval"])
    assert {k: v for k, v in contracts_c.items() if k not in ("interval", "timeout")} == {
        k: v for k, v in contracts.items() if k not in ("interval", "timeout")
    }
    for target in ("demo-shop", "storefront"):
        breaker = config["targets"][target]["circuit_breaker"]
        assert parse_duration(breaker["cooldown"]) == max(60 / FACTOR, FLOOR)
    # The exporter loads it: the compressed timeouts fit their intervals.
    monkeypatch.setenv("DEMO_PROBE_PASSWORD", "any")
    monkeypatch.setenv("SHOP_DATABASE_URL", "sqlite:///shop.sqlite3")
    loaded = parse_config(yaml.safe_dump(config), "workflows.yml")
    assert sorted(loaded.workflows) == sorted(shipped["workflows"])


def test_factor_one_is_the_identity() -> None:
    identity = Timescale(factor=1, floor=5.0, work_floor=60.0)
    assert identity.duration("1s") == "1s" and identity.seconds(0.2) == 0.2 and identity.work_interval(1) == 1
    assert identity.promql("rate(x[5m] offset 1h)") == "rate(x[5m] offset 1h)"
