"""The docs site: `mkdocs build --strict` passes (every link, anchor and page checked), fails on a broken link,
and its generated reference pages hold everything the parser, the config parser and the settings object have."""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from django_integration import conf
from exporter.cli import _parser

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = REPO_ROOT / "docs"
MKDOCS_YML = REPO_ROOT / "mkdocs.yml"


def hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "reference" / "hooks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "mkdocs",
        "build",
        "--strict",
        "--config-file",
        str(config),
        "--site-dir",
        str(site),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)


def test_strict_build_passes(tmp_path: Path) -> None:
    result = build(MKDOCS_YML, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    for page in ("index", "deploy", "reference/cli", "reference/configuration", "reference/settings", "api"):
        path = tmp_path / "site" / ("index.html" if page == "index" else f"{page}/index.html")
        assert path.is_file(), page
    # A link to a repository file outside docs/ points at the repository.
    assert "/blob/main/README.md#add-it-to-your-django-project" in (tmp_path / "site" / "index.html").read_text()


BROKEN_LINKS = {  # link → what the build's warning names
    "[x](no-such-page.md)": "no-such-page.md",
    "[x](metrics.md#no-such-anchor)": "no-such-anchor",
    "[x](../deploy/no-such-file.yaml)": "../deploy/no-such-file.yaml, which is not in the repository",
}


def test_strict_build_fails_on_each_broken_link(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(DOCS, docs)
    (docs / "troubleshooting.md").write_text((docs / "troubleshooting.md").read_text() + "\n" + " ".join(BROKEN_LINKS))
    config = yaml.safe_load(MKDOCS_YML.read_text())
    config.update(docs_dir=str(docs), hooks=[str(DOCS / "reference" / "hooks.py")])
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config))
    result = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0
    for warning in BROKEN_LINKS.values():
        assert warning in result.stderr, result.stderr


def test_every_page_is_in_the_nav() -> None:
    config = yaml.safe_load(MKDOCS_YML.read_text())

    def pages(nav: object) -> list[str]:
        if isinstance(nav, str):
            return [nav]
        if isinstance(nav, list):
            return [p for item in nav for p in pages(item)]
        if isinstance(nav, dict):
            return [p for value in nav.values() for p in pages(value)]
        return []

    in_nav = set(pages(config["nav"]))
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert on_disk | set(hooks().GENERATED) == in_nav


def _all_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _all_parsers(sub)
    return found


def test_cli_reference_has_every_flag_of_every_command() -> None:
    page = hooks().cli_page()
    for parser in _all_parsers(_parser()):
        assert f"usage: {parser.prog}" in page, parser.prog
        for action in parser._actions:
            for option in action.option_strings:
                assert option in page, (parser.prog, option)


def test_configuration_reference_is_asked_of_the_parser() -> None:
    module = hooks()
    page = module.configuration_page()
    for where, _, config in module.PROBES:
        fields = module.known_fields(config)
        assert fields and all(f and " " not in f for f in fields), (where, fields)
        assert f"| `{where}` |" in page
    assert "`min_interval`" in page and "`dsn_file`" in page and "`max_duration`" in page


def test_known_fields_follow_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """A field the parser learns shows up on the page without touching the docs."""
    import synthetic.config

    original = synthetic.config._unknown_keys

    def with_extra(raw, allowed, where, problems):
        return original(raw, {*allowed, "brand_new_field"} if "circuit_breaker" in where else allowed, where, problems)

    monkeypatch.setattr(synthetic.config, "_unknown_keys", with_extra)
    module = hooks()
    (config,) = [c for where, _, c in module.PROBES if where.endswith("circuit_breaker")]
    assert "brand_new_field" in module.known_fields(config)


def test_settings_reference_has_every_key_and_default() -> None:
    page = hooks().settings_page()
    for key, default in conf.DEFAULTS.items():
        assert f"| `{key}` | `{default!r}` |" in page
