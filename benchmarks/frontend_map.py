"""Time and memory of ``frontend-map``, next to nextjs-routes listing the routes of the same tree.

Run from the repository root::

    .venv/bin/python benchmarks/frontend_map.py [--components 2000] [--routes 200] [--rounds 3]

Two trees: the test storefront (``tests/frontend_map/fixtures/storefront``) and a generated Next.js app in a temp
dir: ``--routes`` app router pages (every tenth in a route group, every fifth dynamic), each importing ten of
``--components`` components through the ``@/`` alias; every component calls the backend, through an axios client
wrapper, a SWR hook in a barrel, or ``fetch`` with a template path, with a ``tsconfig.json``, a ``next.config.js``
rewrite and the demo shop's OpenAPI document. Each mapping runs in a fresh Python process (``build_map`` as the
command line calls it); reported: wall time (best and median of ``--rounds``), peak RSS of that process
(``ru_maxrss``), routes and calls found.

nextjs-routes (npm, installed once into ``--npm-cache``) is run with Node.js on the same trees in the same run:
it only lists routes (no imports, no calls), which is the floor of what a route walk costs. Prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STOREFRONT = ROOT / "tests" / "frontend_map" / "fixtures" / "storefront"
OPENAPI = ROOT / "tests" / "frontend_map" / "testdata" / "demo_shop_openapi.json"
NEXTJS_ROUTES = "nextjs-routes@2.2.5"

CHILD = """
import json, resource, sys, time
from exporter.frontend_map import build_map, load_openapi
started = time.perf_counter()
result = build_map(sys.argv[1], load_openapi(sys.argv[2]))
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "routes": len(result.routes), "calls": len(result.calls), "counts": result.counts(),
                  "problems": len(result.problems)}))
"""
BASELINE = """
import json, resource
import exporter.frontend_map
print(json.dumps({"rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

PATHS = ["/api/products/", "/api/orders/", "/api/cart/", "/api/auth/me/"]


def generate(root: Path, components: int, routes: int) -> None:
    """A Next.js app of ``routes`` pages importing ``components`` components that call the backend."""
    (root / "src" / "lib").mkdir(parents=True)
    (root / "src" / "hooks").mkdir()
    (root / "src" / "components").mkdir()
    (root / "tsconfig.json").write_text('{"compilerOptions": {"paths": {"@/*": ["./src/*"]}}}\n')
    (root / "next.config.js").write_text(
        "module.exports = { async rewrites() { return [{ source: '/api/:path*', "
        "destination: 'http://127.0.0.1:8000/api/:path*/' }]; } };\n"
    )
    (root / "src" / "lib" / "http.ts").write_text(
        "import axios from 'axios';\n"
        "export const http = axios.create({ baseURL: process.env.NEXT_PUBLIC_API_URL ?? 'http://127.0.0.1:8000' });\n"
        "export const api = { get: <T,>(path: string) => http.get<T>(path).then((r) => r.data) };\n"
    )
    hooks = []
    for index, path in enumerate(PATHS):
        name = f"useThing{index}"
        hooks.append(name)
        (root / "src" / "hooks" / f"{name}.ts").write_text(
            "import useSWR from 'swr';\n"
            "const fetcher = (url: string) => fetch(url).then((r) => r.json());\n"
            f"export function {name}() {{ return useSWR('{path}', fetcher); }}\n"
        )
    (root / "src" / "hooks" / "index.ts").write_text("".join(f"export * from './{h}';\n" for h in hooks))
    for index in range(components):
        style = index % 3
        if style == 0:
            call = f"api.get<unknown>('{PATHS[index % 4]}')"
            body = f"import {{ api }} from '@/lib/http';\nexport function C{index}() {{ {call}; return null; }}\n"
        elif style == 1:
            body = (f"import {{ {hooks[index % 4]} }} from '@/hooks';\n"
                    f"export function C{index}() {{ {hooks[index % 4]}(); return null; }}\n")  # fmt: skip
        else:
            body = (f"export function C{index}({{ id }}: {{ id: number }}) {{\n"
                    f"  fetch(`/api/orders/${{id}}/`, {{ method: 'DELETE' }});\n  return null;\n}}\n")  # fmt: skip
        (root / "src" / "components" / f"C{index}.tsx").write_text(body)
    for index in range(routes):
        folder = root / "src" / "app"
        if index % 10 == 0:
            folder /= "(group)"
        folder /= f"section{index}"
        if index % 5 == 0:
            folder /= "[id]"
        folder.mkdir(parents=True)
        picks = [(index * 10 + k) % components for k in range(10)]
        imports = "".join(f"import {{ C{c} }} from '@/components/C{c}';\n" for c in picks)
        tags = "".join(f"<C{c} id={{1}} />" for c in picks)
        (folder / "page.tsx").write_text(f"{imports}export default function Page() {{ return <>{tags}</>; }}\n")


def map_once(tree: Path) -> dict[str, object]:
    result = subprocess.run([sys.executable, "-c", CHILD, str(tree), str(OPENAPI)], capture_output=True, text=True,
                            check=True, cwd=ROOT)  # fmt: skip
    return dict(json.loads(result.stdout))


def nextjs_routes(cache: Path) -> Path:
    cli = cache / "node_modules" / "nextjs-routes" / "dist" / "cli.js"
    if not cli.exists():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(cache), NEXTJS_ROUTES],
                       check=True, capture_output=True)  # fmt: skip
    return cli


def routes_once(cli: Path, tree: Path) -> tuple[float, int]:
    copy = Path(tempfile.mkdtemp(prefix="nextjs-routes-"))
    try:
        shutil.copytree(tree, copy, dirs_exist_ok=True)
        started = time.perf_counter()
        subprocess.run(["node", str(cli)], cwd=copy, check=True, capture_output=True)
        seconds = time.perf_counter() - started
        generated = (copy / "@types" / "nextjs-routes.d.ts").read_text()
        return seconds, generated.count('Route<"')
    finally:
        shutil.rmtree(copy)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--components", type=int, default=2000)
    parser.add_argument("--routes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--npm-cache", type=Path, default=Path(tempfile.gettempdir()) / "bench-nextjs-routes")
    args = parser.parse_args()
    baseline = json.loads(subprocess.run([sys.executable, "-c", BASELINE], capture_output=True, text=True,
                                         check=True, cwd=ROOT).stdout)  # fmt: skip
    cli = nextjs_routes(args.npm_cache)
    with tempfile.TemporaryDirectory(prefix="frontend-map-bench-") as temp:
        generated = Path(temp) / "app"
        generate(generated, args.components, args.routes)
        print(f"Python {sys.version.split()[0]}; peak RSS of a process that only imports the package: "
              f"{baseline['rss_kib'] / 1024:.0f} MiB\n")  # fmt: skip
        print("| tree | tool | best s | median s | peak RSS MiB | routes | calls (matched/unmatched/method/unresolved) "
              "|")  # fmt: skip
        print("|---|---|---|---|---|---|---|")
        for label, tree in (("storefront fixture", STOREFRONT),
                            (f"generated: {args.components} components, {args.routes} routes", generated)):  # fmt: skip
            runs = [map_once(tree) for _ in range(args.rounds)]
            times = sorted(float(str(run["seconds"])) for run in runs)
            last = runs[-1]
            counts = last["counts"]
            assert isinstance(counts, dict)
            calls = "/".join(str(counts[s]) for s in ("matched", "unmatched", "method", "unresolved"))
            rss = max(int(str(run["rss_kib"])) for run in runs) / 1024
            print(f"| {label} | frontend-map | {times[0]:.2f} | {statistics.median(times):.2f} | {rss:.0f} | "
                  f"{last['routes']} | {last['calls']} ({calls}) |")  # fmt: skip
            peer = [routes_once(cli, tree) for _ in range(args.rounds)]
            peer_times = sorted(seconds for seconds, _ in peer)
            print(f"| {label} | nextjs-routes (routes only) | {peer_times[0]:.2f} | "
                  f"{statistics.median(peer_times):.2f} | - | {peer[-1][1]} | - |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
