"""The source tree, walked and read within bounds.

A tree from outside can hold anything: symlink loops, a ``node_modules`` of 200 000 files, a 50 MB generated
bundle, images named ``.js``, Latin-1 sources. The walk and every read are bounded (``MapLimits``), and
crossing a bound is a named ``Problem``, never an exception: the rest of the tree is still mapped.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from ._model import Problem

# Folders that hold no source of the app: dependencies, build output, VCS and tool caches.
SKIPPED_DIRS = frozenset({"node_modules", ".next", ".git", ".turbo", ".vercel", ".swc", "coverage", "out"})
SOURCE_SUFFIXES = (".tsx", ".ts", ".jsx", ".js", ".mjs", ".cjs", ".mts", ".cts")


@dataclass(frozen=True)
class MapLimits:
    """Bounds on one mapping run. Crossing one is a ``Problem`` of the kind named in brackets.

    ``max_files`` source files [too-many-files], ``max_depth`` folder levels [too-deep], ``max_file_bytes`` per
    source file [too-large], ``max_total_bytes`` read in all [too-large], ``seconds`` for the whole run [time],
    ``max_eval_depth`` nested values and wrappers followed for one call [depth].
    """

    max_files: int = 20_000
    max_depth: int = 40
    max_file_bytes: int = 2 * 1024 * 1024
    max_total_bytes: int = 256 * 1024 * 1024
    seconds: float = 120.0
    max_eval_depth: int = 24


@dataclass
class SourceTree:
    """The files under ``root``: relative POSIX paths to absolute paths, and the problems of walking it."""

    root: Path
    limits: MapLimits = field(default_factory=MapLimits)
    files: dict[str, Path] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    deadline: float = 0.0
    _read_bytes: int = 0
    _texts: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def walk(cls, root: str | Path, limits: MapLimits | None = None, deadline: float | None = None) -> SourceTree:
        """Walk ``root`` (following symlinks once each; a loop is reported and not entered)."""
        limits = limits or MapLimits()
        tree = cls(Path(root), limits, deadline=deadline or time.monotonic() + limits.seconds)
        tree._walk()
        return tree

    def expired(self) -> bool:
        return time.monotonic() > self.deadline

    def _walk(self) -> None:
        root_stat = os.stat(self.root)  # the caller checks the root exists; OSError for a missing one
        seen = {(root_stat.st_dev, root_stat.st_ino)}
        stack: list[tuple[Path, str, int, frozenset[tuple[int, int]]]] = [(self.root, "", 0, frozenset(seen))]
        sources = 0
        while stack:
            directory, relative, depth, ancestors = stack.pop()
            if self.expired():
                self.problems.append(Problem("time", f"the time bound of {self.limits.seconds:g} s ran out while "
                                             "listing files; the rest of the tree is not mapped"))  # fmt: skip
                return
            try:
                entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
            except OSError as error:
                self.problems.append(Problem("unreadable", f"cannot list: {error.strerror or error}", relative))
                continue
            for entry in entries:
                rel = f"{relative}/{entry.name}" if relative else entry.name
                try:
                    info = entry.stat(follow_symlinks=True)
                except OSError as error:  # a dangling symlink, or one that loops on itself
                    if entry.is_symlink():
                        self.problems.append(Problem("symlink-loop" if error.errno == 40 else "unreadable",
                                                     f"broken symlink: {error.strerror or error}", rel))  # fmt: skip
                    continue
                if stat.S_ISDIR(info.st_mode):
                    if entry.name in SKIPPED_DIRS:
                        continue
                    key = (info.st_dev, info.st_ino)
                    if key in ancestors:
                        self.problems.append(Problem("symlink-loop", "a symlink back to a folder above it; not "
                                                     "followed", rel))  # fmt: skip
                        continue
                    if depth + 1 > self.limits.max_depth:
                        self.problems.append(Problem("too-deep", f"deeper than {self.limits.max_depth} folders; "
                                                     "not walked", rel))  # fmt: skip
                        continue
                    self.dirs.add(rel)
                    stack.append((Path(entry.path), rel, depth + 1, ancestors | {key}))
                elif stat.S_ISREG(info.st_mode):
                    if entry.name.endswith(SOURCE_SUFFIXES):
                        sources += 1
                        if sources > self.limits.max_files:
                            if sources == self.limits.max_files + 1:
                                message = f"more than {self.limits.max_files} source files; the rest are not mapped"
                                self.problems.append(Problem("too-many-files", message, rel))
                            continue
                    self.files[rel] = Path(entry.path)

    def text(self, rel: str) -> str | None:
        """The file's text, or None (with a Problem) when it is too large, binary or unreadable.

        Not UTF-8: decoded with replacement characters, and reported (``encoding``); the calls in it are still
        found (JavaScript's syntax is ASCII).
        """
        if rel in self._texts:
            return self._texts[rel]
        self._texts[rel] = text = self._read(rel)
        return text

    def _read(self, rel: str) -> str | None:
        path = self.files.get(rel)
        if path is None:
            return None
        limit = self.limits.max_file_bytes
        try:
            with path.open("rb") as file:
                size = os.fstat(file.fileno()).st_size
                if size > limit:
                    self.problems.append(Problem("too-large", f"{size} bytes, over the limit of {limit} per file "
                                                 "(a generated or bundled file?); not parsed", rel))  # fmt: skip
                    return None
                if self._read_bytes + size > self.limits.max_total_bytes:
                    self.problems.append(Problem("too-large", f"the tree's sources pass {self.limits.max_total_bytes}"
                                                 " bytes in all; not parsed", rel))  # fmt: skip
                    return None
                data = file.read(limit + 1)
        except OSError as error:
            self.problems.append(Problem("unreadable", f"cannot read: {error.strerror or error}", rel))
            return None
        self._read_bytes += len(data)
        if len(data) > limit:  # grew while we read it
            self.problems.append(Problem("too-large", f"over the limit of {limit} bytes per file; not parsed", rel))
            return None
        if b"\0" in data[:8192]:
            self.problems.append(Problem("binary", "a binary file with a source file's name; not parsed", rel))
            return None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            self.problems.append(Problem("encoding", f"not UTF-8 (byte 0x{data[error.start]:02x} on line {line}); "
                                         "read with replacement characters", rel))  # fmt: skip
            return data.decode("utf-8", errors="replace")

    def exists(self, rel: str) -> bool:
        return rel in self.files

    def is_dir(self, rel: str) -> bool:
        return rel == "" or rel in self.dirs

    def listdir(self, rel: str) -> list[str]:
        """Names of the files and folders directly in folder ``rel`` ("" for the root), sorted."""
        prefix = f"{rel}/" if rel else ""
        names = {p[len(prefix) :].split("/", 1)[0] for p in (*self.files, *self.dirs) if p.startswith(prefix)}
        return sorted(name for name in names if name)
