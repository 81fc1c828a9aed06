"""Finding the source files, summarizing them in a process pool, and the on-disk cache.

The cache is one JSON file mapping a key (sha256 of the summary version, module name and file
content) to the file's summary, so an unchanged file is never parsed again. JSON, not pickle:
the cache is data the build reads, and a corrupt or foreign file is simply ignored.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from qgen.codegen.gcpause import paused_gc
from qgen.codegen.scan.sources import SourceFile
from qgen.codegen.scan.store import scanner_fingerprint
from qgen.codegen.scan.summary import SUMMARY_VERSION, summarize
from qgen.diagnostics import Diagnostic

CACHE_FILE = "scan-summaries.json"
_PARALLEL_MIN = 24  # below this many files to parse, a pool costs more than it saves


def cache_key(f: SourceFile) -> str:
    # the scanner's own code is part of the key: a changed scanner never reuses old data
    head = f"{SUMMARY_VERSION}\0{scanner_fingerprint()}\0{f.module}\0{f.is_pkg}\0"
    h = hashlib.sha256(head.encode())
    h.update(f.content)
    return h.hexdigest()


def inputs_hash(files: Sequence[SourceFile], problems: Sequence[Diagnostic] = ()) -> str:
    h = hashlib.sha256()
    for d in problems:  # a FIFO or an oversized file appearing changes the result too
        h.update(d.format().encode() + b"\0")
    for f in files:
        h.update(f.path.encode())
        h.update(b"\0")
        h.update(hashlib.sha256(f.content).digest())
    return h.hexdigest()


def _summarize_chunk(chunk: list[tuple[bytes, str, str, bool]]) -> list[dict[str, Any]]:
    with paused_gc():
        return [summarize(*item) for item in chunk]


def summaries(
    files: Sequence[SourceFile], cache_dir: Path | None, jobs: int | None
) -> tuple[dict[str, dict[str, Any]], int]:
    """module -> summary for every file, and how many files were parsed (cache misses)."""
    cache = _load_cache(cache_dir)
    result: dict[str, dict[str, Any]] = {}
    todo: list[SourceFile] = []
    for f in files:
        hit = cache.get(cache_key(f))
        if hit is not None and hit.get("v") == SUMMARY_VERSION:
            result[f.path] = hit
        else:
            todo.append(f)
    items = [(f.content, f.module, f.path, f.is_pkg) for f in todo]
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if workers > 1 and len(items) >= _PARALLEL_MIN:
        done = _parallel(items, workers)
    else:
        done = _summarize_chunk(items)
    for f, summary in zip(todo, done, strict=True):
        result[f.path] = summary
    if cache_dir is not None and (todo or len(cache) != len(files)):
        _save_cache(cache_dir, {cache_key(f): result[f.path] for f in files})
    by_module: dict[str, dict[str, Any]] = {}
    for f in sorted(files, key=lambda f: (not f.is_pkg, f.path)):
        by_module.setdefault(f.module, result[f.path])  # as in Python: a package wins
    return by_module, len(todo)


def _parallel(items: list[tuple[bytes, str, str, bool]], workers: int) -> list[dict[str, Any]]:
    workers = min(workers, max(1, len(items) // _PARALLEL_MIN))
    # Interleaved chunks balance big and small files; several per worker keep them all busy.
    n_chunks = workers * 4
    chunks = [items[i::n_chunks] for i in range(n_chunks)]
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool, paused_gc():
        results = list(pool.map(_summarize_chunk, chunks))  # unpickling: no collector runs
    out: list[dict[str, Any]] = [{}] * len(items)
    for i, chunk_result in enumerate(results):
        for j, summary in enumerate(chunk_result):
            out[i + j * n_chunks] = summary
    return out


def _load_cache(cache_dir: Path | None) -> dict[str, dict[str, Any]]:
    if cache_dir is None:
        return {}
    try:
        data = json.loads((cache_dir / CACHE_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != SUMMARY_VERSION:
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def _save_cache(cache_dir: Path, entries: dict[str, dict[str, Any]]) -> None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / f".{CACHE_FILE}.{os.getpid()}.tmp"
        tmp.write_text(
            json.dumps({"version": SUMMARY_VERSION, "entries": entries}, separators=(",", ":")),
            "utf-8",
        )
        os.replace(tmp, cache_dir / CACHE_FILE)
    except OSError:
        pass  # a cache that cannot be written only costs speed
