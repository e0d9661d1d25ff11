"""RuntimeContainer: the wiring diagram of a runtime, and nothing else.

::

    settings ─┬─► identity ──┬─► config ─┬─► secrets ───┐
              └─► store_root ┘           ├─► db_configs ├─► context
                                         └─► paths ─────┤
                  identity ─────────────────► runtime ──┘

Every provider is a thread-safe singleton (:class:`Materialised`) whose
builder is a function from :mod:`mxm.runtime.materialise`,
:mod:`mxm.runtime.store` or :mod:`mxm.runtime.settings`. Overriding any
provider is seen by everything resolved after it that depends on it (cached
dependents are rebuilt), and leaving the override restores the original
objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dependency_injector import containers, providers
from mxm.config import MXMConfig
from mxm.secrets import SecretsApi
from mxm.types import RuntimeIdentity

from mxm.runtime._provider import Materialised
from mxm.runtime.context import RuntimeContext, RuntimeMetadata, RuntimePaths
from mxm.runtime.databases import DatabaseViews, EnginesProvider, EnginesResource
from mxm.runtime.discovery import RuntimeDiscovery, discover_runtime
from mxm.runtime.identity import validate_runtime_identity_shape
from mxm.runtime.materialise import (
    materialise_db_configs,
    materialise_metadata,
    materialise_paths,
    materialise_secrets,
)
from mxm.runtime.settings import (
    RuntimeSettings,
    identity_from_settings,
    max_yaml_nodes_from_settings,
    store_root_from_settings,
)
from mxm.runtime.store import default_store_root, load_runtime_config

__all__ = ["PROVIDER_NAMES", "RESOURCE_NAMES", "RuntimeContainer"]

PROVIDER_NAMES: tuple[str, ...] = (
    "settings",
    "identity",
    "store_root",
    "config",
    "secrets",
    "db_configs",
    "paths",
    "runtime",
    "context",
)
"""The providers of :class:`RuntimeContainer`, in dependency order."""

RESOURCE_NAMES: tuple[str, ...] = ("engines",)
"""Resource providers of :class:`RuntimeContainer` (created on first use,
released by ``container.shutdown_resources()``); not part of the context."""


def _constant(value: object) -> Any:
    def provide() -> object:
        return value

    provide.__qualname__ = f"constant({type(value).__name__})"
    return provide


_DeclarativeMeta: Any = type(containers.DeclarativeContainer)


class _RuntimeContainerMeta(_DeclarativeMeta):  # type: ignore[misc]
    """Lets ``isinstance(RuntimeContainer(), RuntimeContainer)`` hold.

    dependency-injector instantiates a declarative container as a
    ``DynamicContainer`` copy whose ``declarative_parent`` is the class.
    """

    def __instancecheck__(self, instance: object) -> bool:
        parent = getattr(instance, "declarative_parent", None)
        if isinstance(parent, type) and issubclass(parent, self):
            return True
        return type.__instancecheck__(self, instance)


class RuntimeContainer(containers.DeclarativeContainer, metaclass=_RuntimeContainerMeta):
    """Declarative dependency-injection container of one MXM runtime.

    ``RuntimeContainer()`` reads :class:`RuntimeSettings` (``MXM_*``, ``.env``)
    lazily, on first resolution; :meth:`from_identity` builds one for an
    explicit identity. Resolve ``container.context()`` or any piece.

    Errors are raised when a piece is first resolved: see
    :func:`mxm.runtime.build_runtime_context` for the list.
    """

    settings = Materialised[RuntimeSettings](RuntimeSettings)
    identity = Materialised[RuntimeIdentity](identity_from_settings, settings=settings)
    store_root = Materialised[Path](store_root_from_settings, settings=settings)
    config = Materialised[MXMConfig](
        load_runtime_config,
        identity=identity,
        store_root=store_root,
        max_yaml_nodes=providers.Callable(max_yaml_nodes_from_settings, settings.provider),
    )
    secrets = Materialised[SecretsApi](
        materialise_secrets, config, identity=identity, store_root=store_root
    )
    db_configs = Materialised[DatabaseViews](
        materialise_db_configs, config, identity=identity, store_root=store_root
    )
    paths = Materialised[RuntimePaths](
        materialise_paths, config, identity=identity, store_root=store_root
    )
    runtime = Materialised[RuntimeMetadata](
        materialise_metadata, identity, Materialised[RuntimeDiscovery](discover_runtime)
    )
    context = Materialised[RuntimeContext](
        RuntimeContext,
        identity=identity,
        config=config,
        secrets=secrets,
        db_configs=db_configs,
        paths=paths,
        runtime=runtime,
    )
    # One SQLAlchemy engine per database view, created on first use (needs the
    # ``sqlalchemy`` extra then) and disposed by ``shutdown_resources()``.
    engines = EnginesProvider(
        EnginesResource, db_configs, secrets, identity
    )

    @classmethod
    def from_identity(
        cls,
        identity: RuntimeIdentity,
        *,
        store_root: Path | None = None,
        max_yaml_nodes: int | None = None,
    ) -> RuntimeContainer:
        """Return a container for an explicit identity (settings are not read).

        Parameters
        ----------
        identity:
            The identity to build for; validated now.
        store_root:
            Configuration store root; ``~/mxm-config-store`` when omitted.
        max_yaml_nodes:
            YAML nodes allowed per store file (default: OmegaConf's 10,000);
            raise it only for a trusted store (see
            :func:`mxm.runtime.store.load_runtime_config`).

        Raises
        ------
        RuntimeIdentityError
            If the identity is invalid.
        """
        validate_runtime_identity_shape(identity)
        root = store_root.expanduser() if store_root is not None else default_store_root()
        container = cls()
        container.identity.rebind(_constant(identity))
        container.store_root.rebind(_constant(root))
        container.config.add_kwargs(max_yaml_nodes=max_yaml_nodes)
        return container
