"""pytest plugin of mxm-runtime: a real runtime per test, built on ``tmp_path``.

Registered through the ``pytest11`` entry point ``mxm_runtime``, so every
project that installs mxm-runtime has these fixtures (all function-scoped;
nothing is shared between tests, nothing is autouse):

``mxm_identity``
    The fixed :class:`~mxm.runtime.RuntimeIdentity` of the test runtime:
    app ``mxm-test-app``, environment ``test``, machine ``test-machine``,
    substrate ``local-process``, role ``app``. Machine and substrate are never
    discovered from the test host. Override the fixture to change it.
``mxm_config_layers``
    The layers written to the store: ``{"default":
    minimal_runtime_config(tmp_path / "runtime")}``. Override the fixture to
    change the configuration for a module or a test.
``mxm_secret_values``
    Secret name to value, answered by the container's
    :class:`~mxm.runtime.testing.StaticSecretsApi` (empty by default).
``mxm_store_factory``
    A :class:`ConfigStoreFactory`: ``mxm_store_factory(layers, app=...)``
    writes a fresh store under ``tmp_path`` and returns its root.
``mxm_store_root``
    The store written from ``mxm_config_layers`` for ``mxm_identity.app``.
``mxm_container``
    ``RuntimeContainer.from_identity(mxm_identity, store_root=mxm_store_root)``
    with ``secrets`` answered by a ``StaticSecretsApi`` built from the
    store's ``mxm_secrets`` and ``mxm_secret_values`` (so no test reaches
    gopass by accident), and ``runtime`` metadata computed from the identity
    only (the host is not probed). Every override made on it is removed and
    its resources (database engines) are shut down at teardown.
``mxm_context``
    ``mxm_container.context()``.
``mxm_secrets``
    The container's ``StaticSecretsApi`` (to inspect ``requests``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from mxm.config import MXMConfig
from mxm.types import RuntimeIdentity

from mxm.runtime.container import PROVIDER_NAMES, RESOURCE_NAMES, RuntimeContainer
from mxm.runtime.context import RuntimeContext
from mxm.runtime.materialise import materialise_metadata
from mxm.runtime.testing.gopass import gopass_store as gopass_store  # real gopass fixtures
from mxm.runtime.testing.gopass import gpg_test_key as gpg_test_key
from mxm.runtime.testing.secrets import StaticSecretsApi, static_secrets_from_config
from mxm.runtime.testing.store import TEST_PRINCIPAL, minimal_runtime_config, write_config_store

__all__ = [
    "TEST_APP",
    "TEST_IDENTITY",
    "ConfigStoreFactory",
    "mxm_config_layers",
    "mxm_container",
    "mxm_context",
    "mxm_identity",
    "mxm_secret_values",
    "mxm_secrets",
    "mxm_store_factory",
    "mxm_store_root",
    "prepare_test_container",
]

TEST_APP = "mxm-test-app"
"""App name of :data:`TEST_IDENTITY`."""

TEST_IDENTITY = RuntimeIdentity(
    app=TEST_APP,
    environment="test",
    machine="test-machine",
    substrate="local-process",
    role=TEST_PRINCIPAL,
)
"""The identity the ``mxm_identity`` fixture returns."""


class ConfigStoreFactory:
    """Writes fresh configuration stores under one directory.

    Each call writes a new store (``<base>/store-1``, ``<base>/store-2``, ...)
    with :func:`~mxm.runtime.testing.write_config_store` and returns its root.
    """

    def __init__(self, base: Path, default_app: str = TEST_APP) -> None:
        self.base = base
        self.default_app = default_app
        self.roots: list[Path] = []

    def __call__(
        self,
        layers: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        app: str | None = None,
    ) -> Path:
        """Write a store and return its root.

        Parameters
        ----------
        layers:
            As for :func:`~mxm.runtime.testing.write_config_store`; by default
            ``{"default": minimal_runtime_config(<base>/runtime)}``.
        app:
            Application name; the factory's default app when omitted.

        Raises
        ------
        ValueError, TypeError
            As :func:`~mxm.runtime.testing.write_config_store`.
        """
        if layers is None:
            layers = {"default": minimal_runtime_config(self.base / "runtime")}
        root = self.base / f"store-{len(self.roots) + 1}"
        write_config_store(root, app if app is not None else self.default_app, layers)
        self.roots.append(root)
        return root


def _static_secrets(config: MXMConfig, values: Mapping[str, str]) -> StaticSecretsApi:
    return static_secrets_from_config(config, values)


def prepare_test_container(
    container: RuntimeContainer, secret_values: Mapping[str, str]
) -> RuntimeContainer:
    """Make ``container`` hermetic: static secrets, metadata from the identity.

    ``secrets`` becomes a :class:`StaticSecretsApi` over the configuration's
    ``mxm_secrets`` with ``secret_values``; ``runtime`` is computed from the
    identity without probing the host. Both are rebinds, not overrides, so
    :func:`~mxm.runtime.testing.override_runtime` still works on top.

    Returns
    -------
    RuntimeContainer
        The same container.
    """
    values = dict(secret_values)
    container.secrets.rebind(_static_secrets, container.config, values)
    container.runtime.rebind(materialise_metadata, container.identity)
    return container


@pytest.fixture
def mxm_identity() -> RuntimeIdentity:
    """The fixed identity of the test runtime (override to change)."""
    return TEST_IDENTITY


@pytest.fixture
def mxm_config_layers(tmp_path: Path) -> dict[str, Any]:
    """Layers of the test store (override to change the configuration)."""
    return {"default": minimal_runtime_config(tmp_path / "runtime")}


@pytest.fixture
def mxm_secret_values() -> dict[str, str]:
    """Secret name to value for the test runtime's StaticSecretsApi."""
    return {}


@pytest.fixture
def mxm_store_factory(tmp_path: Path, mxm_identity: RuntimeIdentity) -> ConfigStoreFactory:
    """Factory writing fresh stores under ``tmp_path``."""
    return ConfigStoreFactory(tmp_path / "mxm-config-stores", default_app=mxm_identity.app)


@pytest.fixture
def mxm_store_root(
    mxm_store_factory: ConfigStoreFactory, mxm_config_layers: Mapping[str, Mapping[str, Any]]
) -> Path:
    """Root of the store written from ``mxm_config_layers``."""
    return mxm_store_factory(mxm_config_layers)


@pytest.fixture
def mxm_container(
    mxm_identity: RuntimeIdentity,
    mxm_store_root: Path,
    mxm_secret_values: Mapping[str, str],
) -> Iterator[RuntimeContainer]:
    """A fresh RuntimeContainer for this test; overrides are removed at teardown."""
    container = RuntimeContainer.from_identity(mxm_identity, store_root=mxm_store_root)
    prepare_test_container(container, mxm_secret_values)
    yield container
    for name in (*reversed(PROVIDER_NAMES), *RESOURCE_NAMES):
        getattr(container, name).reset_override()
    container.shutdown_resources()
    container.unwire()


@pytest.fixture
def mxm_context(mxm_container: RuntimeContainer) -> RuntimeContext:
    """The test runtime's context."""
    return mxm_container.context()


@pytest.fixture
def mxm_secrets(mxm_container: RuntimeContainer) -> StaticSecretsApi:
    """The test runtime's StaticSecretsApi (inspect ``requests``)."""
    secrets = mxm_container.secrets()
    if not isinstance(secrets, StaticSecretsApi):
        raise TypeError(
            "mxm_container.secrets is overridden with a "
            f"{type(secrets).__name__}; mxm_secrets needs the StaticSecretsApi"
        )
    return secrets
