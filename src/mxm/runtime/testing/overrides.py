"""Overriding pieces of a :class:`~mxm.runtime.RuntimeContainer` for one block.

:func:`override_runtime` is the test idiom of dependency injection: replace a
provider (the secrets, the paths, the configuration, ...) with a value or
another provider for the duration of a ``with`` block, work with the context
that results, and get the original container back afterwards, whatever
happens inside the block. Because every provider of the container propagates
its overrides to the pieces built from it, overriding ``config`` also changes
``paths``, ``db_configs`` and ``secrets``, and overriding ``paths`` changes
``context``.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import ExitStack, contextmanager
from typing import Any

from dependency_injector import providers

from mxm.runtime._provider import BUILD_LOCK
from mxm.runtime.container import PROVIDER_NAMES, RESOURCE_NAMES, RuntimeContainer
from mxm.runtime.context import RuntimeContext

__all__ = ["as_provider", "override_runtime"]


def as_provider(value: object) -> providers.Provider[Any]:
    """Return ``value`` as a provider: providers unchanged, anything else as a constant.

    Parameters
    ----------
    value:
        A dependency-injector provider, or the object the provider must
        return.
    """
    if isinstance(value, providers.Provider):
        return value  # pyright: ignore[reportUnknownVariableType]
    return providers.Object(value)


@contextmanager
def override_runtime(container: RuntimeContainer, **overrides: object) -> Generator[RuntimeContext]:
    """Override providers of ``container`` and yield the resulting context.

    ::

        with override_runtime(container, secrets=StaticSecretsApi.from_config_data(...),
                              paths=RuntimePaths(...)) as context:
            run_report(context)

    Each keyword names a provider (``settings``, ``identity``, ``store_root``,
    ``config``, ``secrets``, ``db_configs``, ``paths``, ``runtime``,
    ``context``, and the resource ``engines``) and gives either a value (provided as is) or a
    dependency-injector provider (called on each resolution). Dependents see
    the overrides; on exit, normal or by exception, exactly these overrides
    are removed (overrides made before the block stay), and the pieces
    resolved before the block come back as the same objects.

    Parameters
    ----------
    container:
        The container to override (an instance, e.g. from
        :meth:`RuntimeContainer.from_identity`).
    **overrides:
        Provider name to value or provider.

    Yields
    ------
    RuntimeContext
        ``container.context()`` with the overrides applied.

    Raises
    ------
    TypeError
        A keyword is not a provider name of ``container`` (nothing is
        overridden then).
    MXMRuntimeError
        Building the context fails (the overrides are removed again); the
        subclasses are listed in :func:`mxm.runtime.build_runtime_context`.
    """
    names = (*PROVIDER_NAMES, *RESOURCE_NAMES)
    unknown = sorted(name for name in overrides if name not in names)
    if unknown:
        raise TypeError(
            f"override_runtime() got unknown provider name(s) {', '.join(map(repr, unknown))}; "
            f"RuntimeContainer providers are {', '.join(names)}"
        )
    with ExitStack() as stack:
        with BUILD_LOCK:
            # Dependency order, so the whole set is in place before any rebuild.
            for name in names:
                if name not in overrides:
                    continue
                provider: providers.Provider[Any] = getattr(container, name)
                provider.override(as_provider(overrides[name]))  # pyright: ignore[reportUnknownMemberType]
                stack.callback(provider.reset_last_overriding)
        yield container.context()
