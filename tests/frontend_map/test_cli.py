"""``workflow-exporter frontend-map``: formats, --output, --fail-on exit codes, --emit-workflows accepted by
--config.check, and bad usage answered with 2 and a message."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from exporter.cli import main

from .conftest import DEMO_OPENAPI, STOREFRONT


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["frontend-map", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_table_is_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(STOREFRONT), "--openapi", str(DEMO_OPENAPI))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["ROUTE", "KIND", "CALL", "STATUS", "WHERE"]
    assert any("PUT /api/cart/items/{itemId}/" in line and "method" in line for line in lines)
    assert "Calls with no backend operation (a 404):" in lines
    assert "  GET /api/orders/{orderId}/lines/{lineId}/  src/components/OrderLine.tsx:10  no backend operation at " \
           "/api/orders/{orderId}/lines/{lineId}/" in lines  # fmt: skip
    assert "Backend operations no route uses:" in lines and "  POST /api/products/" in lines
    assert lines[-1].startswith("16 routes, 20 calls: 16 matched, 1 unmatched, 1 method mismatches, 1 unresolved")


def test_json_to_a_file_and_the_table_on_stdout(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "map.json"
    code, out, _ = run(capsys, str(STOREFRONT), "--openapi", str(DEMO_OPENAPI), "--format", "json", "--output",
                       str(target))  # fmt: skip
    assert code == 0
    data = json.loads(target.read_text())
    assert data["summary"]["calls"] == {"matched": 16, "unmatched": 1, "method": 1, "unresolved": 1}
    assert [r["route"] for r in data["routes"]][:3] == ["/", "/api/session", "/cart"]
    assert out.startswith("ROUTE")


def test_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(STOREFRONT), "--openapi", str(DEMO_OPENAPI), "--format", "markdown")
    assert code == 0
    assert out.startswith(f"# Frontend map of `{STOREFRONT}`")
    assert "| `/cart` | page | `PUT /api/cart/items/{itemId}/` | method | `src/components/CartView.tsx:10` |" in out
    assert "## Method mismatches (a 405)" in out


CLEAN = {
    "next.config.js": "module.exports = { async rewrites() { return [{ source: '/api/:path*', "
    "destination: 'http://127.0.0.1:8000/api/:path*/' }]; } };\n",
    "app/page.tsx": "export default async function Home() {\n  await fetch('/api/products/');\n  return null;\n}\n",
}


@pytest.mark.parametrize(
    ("tree", "fail_on", "code"),
    [
        ("storefront", "unmatched", 1),
        ("storefront", "method", 1),
        ("storefront", "unresolved", 1),
        ("storefront", "unmatched,method,unresolved", 1),
        ("storefront", None, 0),
        ("clean", "unmatched,method,unresolved", 0),
    ],
)
def test_fail_on(capsys: pytest.CaptureFixture[str], tmp_path: Path, tree: str, fail_on: str | None, code: int) -> None:
    source = STOREFRONT
    if tree == "clean":
        source = tmp_path / "clean"
        for rel, text in CLEAN.items():
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            (source / rel).write_text(text)
    args = [str(source), "--openapi", str(DEMO_OPENAPI), *(["--fail-on", fail_on] if fail_on else [])]
    got, _, err = run(capsys, *args)
    assert got == code, err
    if code:
        assert err.strip().endswith("(--fail-on)")


def test_emitted_workflows_pass_config_check(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "journeys.yml"
    code, _, _ = run(capsys, str(STOREFRONT), "--openapi", str(DEMO_OPENAPI), "--emit-workflows", str(target))
    assert code == 0
    text = target.read_text()
    assert "page-products-id" in text and "path: /api/cart/" in text
    # calls with a path parameter need a value: listed for a person, not guessed
    assert "#   /products/[id]: GET /api/products/{id}/ (src/hooks/useProducts.ts:13) needs a value" in text
    assert main(["--config.file", str(target), "--config.check"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{src}", "--openapi", "{openapi}", "--fail-on", "nothing"], "--fail-on: unknown status nothing"),
        (["{src}", "--openapi", "{openapi}", "--env", "NOVALUE"], "--env 'NOVALUE': expected NAME=VALUE"),
        (["{missing}", "--openapi", "{openapi}"], "no such folder"),
        (["{src}", "--openapi", "{missing}"], "cannot read: No such file or directory"),
        (["{src}", "--openapi", "{openapi}", "--output", "{missing}/out.json"], "cannot write"),
    ],
)
def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str) -> None:
    values = {"src": str(STOREFRONT), "openapi": str(DEMO_OPENAPI), "missing": str(tmp_path / "missing")}
    code, _, err = run(capsys, *(arg.format(**values) for arg in args))
    assert code == 2
    assert message in err


def test_help_names_the_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["frontend-map", "--help"])
    out = capsys.readouterr().out
    assert "--fail-on" in out and "--emit-workflows" in out and "--openapi" in out


def test_copy_of_the_fixture_maps_the_same(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Relative paths in the output come from the tree, not from where it lies."""
    copy = tmp_path / "copy"
    shutil.copytree(STOREFRONT, copy)
    code, out, _ = run(capsys, str(copy), "--openapi", str(DEMO_OPENAPI), "--format", "json")
    assert code == 0
    assert json.loads(out)["summary"]["calls"]["matched"] == 16
