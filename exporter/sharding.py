"""``--shard=i/n``: each replica runs a stable share of the workflow x target pairs.

The share is ``sha256(workflow, target) mod n``, so it does not depend on the order of the config, on the
replica's start time or on the other pairs: every pair runs on exactly one of the n replicas.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            index_text, count_text = text.split("/")
            index, count = int(index_text), int(count_text)
        except ValueError:
            raise ValueError(f"--shard must look like i/n (e.g. 0/3), got {text!r}") from None
        if count < 1 or not 0 <= index < count:
            raise ValueError(f"--shard {text!r}: need n >= 1 and 0 <= i < n")
        return cls(index, count)

    def owns(self, workflow: str, target: str) -> bool:
        digest = hashlib.sha256(f"{workflow}\0{target}".encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index
