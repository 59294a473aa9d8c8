"""Build and serve the demo storefront (demo_shop/storefront, Next.js 16, Node.js 20.9+).

    python scripts/storefront.py build            # install from the lockfiles and build what changed
    python scripts/storefront.py serve --port P   # build, then `next start` on 127.0.0.1:P (make demo)

What is built is reused for as long as its sources do not change: the browser package (js/), the storefront's
node_modules (``npm ci``; it copies the package, so a new package build means a new install) and its ``.next``
each carry a stamp with the hash of their sources. A lock keeps two builds (a demo and a test session) apart.
Exit code 3: Node.js is missing or too old (the message says what to install).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOREFRONT = ROOT / "demo_shop" / "storefront"
PACKAGE = ROOT / "js"
NODE_ENV = {"NEXT_TELEMETRY_DISABLED": "1", "npm_config_update_notifier": "false"}
MIN_NODE = (20, 9)
STOREFRONT_SOURCES = ("app", "components", "lib", "public", "instrumentation-client.ts", "proxy.ts", "next.config.ts",
                      "tsconfig.json", "package.json", "package-lock.json", ".npmrc")  # fmt: skip
PACKAGE_SOURCES = ("src", "package.json", "package-lock.json", "tsconfig.json")
PACKAGE_STAMP = PACKAGE / "dist" / ".workflow-exporter-build-stamp"
INSTALL_STAMP = STOREFRONT / "node_modules" / ".workflow-exporter-install-stamp"
BUILD_STAMP = STOREFRONT / ".next" / "workflow-exporter-build-stamp"


class NodeMissing(RuntimeError):
    """Node.js (with npm) is not here, or is older than 20.9."""


def node_problem() -> str | None:
    """Why the storefront cannot be built here, or None."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        return "Node.js 20.9+ (node and npm) is not installed (https://nodejs.org/, or NodeSource's Debian packages)"
    version = subprocess.run([node, "-p", "process.versions.node"], capture_output=True, text=True).stdout.strip()
    parts = [int(part) for part in version.split(".")[:2] if part.isdigit()]
    if tuple(parts) < MIN_NODE:
        return f"Node.js {version} is too old: the storefront (Next.js 16) needs 20.9 or newer"
    return None


def _digest(root: Path, names: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for name in names:
        path = root / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path] if path.exists() else []
        for file in files:
            digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def _run(command: list[str], cwd: Path, what: str, quiet: bool) -> None:
    print(f"storefront: {what}", file=sys.stderr, flush=True)
    result = subprocess.run(command, cwd=cwd, env={**os.environ, **NODE_ENV}, text=True, timeout=1800,
                            capture_output=quiet)  # fmt: skip
    if result.returncode != 0:
        output = f"\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}" if quiet else ""
        raise RuntimeError(f"{what} failed ({' '.join(command)}){output}")


def _stamped(stamp: Path, value: str) -> bool:
    return stamp.is_file() and stamp.read_text() == value


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    with (STOREFRONT / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def build(quiet: bool = True) -> None:
    """Install and build what changed; NodeMissing without a usable Node.js, RuntimeError when a step fails."""
    problem = node_problem()
    if problem:
        raise NodeMissing(problem)
    with _locked():
        package = _digest(PACKAGE, PACKAGE_SOURCES)
        if not _stamped(PACKAGE_STAMP, package):
            _run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], PACKAGE, "npm ci in js/", quiet)
            _run(["npm", "run", "build"], PACKAGE, "building the browser package", quiet)
            PACKAGE_STAMP.write_text(package)
        installed = hashlib.sha256(f"{package}:{_digest(STOREFRONT, ('package-lock.json', '.npmrc'))}".encode())
        if not _stamped(INSTALL_STAMP, installed.hexdigest()):
            _run(["npm", "ci", "--loglevel=error"], STOREFRONT, "npm ci in demo_shop/storefront/", quiet)
            INSTALL_STAMP.write_text(installed.hexdigest())
        built = f"{installed.hexdigest()}:{_digest(STOREFRONT, STOREFRONT_SOURCES)}"
        if not _stamped(BUILD_STAMP, built):
            _run(["npx", "--no-install", "next", "build"], STOREFRONT, "next build (about a minute)", quiet)
            BUILD_STAMP.write_text(built)


def serve_command(port: int) -> list[str]:
    return [str(STOREFRONT / "node_modules" / ".bin" / "next"), "start", "-H", "127.0.0.1", "-p", str(port)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="install and build what changed")
    serve = sub.add_parser("serve", help="build, then next start on 127.0.0.1")
    serve.add_argument("--port", type=int, default=int(os.environ.get("FRONTEND_PORT", "3000")))
    args = parser.parse_args(argv)
    try:
        build(quiet=args.command == "serve")
    except NodeMissing as missing:
        print(f"storefront: {missing}", file=sys.stderr)
        return 3
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        print(f"storefront: {error}", file=sys.stderr)
        if args.command == "serve":
            # Under make demo the shop and the exporter go on without the storefront: wait to be stopped.
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
            while True:
                time.sleep(3600)
        return 1
    if args.command == "serve":
        os.chdir(STOREFRONT)
        os.execvpe(serve_command(args.port)[0], serve_command(args.port), {**os.environ, **NODE_ENV})
    return 0


if __name__ == "__main__":
    sys.exit(main())
