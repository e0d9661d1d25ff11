"""Resolution (3): a cached piece from the container against a dict lookup.

After the first ``container.context()``, every provider is a cached
thread-safe singleton. Each round times ``container.<piece>()`` and the
equivalent ``pieces["<piece>"]`` (a plain dict holding the same objects)
with :mod:`timeit` over many iterations (process CPU time); the ratio is
taken per round.
"""

from __future__ import annotations

import time
import timeit

from dependency_injector import providers

from benchmarks._harness import EXAMPLE_IDENTITY, EXAMPLE_STORE, Row, format_seconds, spread
from mxm.runtime import RuntimeContainer
from mxm.runtime.container import PROVIDER_NAMES

__all__ = ["PIECES", "main"]

PIECES: tuple[str, ...] = (
    "context",
    *(name for name in PROVIDER_NAMES if name not in {"settings", "context"}),
)
"""Providers resolved by ``context()`` (``settings`` is not, for an explicit identity)."""

_FLOOR = "dependency_injector_floor"


_NUMBER = 200_000
_ROUNDS = 7


def main() -> list[Row]:
    """Run benchmark 3 and return one row per piece."""
    container = RuntimeContainer.from_identity(EXAMPLE_IDENTITY, store_root=EXAMPLE_STORE)
    container.context()
    pieces = {name: getattr(container, name)() for name in PIECES}
    # The floor: dependency-injector's own compiled ThreadSafeSingleton, cached.
    floor = providers.ThreadSafeSingleton(object)
    pieces[_FLOOR] = floor()
    namespace = {"container": container, "pieces": pieces, "floor": floor}
    rows: list[Row] = []
    for name in (*PIECES, _FLOOR):
        statement = "floor()" if name == _FLOOR else f"container.{name}()"
        provider_timer = timeit.Timer(statement, globals=namespace, timer=time.process_time)
        dict_timer = timeit.Timer(f"pieces[{name!r}]", globals=namespace, timer=time.process_time)
        assert (floor() if name == _FLOOR else getattr(container, name)()) is pieces[name]
        provider_times: list[float] = []
        dict_times: list[float] = []
        for index in range(_ROUNDS):
            first, second = (
                (provider_timer, dict_timer) if index % 2 else (dict_timer, provider_timer)
            )
            a = first.timeit(_NUMBER) / _NUMBER
            b = second.timeit(_NUMBER) / _NUMBER
            p, d = (a, b) if first is provider_timer else (b, a)
            provider_times.append(p)
            dict_times.append(d)
        median, low, high = spread([p / d for p, d in zip(provider_times, dict_times, strict=True)])
        label = (
            "resolution floor: a plain cached ThreadSafeSingleton() / dict lookup"
            if name == _FLOOR
            else f"resolution: cached container.{name}() / dict lookup"
        )
        rows.append(
            Row(
                name=label,
                runtime=format_seconds(sorted(provider_times)[_ROUNDS // 2]),
                baseline=format_seconds(sorted(dict_times)[_ROUNDS // 2]),
                ratio=median,
                low=low,
                high=high,
                target=2.0,
            )
        )
    return rows
