"""``--shard=i/n``: across n replicas every workflow x target pair runs exactly once."""

from __future__ import annotations

from collections import Counter

import pytest

from exporter.sharding import Shard


@pytest.mark.parametrize("count", [1, 2, 3, 5, 7])
def test_every_pair_has_exactly_one_shard(count: int) -> None:
    pairs = [(f"workflow-{w}", f"target-{t}") for w in range(100) for t in range(10)]
    owners: Counter[tuple[str, str]] = Counter()
    per_shard: Counter[int] = Counter()
    for workflow, target in pairs:
        owning = [i for i in range(count) if Shard(i, count).owns(workflow, target)]
        assert len(owning) == 1, (workflow, target, owning)
        owners[(workflow, target)] += 1
        per_shard[owning[0]] += 1
    assert set(owners.values()) == {1} and len(owners) == 1000
    # Stable hashing spreads the work: no shard gets less than half its fair share.
    assert min(per_shard.values()) > 1000 / count / 2


def test_the_share_does_not_depend_on_the_other_pairs() -> None:
    shard = Shard(1, 3)
    assert shard.owns("checkout", "demo-shop") == Shard(1, 3).owns("checkout", "demo-shop")
    assert [Shard(i, 3).owns("checkout", "demo-shop") for i in range(3)].count(True) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3", "--shard must look like i/n (e.g. 0/3), got '3'"),
        ("a/b", "--shard must look like i/n (e.g. 0/3), got 'a/b'"),
        ("3/3", "--shard '3/3': need n >= 1 and 0 <= i < n"),
        ("0/0", "--shard '0/0': need n >= 1 and 0 <= i < n"),
    ],
)
def test_bad_shard_flags(text: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        Shard.parse(text)
    assert str(error.value) == message


def test_an_exporter_schedules_only_its_share(serve_exporter) -> None:
    targets = "\n".join(f"  t{i}: {{base_url: 'http://127.0.0.1:9'}}" for i in range(6))
    config = f"""
targets:
{targets}
workflows:
  w:
    targets: [t0, t1, t2, t3, t4, t5]
    steps: [{{name: s, http: {{path: /}}}}]
"""
    seen = []
    for index in range(3):
        running = serve_exporter(config, shard=Shard(index, 3))
        seen += [(w.name, t.name) for w, t in running.exporter.owned_pairs(running.exporter.config)]
        # The metrics of pairs another replica owns are not created here.
        for workflow, target in running.exporter.config.pairs():
            owned = Shard(index, 3).owns(workflow.name, target.name)
            value = running.registry.get_sample_value(
                "workflow_runs_total", {"workflow": "w", "target": target.name, "result": "success"}
            )
            assert (value is not None) == owned
    assert sorted(seen) == sorted(("w", f"t{i}") for i in range(6))
