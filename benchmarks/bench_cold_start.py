"""Cold start (4): a fresh interpreter importing and building, runtime against mxm-config alone.

Each round starts two fresh interpreters, in alternating order: one imports
``mxm.runtime`` and calls ``build_runtime_context`` for the example identity;
the other imports mxm-config and mxm-secrets and does the minimum by hand
(``load_config``, ``SecretsApi.from_config_data``, four paths, the database
view). Time is the child's CPU time (user + system, from
``resource.getrusage(RUSAGE_CHILDREN)``), so other load on the machine does not
skew one side; wall time is printed too. Both sides import ``mxm.types``,
which imports pandas.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time

from benchmarks._harness import EXAMPLE_STORE, REPO_ROOT, Row, format_seconds, spread

__all__ = ["BASELINE_SCRIPT", "RUNTIME_SCRIPT", "main"]

_IDENTITY = (
    "RuntimeIdentity(app='mxm-moneymachine', environment='dev', machine='bridge',"
    " substrate='local-process', role='research')"
)

RUNTIME_SCRIPT = f"""
from pathlib import Path
from mxm.runtime import RuntimeIdentity, build_runtime_context
context = build_runtime_context(identity={_IDENTITY}, store_root=Path({str(EXAMPLE_STORE)!r}))
assert context.paths is not None
"""

BASELINE_SCRIPT = f"""
from pathlib import Path
from mxm.config import load_config, make_view, to_config_data
from mxm.secrets import SecretsApi
from mxm.types import RuntimeIdentity
config = load_config(identity={_IDENTITY}, store_root=Path({str(EXAMPLE_STORE)!r}))
secrets = SecretsApi.from_config_data(to_config_data(make_view(config, "mxm_secrets")))
paths_view = make_view(config, "mxm_paths")
paths = [Path(str(paths_view[k])).expanduser()
         for k in ("data_root", "artifact_root", "export_root", "log_root")]
databases = make_view(config, "mxm_databases")
"""

_ROUNDS = 10


def _run(script: str) -> tuple[float, float]:
    """Run one fresh interpreter; return (CPU seconds, wall seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", script], check=True, cwd=REPO_ROOT, timeout=120)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def main(rounds: int = _ROUNDS) -> list[Row]:
    """Run benchmark 4 and return its row."""
    _run(RUNTIME_SCRIPT)  # warm the page cache and the bytecode caches
    _run(BASELINE_SCRIPT)
    cpu: dict[str, list[float]] = {"runtime": [], "baseline": []}
    wall: dict[str, list[float]] = {"runtime": [], "baseline": []}
    for index in range(rounds):
        order = ("runtime", "baseline") if index % 2 == 0 else ("baseline", "runtime")
        for side in order:
            seconds, elapsed = _run(RUNTIME_SCRIPT if side == "runtime" else BASELINE_SCRIPT)
            cpu[side].append(seconds)
            wall[side].append(elapsed)
    median, low, high = spread(
        [r / b for r, b in zip(cpu["runtime"], cpu["baseline"], strict=True)]
    )
    wall_ratio = statistics.median(wall["runtime"]) / statistics.median(wall["baseline"])
    return [
        Row(
            name="cold start: import + build (fresh interpreter, CPU time)",
            runtime=format_seconds(statistics.median(cpu["runtime"])),
            baseline=format_seconds(statistics.median(cpu["baseline"])),
            ratio=median,
            low=low,
            high=high,
            target=1.15,
            note=f"wall-clock ratio of medians {wall_ratio:.2f}",
        )
    ]
