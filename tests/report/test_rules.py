"""Each suggestion rule against hand-written series in a real Prometheus: it fires on its case and stays
quiet on the near-miss."""

from __future__ import annotations

import pytest

from exporter.report import RULES, PrometheusClient, build_report
from tests.harness.prometheus import Prometheus

from .cases import RULE_CASES
from .series import PERIOD, Scenario


def test_every_rule_has_a_case() -> None:
    assert sorted(RULES) == sorted(rule for rule, *_ in RULE_CASES)


@pytest.mark.parametrize(
    "rule,words", [(rule, words) for rule, _, _, words in RULE_CASES], ids=[c[0] for c in RULE_CASES]
)
def test_rule_fires_on_its_case_and_not_on_the_near_miss(
    report_prometheus: tuple[Prometheus, dict[str, Scenario]], client: PrometheusClient, rule: str, words: list[str]
) -> None:
    _, cases = report_prometheus
    firing = build_report(client, since=PERIOD, until=cases[f"{rule}:fires"].end, slo_window=PERIOD)
    found = [f for f in firing.findings if f.rule == rule]
    assert len(found) == 1, [(f.rule, f.title) for f in firing.findings]
    text = f"{found[0].title} {found[0].action}"
    for word in words:
        assert word in text, text
    assert found[0].runbook.startswith("https://") and "#journey" in found[0].runbook
    quiet = build_report(client, since=PERIOD, until=cases[f"{rule}:quiet"].end, slo_window=PERIOD)
    assert [f.title for f in quiet.findings if f.rule == rule] == []
