"""Replacing a keyword dependency must not keep resolving the replaced one.

dependency-injector's ``add_kwargs`` appends: a replaced injection would
still be resolved on every build and its value discarded. ``Materialised``
replaces it instead (same arguments, no wasted work), which is what keeps
``RuntimeContainer.from_identity`` from reading ``RuntimeSettings``.
"""

from __future__ import annotations

from pathlib import Path

from dependency_injector import providers
from mxm.types import RuntimeIdentity

from mxm.runtime import RuntimeContainer, RuntimeSettings
from mxm.runtime._provider import Materialised

EXAMPLE_STORE = Path(__file__).resolve().parent.parent / "examples" / "config-store"
IDENTITY = RuntimeIdentity(
    app="mxm-moneymachine",
    environment="dev",
    machine="bridge",
    substrate="local-process",
    role="research",
)


def _pair(**kwargs: object) -> dict[str, object]:
    return dict(kwargs)


def test_add_kwargs_replaces_a_kwarg_without_resolving_the_old_one() -> None:
    calls: list[str] = []

    def old() -> str:
        calls.append("old")
        return "old"

    first = Materialised[int](lambda: 1)
    piece = Materialised[dict[str, object]](_pair, a=providers.Callable(old), b=first)
    piece.add_kwargs(a="new")
    assert piece() == {"a": "new", "b": 1}
    assert calls == []
    assert set(piece.kwargs) == {"a", "b"}


def test_add_kwargs_with_new_names_keeps_the_existing_ones() -> None:
    piece = Materialised[dict[str, object]](_pair, a=1)
    piece.add_kwargs(b=2)
    assert piece() == {"a": 1, "b": 2}


def test_replaced_dependency_still_propagates_overrides() -> None:
    source = Materialised[int](lambda: 1)
    piece = Materialised[dict[str, object]](_pair, a=0, b=source)
    piece.add_kwargs(a=5)
    assert piece() == {"a": 5, "b": 1}
    with source.override(2):
        assert piece() == {"a": 5, "b": 2}
    assert piece() == {"a": 5, "b": 1}


def test_from_identity_never_reads_settings() -> None:
    reads: list[int] = []

    def counting_settings() -> RuntimeSettings:
        reads.append(1)
        raise AssertionError("settings must not be read for an explicit identity")

    container = RuntimeContainer.from_identity(IDENTITY, store_root=EXAMPLE_STORE)
    container.settings.rebind(counting_settings)
    context = container.context()
    assert context.identity == IDENTITY
    assert reads == []
