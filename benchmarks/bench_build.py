"""Build overhead (1) and scaling (2): a context build against ``load_config`` plus the minimum.

The baseline is what any caller must do without mxm-runtime: ``load_config``,
``SecretsApi.from_config_data`` on the plain data of the ``mxm_secrets``
view, the four ``mxm_paths`` values as expanded ``Path`` objects, and the
``mxm_databases`` view. The runtime side is ``build_runtime_context`` and
``RuntimeContainer.from_identity(...).context()``. Variants alternate inside
each round; the ratio is taken per round and summarised by its median and
interquartile range.
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
import timeit
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

from dependency_injector import containers, providers
from mxm.config import MXMConfig, load_config, make_view, to_config_data
from mxm.secrets import SecretsApi
from mxm.types import RuntimeIdentity

from benchmarks._harness import (
    EXAMPLE_IDENTITY,
    EXAMPLE_STORE,
    Row,
    allow_large_yaml,
    paired_rounds,
    ratio_row,
)
from benchmarks.stores import SCALES, write_store
from mxm.runtime import RuntimeContainer, RuntimeContext, build_runtime_context

__all__ = ["baseline_build", "main", "run_overhead", "run_scaling"]

_PATH_KEYS = ("data_root", "artifact_root", "export_root", "log_root")

# Rounds per store size: enough for a stable median, within the 5-minute budget.
_ROUNDS = {100: 30, 1_000: 12, 10_000: 8, 50_000: 5}


def baseline_build(
    identity: RuntimeIdentity, store_root: Path
) -> tuple[MXMConfig, SecretsApi, list[Path], MXMConfig]:
    """The minimum any caller must do: load, SecretsApi, four paths, database view."""
    config = load_config(identity=identity, store_root=store_root)
    secrets = SecretsApi.from_config_data(to_config_data(make_view(config, "mxm_secrets")))
    paths_view = make_view(config, "mxm_paths")
    paths = [Path(str(paths_view[key])).expanduser() for key in _PATH_KEYS]
    databases = make_view(config, "mxm_databases")
    return config, secrets, paths, databases


def _facade(identity: RuntimeIdentity, store_root: Path) -> RuntimeContext:
    return build_runtime_context(identity=identity, store_root=store_root)


def _container(identity: RuntimeIdentity, store_root: Path) -> RuntimeContext:
    return RuntimeContainer.from_identity(identity, store_root=store_root).context()


def run_overhead(rounds: int = 150) -> list[Row]:
    """Benchmark 1 on the example store (mxm-moneymachine, dev, bridge, local-process, research)."""
    identity, root = EXAMPLE_IDENTITY, EXAMPLE_STORE
    times = paired_rounds(
        {
            "baseline": lambda: baseline_build(identity, root),
            "build_runtime_context": lambda: _facade(identity, root),
            "container.context()": lambda: _container(identity, root),
        },
        rounds,
    )
    return [
        ratio_row(
            "build: build_runtime_context / load_config+minimum (example store)",
            times,
            "build_runtime_context",
            "baseline",
            1.01,
        ),
        ratio_row(
            "build: from_identity().context() / load_config+minimum (example store)",
            times,
            "container.context()",
            "baseline",
            1.01,
        ),
    ]


def run_scaling() -> tuple[list[Row], float]:
    """Benchmark 2 on generated stores; returns the rows and the log-log slope.

    The slope is fitted (least squares) to log(median build time) against
    log(config keys); about 1 means linear growth.
    """
    allow_large_yaml()
    identity = EXAMPLE_IDENTITY
    rows: list[Row] = []
    sizes: list[float] = []
    medians: list[float] = []
    with tempfile.TemporaryDirectory(prefix="mxm-bench-") as tmp:
        for keys, refs in SCALES:
            root = write_store(Path(tmp) / f"store-{keys}", keys, refs)
            rounds = _ROUNDS[keys]
            times = paired_rounds(
                {
                    "baseline": partial(baseline_build, identity, root),
                    "build_runtime_context": partial(_facade, identity, root),
                },
                rounds,
                warmup=1 if keys <= 1_000 else 0,
            )
            rows.append(
                ratio_row(
                    f"scaling: {keys:,} keys, {refs:,} secret refs ({rounds} rounds)",
                    times,
                    "build_runtime_context",
                    "baseline",
                    1.01,
                )
            )
            sizes.append(float(keys))
            medians.append(statistics.median(times["build_runtime_context"]))
    return rows, _slope(sizes, medians)


def _slope(xs: list[float], ys: list[float]) -> float:
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    num = sum((x - mx) * (y - my) for x, y in zip(lx, ly, strict=True))
    den = sum((x - mx) ** 2 for x in lx)
    return num / den


def _median_cpu(function: Callable[[], object], rounds: int = 200) -> float:
    # Warm loops (timeit), unlike the paired rounds that collect garbage
    # before every call: this is each part's own steady cost.
    number = max(1, rounds // 10)
    timings = timeit.repeat(function, number=number, repeat=10, timer=time.process_time)
    return statistics.median(timings) / number


def _median_difference(
    first: Callable[[], object], second: Callable[[], object], rounds: int = 80
) -> float:
    # Two large, nearly equal times: take the difference per paired round.
    times = paired_rounds({"first": first, "second": second}, rounds)
    return statistics.median(a - b for a, b in zip(times["first"], times["second"], strict=True))


class _PlainContainer(containers.DeclarativeContainer):
    """dependency-injector's floor: ten compiled singletons, no runtime logic."""

    a = providers.ThreadSafeSingleton(object)
    b = providers.ThreadSafeSingleton[dict[str, object]](dict, a=a)
    c = providers.ThreadSafeSingleton[dict[str, object]](dict, a=a, b=b)
    d = providers.ThreadSafeSingleton[dict[str, object]](dict, a=a, c=c)
    e = providers.ThreadSafeSingleton[dict[str, object]](dict, a=a, c=c)
    f = providers.ThreadSafeSingleton[dict[str, object]](dict, a=a, c=c)
    g = providers.ThreadSafeSingleton[dict[str, object]](dict, a=a)
    h = providers.ThreadSafeSingleton[dict[str, object]](dict, a=a)
    i = providers.ThreadSafeSingleton[dict[str, object]](dict, a=a, h=h)
    j = providers.ThreadSafeSingleton[dict[str, object]](dict, b=b, c=c, d=d, e=e, f=f, g=g, i=i)


def breakdown() -> list[tuple[str, float]]:
    """Where the runtime's extra time goes on the example store (median CPU seconds each).

    Each part is timed on its own against the baseline's equivalent:
    container instantiation with its rebinds (``from_identity``), the
    store checks around ``load_config``, each materialiser against the
    minimum, runtime discovery (``RuntimeMetadata``), and what is left of
    the measured difference: resolving the providers.
    """
    from mxm.runtime.discovery import discover_runtime
    from mxm.runtime.materialise import (
        materialise_db_configs,
        materialise_paths,
        materialise_secrets,
    )
    from mxm.runtime.store import load_runtime_config

    identity, root = EXAMPLE_IDENTITY, EXAMPLE_STORE
    config = load_config(identity=identity, store_root=root)

    def secrets_min() -> object:
        return SecretsApi.from_config_data(to_config_data(make_view(config, "mxm_secrets")))

    def paths_min() -> object:
        view = make_view(config, "mxm_paths")
        return [Path(str(view[key])).expanduser() for key in _PATH_KEYS]

    return [
        (
            "RuntimeContainer.from_identity (copy of the declarative providers, rebinds)",
            _median_cpu(lambda: RuntimeContainer.from_identity(identity, store_root=root)),
        ),
        (
            "  of which dependency-injector's own floor: instantiating a plain "
            "DeclarativeContainer of 10 compiled ThreadSafeSingletons",
            _median_cpu(_PlainContainer),
        ),
        (
            "store checks around load_config (load_runtime_config - load_config)",
            _median_difference(
                lambda: load_runtime_config(identity, root),
                lambda: load_config(identity=identity, store_root=root),
            ),
        ),
        (
            "secrets: materialise_secrets - SecretsApi.from_config_data(...)",
            _median_cpu(lambda: materialise_secrets(config, identity=identity, store_root=root))
            - _median_cpu(secrets_min),
        ),
        (
            "databases: typed views (materialise_db_configs) - make_view",
            _median_cpu(lambda: materialise_db_configs(config, identity=identity, store_root=root))
            - _median_cpu(lambda: make_view(config, "mxm_databases")),
        ),
        (
            "paths: materialise_paths - four view lookups",
            _median_cpu(lambda: materialise_paths(config, identity=identity, store_root=root))
            - _median_cpu(paths_min),
        ),
        ("runtime metadata: discover_runtime()", _median_cpu(discover_runtime)),
    ]


def main() -> list[Row]:
    """Run benchmarks 1 and 2 and return their rows (the slope as a note)."""
    rows = run_overhead()
    try:
        parts = breakdown()
    except (ImportError, TypeError) as exc:  # internal names changed
        print(f"  (no breakdown: {exc})")
    else:
        print("  where the extra time goes on the example store (median CPU per build):")
        for label, seconds in parts:
            print(f"    {seconds * 1e6:8.1f} µs  {label}")
    scaling, slope = run_scaling()
    note = f"log-log slope of build time vs keys: {slope:.2f} (1 = linear)"
    return [*rows, *scaling[:-1], replace(scaling[-1], note=note)]
