"""Shared helpers: the example identity, paired timing and the result rows."""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mxm.types import RuntimeIdentity

__all__ = [
    "EXAMPLE_IDENTITY",
    "EXAMPLE_STORE",
    "REPO_ROOT",
    "Row",
    "allow_large_yaml",
    "format_seconds",
    "paired_rounds",
    "ratio_row",
    "spread",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_STORE = REPO_ROOT / "examples" / "config-store"
EXAMPLE_IDENTITY = RuntimeIdentity(
    app="mxm-moneymachine",
    environment="dev",
    machine="bridge",
    substrate="local-process",
    role="research",
)

LARGE_YAML_NODES = 1_000_000
"""Node limit for the generated (trusted) stores; OmegaConf's default is 10,000."""


def allow_large_yaml() -> None:
    """Raise OmegaConf's YAML node limit for the generated, trusted stores.

    OmegaConf 2.4 refuses YAML files of more than 10,000 nodes unless
    ``OMEGACONF_MAX_YAML_EXPANDED_NODES`` says otherwise. mxm-runtime keeps
    that limit by default and documents this variable (and
    ``max_yaml_nodes=`` / ``MXM_CONFIG_MAX_YAML_NODES``) as the setting for
    trusted stores. The variable is read on every load by mxm-config's
    ``load_config`` itself, so setting it here treats the baseline and the
    runtime alike.
    """
    os.environ["OMEGACONF_MAX_YAML_EXPANDED_NODES"] = str(LARGE_YAML_NODES)


@dataclass(frozen=True)
class Row:
    """One line of the results table.

    ``ratio`` is runtime / baseline (lower is better); ``low``/``high`` the
    spread (interquartile range of the per-round ratios, or min..max for
    few rounds); ``target`` the ratio the issue asks for.
    """

    name: str
    runtime: str
    baseline: str
    ratio: float
    low: float
    high: float
    target: float
    note: str = ""

    @property
    def met(self) -> bool:
        """Whether the median ratio is within the target."""
        return self.ratio <= self.target


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """Return (median, low, high): the interquartile range, or min..max below 8 values."""
    ordered = sorted(values)
    median = statistics.median(ordered)
    if len(ordered) < 8:
        return median, ordered[0], ordered[-1]
    quartiles = statistics.quantiles(ordered, n=4)
    return median, quartiles[0], quartiles[2]


def paired_rounds(
    variants: dict[str, Callable[[], object]],
    rounds: int,
    *,
    warmup: int = 2,
    clock: Callable[[], float] = time.process_time,
) -> dict[str, list[float]]:
    """Time each variant once per round, rotating their order every round.

    The default clock is this process's CPU time (``time.process_time``), so
    other processes competing for the machine's cores do not inflate one
    side of a pair; file reads are from the page cache.

    The garbage collector is collected before and disabled during each timed
    call (as :mod:`timeit` does), for every variant alike.

    Returns
    -------
    dict[str, list[float]]
        Seconds per call, per variant, one entry per round (same order).
    """
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            variants[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            function = variants[name]
            gc.collect()
            gc.disable()
            try:
                start = clock()
                result = function()
                elapsed = clock() - start
                del result  # freed outside the timed region
            finally:
                gc.enable()
            times[name].append(elapsed)
    return times


def ratio_row(
    name: str,
    times: dict[str, list[float]],
    runtime: str,
    baseline: str,
    target: float,
    note: str = "",
) -> Row:
    """Build a row from paired times: per-round ratios runtime/baseline."""
    ratios = [r / b for r, b in zip(times[runtime], times[baseline], strict=True)]
    median, low, high = spread(ratios)
    return Row(
        name=name,
        runtime=_ms(statistics.median(times[runtime])),
        baseline=_ms(statistics.median(times[baseline])),
        ratio=median,
        low=low,
        high=high,
        target=target,
        note=note,
    )


def _ms(seconds: float) -> str:
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e9:.1f} ns"


def format_seconds(seconds: float) -> str:
    """Human-readable duration (ns to s)."""
    return _ms(seconds)
