"""Memory (5): peak RSS of building one context against ``load_config`` alone.

On the generated 50,000-key store, each side runs in its own fresh
interpreter and reports its peak resident set size after
its work (``VmHWM`` from ``/proc/self/status``, the process's own peak; on
Linux ``ru_maxrss`` of a child also counts the pages its parent had at fork
time, so it would report the runner's size); the two alternate over a few
rounds. The runtime side imports
``mxm.runtime`` and calls ``build_runtime_context``; the baseline imports
mxm-config and calls ``load_config``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._harness import REPO_ROOT, Row, allow_large_yaml, spread
from benchmarks.stores import write_store

__all__ = ["main"]

_KEYS, _REFS = 50_000, 1_000
_ROUNDS = 2

_PRELUDE = """
import resource, sys
from pathlib import Path
from mxm.types import RuntimeIdentity
identity = RuntimeIdentity(app="mxm-moneymachine", environment="dev", machine="bridge",
                           substrate="local-process", role="research")
root = Path(sys.argv[1])


def _peak_kib():
    # VmHWM is this process's own peak; ru_maxrss (the fallback) also counts
    # the parent's pages from before exec, i.e. the benchmark runner's size.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""

_RUNTIME = (
    _PRELUDE
    + """
from mxm.runtime import build_runtime_context
context = build_runtime_context(identity=identity, store_root=root)
print(_peak_kib())
"""
)

_BASELINE = (
    _PRELUDE
    + """
from mxm.config import load_config
config = load_config(identity=identity, store_root=root)
print(_peak_kib())
"""
)


def _peak_kib(script: str, root: Path) -> int:
    result = subprocess.run(
        [sys.executable, "-c", script, str(root)],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=os.environ.copy(),
        timeout=300,
    )
    return int(result.stdout.strip().splitlines()[-1])


def main(rounds: int = _ROUNDS) -> list[Row]:
    """Run benchmark 5 and return its row."""
    allow_large_yaml()
    peaks: dict[str, list[int]] = {"runtime": [], "baseline": []}
    with tempfile.TemporaryDirectory(prefix="mxm-bench-mem-") as tmp:
        root = write_store(Path(tmp), _KEYS, _REFS)
        for index in range(rounds):
            order = ("runtime", "baseline") if index % 2 == 0 else ("baseline", "runtime")
            for side in order:
                peaks[side].append(_peak_kib(_RUNTIME if side == "runtime" else _BASELINE, root))
    median, low, high = spread(
        [r / b for r, b in zip(peaks["runtime"], peaks["baseline"], strict=True)]
    )
    return [
        Row(
            name=f"memory: peak RSS, {_KEYS:,}-key store (fresh interpreter each)",
            runtime=f"{statistics.median(peaks['runtime']) / 1024:.0f} MiB",
            baseline=f"{statistics.median(peaks['baseline']) / 1024:.0f} MiB",
            ratio=median,
            low=low,
            high=high,
            target=1.10,
        )
    ]
