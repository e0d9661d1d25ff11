"""``python -m benchmarks``: run every benchmark and print the table of ratios.

Options: ``--only build,resolution,cold,memory,fastapi`` runs a subset.
The whole run takes about two to three minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence

from benchmarks._harness import Row

__all__ = ["format_table", "machine", "main"]

_SUITES: dict[str, str] = {
    "build": "benchmarks.bench_build",
    "resolution": "benchmarks.bench_resolution",
    "cold": "benchmarks.bench_cold_start",
    "memory": "benchmarks.bench_memory",
    "fastapi": "benchmarks.bench_fastapi",
}


def machine() -> str:
    """One line describing the machine: cores, memory, Python, platform."""
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return (
        f"{os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), "
        f"{pages / 2**30:.1f} GiB RAM, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}"
    )


def format_table(rows: Sequence[Row]) -> str:
    """Render rows as a Markdown table."""
    lines = [
        "| benchmark | mxm-runtime | baseline | ratio (median) | spread | target | met |",
        "|---|---:|---:|---:|---:|---:|:---:|",
    ]
    for row in rows:
        note = f" — {row.note}" if row.note else ""
        lines.append(
            f"| {row.name}{note} | {row.runtime} | {row.baseline} | {row.ratio:.3f} "
            f"| {row.low:.3f}..{row.high:.3f} | ≤ {row.target:g} | {'yes' if row.met else 'no'} |"
        )
    return "\n".join(lines)


def _suite_main(module_name: str) -> Callable[[], object] | None:
    if importlib.util.find_spec(module_name) is None:
        return None
    module = importlib.import_module(module_name)
    entry: Callable[[], object] | None = getattr(module, "main", None)
    return entry


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected benchmarks, print the table and the total time; return 0."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--only",
        default=",".join(_SUITES),
        help="comma-separated subset of: " + ", ".join(_SUITES),
    )
    args = parser.parse_args(argv)
    selected = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in selected if name not in _SUITES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    started = time.perf_counter()
    print(f"machine: {machine()}", flush=True)
    rows: list[Row] = []
    for name in selected:
        entry = _suite_main(_SUITES[name])
        if entry is None:
            print(f"[{name}] not present, skipped", flush=True)
            continue
        suite_start = time.perf_counter()
        print(f"[{name}] running ...", flush=True)
        result = entry()
        if isinstance(result, list):
            rows.extend(item for item in result if isinstance(item, Row))  # pyright: ignore[reportUnknownVariableType]
        print(f"[{name}] done in {time.perf_counter() - suite_start:.1f} s", flush=True)
    print()
    print(format_table(rows))
    print()
    print(f"total time: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
