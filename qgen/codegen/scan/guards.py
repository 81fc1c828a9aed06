"""Limits that keep hostile source trees from crashing or stalling the scanner.

- Only regular files are read: a FIFO named ``x.py`` would block the build forever, a dangling
  link or a link loop cannot be read; such entries are skipped with a QG006 warning.
- Files over ``MAX_SOURCE_BYTES`` and lines over ``MAX_LINE_BYTES`` are refused (QG007) before
  parsing: libcst's time and memory grow fast with both (a 13 MB file took 53 s and 3.7 GB).
- Expressions nested deeper than ``MAX_EXPR_DEPTH`` are refused (QG007): libcst's time grows
  with the square of a chain's length (``1 + 1 + ...`` with 4,000 terms: 2.5 s; 20,000: minutes),
  and brackets nested past 150 can crash its native parser, so CPython's parser judges first.
"""

from __future__ import annotations

import ast
import errno
import itertools
import os
import stat
from pathlib import Path
from typing import Any

from qgen.diagnostics import Diagnostic, Severity

MAX_SOURCE_BYTES = 1 << 20  # 1 MiB: ten times the largest module of most projects
MAX_LINE_BYTES = 10_000
MAX_EXPR_DEPTH = 500
# Below this size a file cannot hold an expression slow enough to matter (a chain of 2,000
# terms needs 4 KB and parses in well under a second); only bigger files pay for ast.parse.
_GUARD_BYTES = 4096
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"([{}])")
_DEPTH = {ord("("): 1, ord("["): 1, ord("{"): 1, ord(")"): -1, ord("]"): -1, ord("}"): -1}


def _skipped(rel: str, why: str) -> Diagnostic:
    return Diagnostic(rel, 1, 1, "QG006", Severity.WARNING, f"skipped: {why}")


def _refused(rel: str, line: int, col: int, why: str) -> Diagnostic:
    return Diagnostic(rel, line, col, "QG007", Severity.ERROR, f"not scanned: {why}")


def _open_error(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symbolic link loop"
    if exc.errno == errno.ENOENT and path.is_symlink():
        return "a dangling symbolic link"
    return f"cannot be read ({exc.strerror or exc})"


def read_source(path: Path, rel: str) -> tuple[bytes | None, Diagnostic | None]:
    """The bytes of one source file, or None and the diagnostic that says why not."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then tells what it is.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        return None, _skipped(rel, _open_error(path, exc))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, _skipped(rel, "not a regular file")
        if info.st_size > MAX_SOURCE_BYTES:
            return None, _refused(
                rel, 1, 1, f"{info.st_size} bytes, over qgen's limit of {MAX_SOURCE_BYTES}"
            )
        with os.fdopen(os.dup(fd), "rb") as handle:
            content = handle.read(MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        return None, _skipped(rel, f"cannot be read ({exc.strerror or exc})")
    finally:
        os.close(fd)
    if len(content) > MAX_SOURCE_BYTES:  # grew since fstat
        return None, _refused(rel, 1, 1, f"over qgen's limit of {MAX_SOURCE_BYTES} bytes")
    longest = max(content.split(b"\n"), key=len)
    if len(longest) > MAX_LINE_BYTES:
        line = content[: content.index(longest)].count(b"\n") + 1
        return None, _refused(
            rel,
            line,
            MAX_LINE_BYTES + 1,
            f"line {line} is {len(longest)} bytes long, over qgen's limit of {MAX_LINE_BYTES}",
        )
    return content, None


def too_deep(source: bytes, limit: int = 150) -> bool:
    """Whether brackets (counted anywhere, strings included) nest deeper than ``limit``."""
    only = source.translate(None, _NOT_BRACKETS)
    if len(only) <= limit:
        return False
    return max(itertools.accumulate(_DEPTH[b] for b in only)) > limit


def python_syntax_error(source: bytes) -> list[Any] | None:
    """Python's own message and position for a file libcst rejects (libcst's positions are
    often a line off). Only parses; nothing is compiled to bytecode or run."""
    try:
        ast.parse(source)
    except SyntaxError as exc:
        return [exc.lineno or 1, exc.offset or 1, exc.msg]
    except ValueError as exc:  # null bytes
        return [1, 1, str(exc)]
    except (RecursionError, MemoryError):
        return [1, 1, "expressions nested too deeply to parse", "QG007"]
    return None


def complexity_error(source: bytes) -> list[Any] | None:
    """[line, col, message, "QG007"] when an expression nests deeper than MAX_EXPR_DEPTH."""
    if len(source) < _GUARD_BYTES:
        return None
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None  # libcst reports it, or reads syntax newer than this Python
    except (RecursionError, MemoryError):
        return [1, 1, "expressions nested too deeply to parse", "QG007"]
    todo: list[tuple[ast.AST, int]] = [(tree, 0)]
    while todo:
        node, depth = todo.pop()
        if depth > MAX_EXPR_DEPTH:
            line, col = getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1
            why = f"an expression nested more than {MAX_EXPR_DEPTH} levels deep"
            return [line, col, why, "QG007"]
        todo.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return None
