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

from mxm.config import MXMConfig, make_view, to_config_data
from mxm.runtime.context import RuntimeMetadata, RuntimePaths
from mxm.runtime.errors import ConfigSectionError, ConfigValueError, SecretsConfigError
from mxm.secrets import SecretsApi
from mxm.types import RuntimeIdentity

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

_HOST_SUBSTRATES = frozenset({"local-process", "wsl"})


def _where(identity: RuntimeIdentity | None, store_root: Path | None) -> Path | None:
    if identity is None or store_root is None:
        return None
    return store_root.expanduser() / "apps" / identity.app / "default.yaml"


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
            identity=identity,
            store_root=store_root,
            file=_where(identity, store_root),
            hint=f"add a '{name}:' mapping to default.yaml or a layer file of the app",
        ) from None
    except TypeError:
        raise ConfigValueError(
            f"Configuration section {name!r} must be a mapping",
            key=name,
            identity=identity,
            store_root=store_root,
            file=_where(identity, store_root),
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
            identity=identity,
            store_root=store_root,
            file=_where(identity, store_root),
            hint="mxm_secrets needs mappings 'stores', 'refs' and 'policies' (see the README)",
        ) from None
    except ValueError as exc:
        raise SecretsConfigError(
            f"mxm_secrets is invalid: {exc}",
            key="mxm_secrets",
            identity=identity,
            store_root=store_root,
            file=_where(identity, store_root),
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
                identity=identity,
                store_root=store_root,
                file=_where(identity, store_root),
                hint=f"add '{key}: <directory>' under mxm_paths",
            )
        value = data[key]
        if not isinstance(value, str):
            raise ConfigValueError(
                f"Expected {full_key!r} to be a string, got {type(value).__name__}",
                key=full_key,
                identity=identity,
                store_root=store_root,
                file=_where(identity, store_root),
                hint=f"set {full_key} to a directory path string",
            )
        if not value.strip():
            raise ConfigValueError(
                f"Expected {full_key!r} to be a non-empty path",
                key=full_key,
                identity=identity,
                store_root=store_root,
                file=_where(identity, store_root),
                hint=f"set {full_key} to a directory path string",
            )
        values[key] = Path(value).expanduser()
    return RuntimePaths(**values)


def materialise_db_configs(
    config: MXMConfig,
    *,
    identity: RuntimeIdentity | None = None,
    store_root: Path | None = None,
) -> MXMConfig:
    """Return the read-only ``mxm_databases`` view (attribute and item access).

    Raises
    ------
    ConfigSectionError
        (``KeyError``) ``mxm_databases`` is missing.
    ConfigValueError
        (``TypeError``) it is not a mapping.
    """
    return config_section(config, "mxm_databases", identity=identity, store_root=store_root)


def materialise_metadata(identity: RuntimeIdentity) -> RuntimeMetadata:
    """Describe the substrate this identity runs on."""
    return RuntimeMetadata(
        substrate=identity.substrate,
        is_container=identity.substrate not in _HOST_SUBSTRATES,
    )

