"""A 2 GB log: the search finds the 20 lines of its ID and its memory stays bounded (the time is recorded in
benchmarks/trace.py, not asserted here)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from exporter.trace import Window, logs
from tests.exporter.trace.test_log_files import line

CID = "large-log-0123456789abcdef"
SIZE = 2 * 1024**3
MATCHES = 20


def write_log(path: Path, size: int, matches: int, cid: str) -> None:
    """``size`` bytes of other requests' lines with ``matches`` lines of ``cid`` spread through them."""
    filler = "".join(line(i / 1000, f"request {i} of someone else", cid=f"other-{i:012d}") for i in range(20_000))
    block = filler.encode()
    blocks = size // len(block)
    every = max(blocks // matches, 1)
    with path.open("wb") as out:
        for index in range(blocks):
            out.write(block)
            if index % every == 0 and index // every < matches:
                out.write(line(index, f"match {index // every}", cid=cid).encode())


def test_a_2gb_log_is_searched_in_bounded_memory(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    write_log(log, SIZE, MATCHES, CID)
    assert log.stat().st_size >= SIZE * 0.99
    tracemalloc.start()
    try:
        report = logs.search([str(log)], CID, Window())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [e.title for e in report.events] == [f"match {i}" for i in range(MATCHES)]
    assert report.scanned_bytes == log.stat().st_size
    assert peak < 8 * logs.CHUNK_BYTES, f"peak {peak / 2**20:.1f} MiB for a {SIZE / 2**30:.0f} GiB file"
