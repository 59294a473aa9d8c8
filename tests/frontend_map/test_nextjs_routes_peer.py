"""Peer check: the route list agrees with what ``nextjs-routes`` (npm; type-safe routes generated from the same
file conventions) generates for the storefront fixture, and every difference is explained here.

nextjs-routes is installed from npm once per test session into a temporary folder and run with Node.js on a copy
of the fixture (it writes ``@types/nextjs-routes.d.ts`` into the app). Node.js and npm are required: locally a
missing one skips with the install command, in CI it fails.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from exporter.frontend_map import build_map
from tests.harness import require_binary

from .conftest import STOREFRONT

NEXTJS_ROUTES = "nextjs-routes@2.2.5"

# Routes nextjs-routes lists and Next.js does not serve, each with the reason.
ONLY_THEIRS = {
    # Next.js docs, "Private Folders": an underscore folder and its children are not routable. nextjs-routes keeps
    # every page.tsx it finds (its getAppRoutes filters route groups, slots and intercepts, not private folders).
    "/dashboard/_components": "a page.tsx inside the private folder _components",
}
# Routes the map lists that nextjs-routes leaves out: none by URL. The intercepting (.)login page (which
# nextjs-routes drops on purpose) shows at /login, a URL the plain login page also has; it is a second entry of
# the map for /login, with intercepts="/" (see test_storefront_map).
ONLY_OURS: dict[str, str] = {}


@pytest.fixture(scope="session")
def nextjs_routes_cli(tmp_path_factory: pytest.TempPathFactory) -> Path:
    node, npm = require_binary("node"), require_binary("npm")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    assert int(version.lstrip("v").split(".")[0]) >= 18, f"nextjs-routes needs Node.js 18 or newer, not {version}"
    prefix = tmp_path_factory.mktemp("nextjs-routes")
    result = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), NEXTJS_ROUTES],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    cli = prefix / "node_modules" / "nextjs-routes" / "dist" / "cli.js"
    assert cli.exists()
    return cli


def their_routes(cli: Path, app: Path) -> set[str]:
    node = require_binary("node")
    result = subprocess.run([node, str(cli)], cwd=app, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    generated = (app / "@types" / "nextjs-routes.d.ts").read_text()
    return set(re.findall(r'(?:StaticRoute|DynamicRoute)<"([^"]+)"', generated))


def test_routes_agree_with_nextjs_routes(nextjs_routes_cli: Path, tmp_path: Path) -> None:
    app = tmp_path / "storefront"
    shutil.copytree(STOREFRONT, app)
    theirs = their_routes(nextjs_routes_cli, app)
    ours = {route.route for route in build_map(STOREFRONT, None).routes}
    assert theirs, "nextjs-routes listed no route"
    assert theirs - ours == set(ONLY_THEIRS)
    assert ours - theirs == set(ONLY_OURS)
    assert len(ours) == 15  # the map's 16 entries, two of them at /login
