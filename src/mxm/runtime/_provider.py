"""The provider type behind every piece of :class:`RuntimeContainer`.

``Materialised`` is a thread-safe singleton that keeps dependency-injector's
native fast path (a cached piece is returned by the compiled
``ThreadSafeSingleton``) and adds the two properties a runtime needs:

* **Override propagation.** Overriding a piece (``provider.override``,
  ``container.override_providers``, constructor keyword arguments, or
  ``container.override``) drops the cached instances of every piece that
  depends on it, transitively, so they are rebuilt from the override on next
  use, even if they were resolved before. Leaving the override drops them
  again.
* **Restoration.** Each piece memoises its builder by the identity of its
  inputs, so after an override ends the rebuild finds the original inputs and
  returns the *original objects*, not equal copies.

All builds and all override changes take one process-wide re-entrant lock, so
a context is always built from one consistent set of pieces (no torn context
while another thread overrides) and concurrent first resolutions build once.
A builder that raises caches nothing.
"""

from __future__ import annotations

import copy
import importlib
import importlib.abc
import sys
import threading
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any, TypeVar

_DEFERRED_TOP_LEVEL = frozenset({"fastapi", "starlette"})
"""Web frameworks dependency-injector's wiring imports eagerly when installed."""


class _DeferWebFrameworks(importlib.abc.MetaPathFinder):
    """Refuses FastAPI/Starlette while dependency-injector's wiring is first imported.

    Only imports made by the thread that installed the finder are refused, so
    another thread importing FastAPI at that moment is not affected.
    """

    def __init__(self, refused: frozenset[str]) -> None:
        self.refused = refused
        self.owner = threading.get_ident()

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if threading.get_ident() != self.owner:
            return None
        if fullname.partition(".")[0] in self.refused:
            raise ModuleNotFoundError(f"{fullname} is deferred", name=fullname)
        return None


def _fastapi_depends_marker(param: Any) -> Any:
    """dependency-injector's FastAPI marker extractor, without importing FastAPI."""
    params = sys.modules.get("fastapi.params")
    if params is not None and isinstance(param, params.Depends):
        return param.dependency
    return None


def _is_starlette_request_cls(obj: Any) -> bool:
    """dependency-injector's Starlette ``Request`` filter, without importing Starlette."""
    requests = sys.modules.get("starlette.requests")
    if requests is None or not isinstance(obj, type):
        return False
    try:
        return issubclass(obj, requests.Request)
    except TypeError:
        return False


def _import_wiring_lightly() -> None:
    """Import ``dependency_injector.wiring`` without importing FastAPI or Starlette.

    The wiring module (imported by ``dependency_injector.containers``) imports
    FastAPI and Starlette at import time whenever they are installed, only to
    recognise ``Depends(...)`` markers and Starlette ``Request`` classes. That
    costs ~0.2 s of every cold start and breaks the rule that
    ``import mxm.runtime`` imports no optional integration. Here the wiring
    module is imported once with those imports refused, and equivalent checks
    that look the frameworks up in ``sys.modules`` when called (an object can
    only be a FastAPI marker once FastAPI is imported) are registered in their
    place, so wiring behaves exactly as before. Nothing happens when the
    wiring module or the frameworks are already imported.
    """
    if "dependency_injector.wiring" in sys.modules:
        return
    deferred = frozenset(name for name in _DEFERRED_TOP_LEVEL if name not in sys.modules)
    if not deferred:
        return
    finder = _DeferWebFrameworks(deferred)
    sys.meta_path.insert(0, finder)
    try:
        from dependency_injector import wiring
    finally:
        sys.meta_path.remove(finder)
    if not (
        hasattr(wiring, "MARKER_EXTRACTORS") and hasattr(wiring, "INSPECT_EXCLUSION_FILTERS")
    ):
        # A dependency-injector without these hooks: import its wiring as it
        # is (with the frameworks) rather than lose FastAPI support.
        del sys.modules["dependency_injector.wiring"]
        import dependency_injector

        delattr(dependency_injector, "wiring")
        importlib.import_module("dependency_injector.wiring")
        return
    if "fastapi" in deferred:
        wiring.MARKER_EXTRACTORS.append(_fastapi_depends_marker)
    if "starlette" in deferred:
        wiring.INSPECT_EXCLUSION_FILTERS.append(_is_starlette_request_cls)


_import_wiring_lightly()

from dependency_injector import providers  # noqa: E402

__all__ = ["BUILD_LOCK", "Materialised"]

T = TypeVar("T")

BUILD_LOCK = threading.RLock()
"""Serialises builds and override changes of every runtime piece."""

_MEMO_LIMIT = 8


class _Memo[T]:
    """A builder memoised by the identity of its inputs (one per provider)."""

    __slots__ = ("builder", "entries")

    def __init__(self, builder: Callable[..., T]) -> None:
        self.builder = builder
        self.entries: dict[tuple[int, ...], tuple[tuple[Any, ...], T]] = {}

    def __call__(self, *args: Any, **kwargs: Any) -> T:
        inputs = (*args, *kwargs.values())
        key = tuple(id(value) for value in inputs)
        hit = self.entries.get(key)
        if hit is not None:
            return hit[1]
        value = self.builder(*args, **kwargs)
        if len(self.entries) >= _MEMO_LIMIT:
            # Keep the first (original) entry; forget the oldest override.
            oldest_override = next(iter(list(self.entries)[1:]), None)
            if oldest_override is not None:
                del self.entries[oldest_override]
        # Holding the inputs keeps their ids unique while the entry lives.
        self.entries[key] = (inputs, value)
        return value

    def __repr__(self) -> str:
        name = getattr(self.builder, "__qualname__", None) or repr(self.builder)
        return f"<memoised {name}>"


class Materialised(providers.ThreadSafeSingleton[T]):
    """Thread-safe singleton whose overrides reach its dependents.

    Parameters
    ----------
    builder:
        Pure function building the piece from the resolved dependencies.
    *args, **kwargs:
        Dependencies: providers (resolved on build) or plain values.
    """

    storage_lock = BUILD_LOCK

    def __init__(self, builder: Callable[..., T] | None = None, *args: Any, **kwargs: Any) -> None:
        self._dependents: list[Materialised[Any]] = []
        self._memo: _Memo[T] | None = _Memo(builder) if builder is not None else None
        super().__init__(self._memo, *args, **kwargs)

    @property
    def builder(self) -> Callable[..., T] | None:
        """The function that builds this piece."""
        return self._memo.builder if self._memo is not None else None

    def rebind(self, builder: Callable[..., T], *args: Any, **kwargs: Any) -> None:
        """Replace the builder and dependencies, dropping what was built."""
        with BUILD_LOCK:
            self._memo = _Memo(builder)
            self.set_provides(self._memo)
            self.set_args(*args)
            self.set_kwargs(**kwargs)
            self._drop()

    # -- dependency bookkeeping --------------------------------------------

    def _register(self, values: tuple[Any, ...]) -> None:
        for value in values:
            if isinstance(value, Materialised) and self not in value._dependents:
                value._dependents.append(self)

    def set_args(self, *args: Any) -> Materialised[T]:
        super().set_args(*args)
        self._register(args)
        return self

    def add_args(self, *args: Any) -> Materialised[T]:
        super().add_args(*args)
        self._register(args)
        return self

    def set_kwargs(self, **kwargs: Any) -> Materialised[T]:
        super().set_kwargs(**kwargs)
        self._register(tuple(kwargs.values()))
        return self

    def add_kwargs(self, **kwargs: Any) -> Materialised[T]:
        current: dict[str, Any] = self.kwargs
        if current.keys() & kwargs.keys():
            # dependency-injector would keep the old injection and still
            # resolve it on every build, only to discard its value (the last
            # one wins); replace it instead: same arguments, no wasted work.
            return self.set_kwargs(**{**current, **kwargs})
        super().add_kwargs(**kwargs)
        self._register(tuple(kwargs.values()))
        return self

    @property
    def dependents(self) -> tuple[Materialised[Any], ...]:
        """Pieces built directly from this one."""
        return tuple(self._dependents)

    def _drop(self) -> None:
        """Forget the cached instance here and in every dependent (memo kept)."""
        # Each piece once, even when reachable by several paths (the context
        # depends on the identity directly and through four other pieces).
        seen: set[int] = set()
        pending: list[Materialised[Any]] = [self]
        while pending:
            piece = pending.pop()
            if id(piece) in seen:
                continue
            seen.add(id(piece))
            providers.ThreadSafeSingleton.reset(piece)  # pyright: ignore[reportUnknownMemberType]
            pending.extend(piece._dependents)

    # -- overriding ---------------------------------------------------------

    def override(self, provider: Any) -> Any:
        with BUILD_LOCK:
            context: Any = super().override(provider)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            for dependent in self._dependents:
                dependent._drop()
        return context

    def reset_last_overriding(self) -> None:
        with BUILD_LOCK:
            super().reset_last_overriding()
            for dependent in self._dependents:
                dependent._drop()

    def reset_override(self) -> None:
        with BUILD_LOCK:
            super().reset_override()
            for dependent in self._dependents:
                dependent._drop()

    def reset(self) -> Any:
        """Forget this piece entirely (memo included) and drop its dependents."""
        with BUILD_LOCK:
            if self._memo is not None:
                self._memo.entries.clear()
            self._drop()
            return providers.SingletonResetContext(self)

    # -- copying (container instantiation deep-copies its providers) ---------

    def __deepcopy__(self, memo: dict[Any, Any] | None) -> Materialised[T]:
        memo = {} if memo is None else memo
        copied = memo.get(id(self))
        if copied is not None:
            return copied  # type: ignore[no-any-return]
        copied = type(self)(self.builder)
        memo[id(self)] = copied
        # Copy each dependency on its own (a provider already copied is taken
        # from the memo) rather than deep-copying the whole tuple and dict:
        # same result, a fraction of the cost of container instantiation.
        args = tuple(_copy_dependency(value, memo) for value in self.args)
        kwargs = {name: _copy_dependency(value, memo) for name, value in self.kwargs.items()}
        if args:
            copied.set_args(*args)
        if kwargs:
            copied.set_kwargs(**kwargs)
        # Nothing to copy for a provider neither overridden nor overriding.
        if _has_overridings(self):
            self._copy_overridings(copied, memo)  # pyright: ignore[reportUnknownMemberType]
        return copied


def _has_overridings(provider: Any) -> bool:
    return bool(provider.overridden or provider.last_overriding is not None or provider.overrides)


def _copy_dependency(value: object, memo: dict[Any, Any]) -> object:
    """Deep-copy one dependency, reusing a provider copied before."""
    if providers.is_provider(value):
        copied: object = memo.get(id(value))
        if copied is not None:
            return copied
    return copy.deepcopy(value, memo)
