"""``trace`` over large JSON logs next to ``grep -F`` of the same ID over the same file, in the same run.

For each size (default 1 GiB and 10 GiB) a log of other requests' lines is generated with the ID in 20 lines
spread through it; then, alternating, ``grep -F -c <id> <file>`` (the physical floor of a scan: one pass, no
parsing) and ``workflow-exporter trace <id> --log <file>`` in a fresh process (wall time, CPU time and peak RSS
from ``getrusage``), best of ``--repeat``. The file is read once before timing, so both start from the same page
cache; with files larger than memory both read from disk.

    .venv/bin/python benchmarks/trace.py [--sizes-gib 1 10] [--repeat 3] [--dir /var/tmp]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.exporter.trace.test_large_log import write_log  # noqa: E402 - the same generator as the test

CID = "bench-trace-0123456789abcdef"


_WRAPPER = (
    "import resource, subprocess, sys, time; began = time.perf_counter(); "
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); wall = time.perf_counter() - began; "
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN); sys.stdout.write(done.stdout); "
    "print(f'@@ {wall} {usage.ru_utime + usage.ru_stime} {usage.ru_maxrss}')"
)


def measure(command: list[str]) -> tuple[float, float, float, str]:
    """(wall s, CPU s, peak RSS MiB, stdout) of ``command`` alone, measured by a wrapper process of its own."""
    done = subprocess.run([sys.executable, "-c", _WRAPPER, *command], capture_output=True, text=True, cwd=ROOT)
    out, _, numbers = done.stdout.rpartition("@@ ")
    wall, cpu, rss = (float(n) for n in numbers.split())
    return wall, cpu, rss / 1024, out


def search_in_process(log: Path, repeat: int) -> tuple[float, float, float, int]:
    """Best wall and CPU seconds of ``exporter.trace.logs.search`` itself (no interpreter start, no imports),
    and the peak of Python's heap during it in MiB (tracemalloc, in a separate pass)."""
    import tracemalloc

    from exporter.trace import Window, logs

    best_wall = best_cpu = float("inf")
    found = 0
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        found = len(logs.search([str(log)], CID, Window()).events)
        best_wall, best_cpu = min(best_wall, time.perf_counter() - wall), min(best_cpu, time.process_time() - cpu)
    tracemalloc.start()
    logs.search([str(log)], CID, Window())
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return best_wall, best_cpu, peak, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes-gib", type=float, nargs="+", default=[1, 10])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the generated logs go")
    args = parser.parse_args()
    print("## trace over large logs, next to grep -F\n")
    print(f"Machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, Python {sys.version.split()[0]}\n")
    print("| log | tool | wall s (best) | CPU s | peak RSS MiB | lines found |")
    print("|---|---|--:|--:|--:|--:|")
    for gib in args.sizes_gib:
        with tempfile.TemporaryDirectory(dir=args.dir, prefix="trace-bench-") as tmp:
            log = Path(tmp) / "app.log"
            began = time.perf_counter()
            write_log(log, int(gib * 1024**3), 20, CID)
            written = time.perf_counter() - began
            subprocess.run(["cat", str(log)], stdout=subprocess.DEVNULL, check=True)  # same page cache for both
            tools = {
                "grep -F -c": ["grep", "-F", "-c", CID, str(log)],
                "workflow-exporter trace": [sys.executable, "-m", "exporter", "trace", CID, "--log", str(log)],
            }
            best: dict[str, tuple[float, float, float, str]] = {}
            for _ in range(args.repeat):
                for name, command in tools.items():
                    result = measure(command)
                    if name not in best or result[0] < best[name][0]:
                        best[name] = result
            for name, (wall, cpu, rss, out) in best.items():
                found = out.strip() if name.startswith("grep") else str(out.count(" match "))
                print(f"| {gib:g} GiB | {name} | {wall:.2f} | {cpu:.2f} | {rss:.0f} | {found} |")
            wall, cpu, peak, count = search_in_process(log, args.repeat)
            print(f"| {gib:g} GiB | the search alone, in-process (Python heap peak) | {wall:.2f} | {cpu:.2f} | "
                  f"{peak:.1f} | {count} |")  # fmt: skip
            print(f"<!-- {gib:g} GiB generated in {written:.1f} s -->")


if __name__ == "__main__":
    main()
