"""Pure materialisers: configuration in, runtime pieces out.

Each function takes the merged configuration (already resolved by
mxm-config's ``load_config``; nothing is re-resolved here) and returns one
piece of the :class:`~mxm.runtime.context.RuntimeContext`. They read no
files and no environment, so they are tested on their own and wired by
:class:`~mxm.runtime.container.RuntimeContainer`.

``identity`` and ``store_root`` arguments are used only to make error
messages say which runtime and which store the bad configuration belongs to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mxm.config import MXMConfig, make_view, to_config_data
from mxm.secrets import SecretsApi
from mxm.types import RuntimeIdentity

from mxm.runtime.context import RuntimeMetadata, RuntimePaths
from mxm.runtime.databases import DatabaseViews, parse_database_views
from mxm.runtime.discovery import CONTAINER_SUBSTRATES, HOST_SUBSTRATES, RuntimeDiscovery
from mxm.runtime.errors import ConfigSectionError, ConfigValueError, SecretsConfigError

__all__ = [
    "PATH_KEYS",
    "config_section",
    "materialise_db_configs",
    "materialise_metadata",
    "materialise_paths",
    "materialise_secrets",
]

PATH_KEYS: tuple[str, ...] = ("data_root", "artifact_root", "export_root", "log_root")
"""The four required keys of ``mxm_paths``."""

def _origin(identity: RuntimeIdentity | None, store_root: Path | None) -> dict[str, Any]:
    """Error fields naming the runtime, the store and the app's default.yaml."""
    where = None
    if identity is not None and store_root is not None:
        where = store_root.expanduser() / "apps" / identity.app / "default.yaml"
    return {"identity": identity, "store_root": store_root, "file": where}


def config_section(
    config: MXMConfig,
    name: str,
    *,
    identity: RuntimeIdentity | None = None,
    store_root: Path | None = None,
) -> MXMConfig:
    """Return the read-only view of one top-level section.

    Raises
    ------
    ConfigSectionError
        (``KeyError``) the section is absent (or null).
    ConfigValueError
        (``TypeError``) the section is not a mapping.
    """
    try:
        return make_view(config, name, readonly=True, resolve=False)
    except KeyError:
        raise ConfigSectionError(
            f"Required configuration section {name!r} is missing",
            key=name,
            **_origin(identity, store_root),
            hint=f"add a '{name}:' mapping to default.yaml or a layer file of the app",
        ) from None
    except TypeError:
        raise ConfigValueError(
            f"Configuration section {name!r} must be a mapping",
            key=name,
            **_origin(identity, store_root),
            hint=f"make '{name}:' a YAML mapping of keys to values",
        ) from None


def materialise_secrets(
    config: MXMConfig,
    *,
    identity: RuntimeIdentity | None = None,
    store_root: Path | None = None,
) -> SecretsApi:
    """Build the configured SecretsApi from the ``mxm_secrets`` section.

    Raises
    ------
    ConfigSectionError
        (``KeyError``) ``mxm_secrets`` is missing.
    ConfigValueError
        (``TypeError``) the section or one of its entries has the wrong shape.
    SecretsConfigError
        (``ValueError``) mxm-secrets rejects a store, reference or policy.
    """
    view = config_section(config, "mxm_secrets", identity=identity, store_root=store_root)
    data = to_config_data(view)
    try:
        return SecretsApi.from_config_data(data)
    except TypeError as exc:
        raise ConfigValueError(
            f"mxm_secrets has the wrong shape: {exc}",
            key="mxm_secrets",
            **_origin(identity, store_root),
            hint="mxm_secrets needs mappings 'stores', 'refs' and 'policies' (see the README)",
        ) from None
    except ValueError as exc:
        raise SecretsConfigError(
            f"mxm_secrets is invalid: {exc}",
            key="mxm_secrets",
            **_origin(identity, store_root),
            hint=(
                "store, ref, policy and principal names must match ^[a-z][a-z0-9_]*$; "
                "names must be unique; paths relative and non-empty"
            ),
        ) from None


def materialise_paths(
    config: MXMConfig,
    *,
    identity: RuntimeIdentity | None = None,
    store_root: Path | None = None,
) -> RuntimePaths:
    """Build :class:`RuntimePaths` from ``mxm_paths`` (``~`` expanded).

    Raises
    ------
    ConfigSectionError
        (``KeyError``) ``mxm_paths`` or one of its four keys is missing; the
        message names it, e.g. ``mxm_paths.log_root``.
    ConfigValueError
        (``TypeError``) a path is not a string.
    """
    view = config_section(config, "mxm_paths", identity=identity, store_root=store_root)
    data = to_config_data(view)
    values: dict[str, Path] = {}
    for key in PATH_KEYS:
        full_key = f"mxm_paths.{key}"
        if key not in data or data[key] is None:
            raise ConfigSectionError(
                f"Required configuration key {full_key!r} is missing",
                key=full_key,
                **_origin(identity, store_root),
                hint=f"add '{key}: <directory>' under mxm_paths",
            )
        value = data[key]
        if not isinstance(value, str):
            raise ConfigValueError(
                f"Expected {full_key!r} to be a string, got {type(value).__name__}",
                key=full_key,
                **_origin(identity, store_root),
                hint=f"set {full_key} to a directory path string",
            )
        if not value.strip():
            raise ConfigValueError(
                f"Expected {full_key!r} to be a non-empty path",
                key=full_key,
                **_origin(identity, store_root),
                hint=f"set {full_key} to a directory path string",
            )
        values[key] = Path(value).expanduser()
    return RuntimePaths(**values)


def materialise_db_configs(
    config: MXMConfig,
    *,
    identity: RuntimeIdentity | None = None,
    store_root: Path | None = None,
) -> DatabaseViews:
    """Validate ``mxm_databases`` and return its typed, read-only views.

    The result keeps 0.1.2 attribute and item access
    (``views.operational_state.host``, ``views["operational_state"]["host"]``);
    ``views.source`` is the untyped read-only view. See
    :mod:`mxm.runtime.databases`.

    Raises
    ------
    ConfigSectionError
        (``KeyError``) ``mxm_databases`` or a required key of an entry is
        missing (named, e.g. ``mxm_databases.operational_state.host``), or a
        ``password_ref`` names no entry of ``mxm_secrets.refs``.
    ConfigValueError
        (``TypeError``) a section or value has the wrong type (a non-integer
        ``port``) or a driver is unknown.
    """
    return parse_database_views(config, identity=identity, store_root=store_root)


def materialise_metadata(
    identity: RuntimeIdentity, discovery: RuntimeDiscovery | None = None
) -> RuntimeMetadata:
    """Describe the process and the substrate this identity runs on.

    Pure: the discovery result is an input (``RuntimeContainer`` passes
    :func:`mxm.runtime.discovery.discover_runtime`'s result).

    Parameters
    ----------
    identity:
        The runtime identity; ``substrate`` is its declared substrate.
    discovery:
        What discovery found, with evidence; ``None`` gives the 0.1.2 shape
        (substrate and is_container only).

    Returns
    -------
    RuntimeMetadata
        ``is_container`` follows the declared substrate when it is a known
        identifier, else what discovery found.

    Raises
    ------
    Nothing
    """
    substrate = identity.substrate
    if substrate in CONTAINER_SUBSTRATES or substrate in HOST_SUBSTRATES:
        is_container = substrate in CONTAINER_SUBSTRATES
    elif discovery is not None:
        is_container = discovery.substrate.is_container
    else:
        is_container = substrate not in HOST_SUBSTRATES
    if discovery is None:
        return RuntimeMetadata(substrate=substrate, is_container=is_container)
    return RuntimeMetadata(
        substrate=substrate,
        is_container=is_container,
        hostname=discovery.hostname,
        pid=discovery.pid,
        python_version=discovery.python_version,
        platform=discovery.platform,
        discovered_substrate=discovery.substrate.substrate,
        evidence=discovery,
        ci=discovery.ci,
        orchestrators=discovery.orchestrators,
    )
