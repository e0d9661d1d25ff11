"""Writing throwaway configuration stores for tests.

A test that needs a runtime needs a store on disk, because the runtime reads
its configuration through mxm-config exactly as in production. These helpers
write one from plain mappings:

* :func:`minimal_runtime_config` returns the smallest valid ``default.yaml``
  (the three sections the runtime materialises: ``mxm_paths``,
  ``mxm_secrets``, ``mxm_databases``), deep-merged with whatever a test
  changes, so a store with one changed value is one line;
* :func:`write_config_store` writes ``<root>/apps/<app>/<layer>.yaml`` files
  and returns the store root, ready for
  :meth:`mxm.runtime.RuntimeContainer.from_identity`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeGuard, cast

import yaml

from mxm.runtime.identity import identity_field_problem
from mxm.runtime.store import LAYER_NAMES, app_root

__all__ = [
    "TEST_DATABASE",
    "TEST_PRINCIPAL",
    "TEST_SECRET",
    "deep_merge",
    "minimal_runtime_config",
    "write_config_store",
]

TEST_SECRET = "database_password"
"""The one secret name :func:`minimal_runtime_config` declares."""

TEST_DATABASE = "main"
"""The one database :func:`minimal_runtime_config` declares (its password is
:data:`TEST_SECRET`)."""

TEST_PRINCIPAL = "app"
"""The principal (identity role) the minimal configuration's policy allows."""

_DEFAULT_PATHS_ROOT = Path(tempfile.gettempdir()) / "mxm-runtime-test"


def _plain(value: object, where: str) -> Any:
    """Return ``value`` as YAML-safe plain data (``Path`` becomes ``str``)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in cast(Mapping[object, object], value).items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: keys must be strings, got {type(key).__name__}")
            result[key] = _plain(item, f"{where}.{key}")
        return result
    if isinstance(value, list | tuple):
        items = cast(list[object] | tuple[object, ...], value)
        return [_plain(item, f"{where}[{index}]") for index, item in enumerate(items)]
    raise TypeError(
        f"{where}: cannot write a {type(value).__name__} to YAML "
        "(use mappings, lists, str, int, float, bool, None or Path)"
    )


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return a new mapping: ``base`` with ``override`` merged in recursively.

    Mappings are merged key by key; any other value in ``override`` (lists
    included) replaces the one in ``base``. Neither argument is modified.

    Parameters
    ----------
    base:
        The mapping to start from.
    override:
        The values to change or add.

    Returns
    -------
    dict[str, Any]
        A fresh, independent mapping (nested mappings are copied).
    """
    merged: dict[str, Any] = {}
    for key, value in base.items():
        merged[key] = deep_merge(value, {}) if _is_mapping(value) else value
    for key, value in override.items():
        current: object = merged.get(key)
        if _is_mapping(current) and _is_mapping(value):
            merged[key] = deep_merge(current, value)
        elif _is_mapping(value):
            merged[key] = deep_merge(value, {})
        else:
            merged[key] = value
    return merged


def _is_mapping(value: object) -> TypeGuard[Mapping[str, Any]]:
    return isinstance(value, Mapping)


def minimal_runtime_config(
    paths_root: Path | str = _DEFAULT_PATHS_ROOT, /, **sections: Any
) -> dict[str, Any]:
    """Return the smallest valid runtime configuration, with changes merged in.

    The result has the three sections the runtime materialises:

    * ``mxm_paths``: ``data_root``, ``artifact_root``, ``export_root`` and
      ``log_root`` under ``paths_root`` (``data``, ``artifacts``, ``exports``,
      ``logs``);
    * ``mxm_secrets``: one gopass store ``vault``, one secret
      :data:`TEST_SECRET` (``database_password``) whose policy allows the
      principal :data:`TEST_PRINCIPAL` (``app``);
    * ``mxm_databases``: one PostgreSQL database :data:`TEST_DATABASE`
      (``main``) on ``localhost:5432`` whose ``password_ref`` is that secret.

    Keyword arguments are top-level sections deep-merged over it
    (:func:`deep_merge`), so one changed value is one line::

        minimal_runtime_config(tmp_path, mxm_databases={"main": {"port": 6543}})

    Parameters
    ----------
    paths_root:
        Directory the four paths live under (nothing is created). Defaults to
        ``<tempdir>/mxm-runtime-test``; tests should pass ``tmp_path``.
    **sections:
        Top-level sections to merge in (new sections are added).

    Returns
    -------
    dict[str, Any]
        A fresh mapping, suitable as the ``default`` layer of
        :func:`write_config_store`.
    """
    root = Path(paths_root)
    base: dict[str, Any] = {
        "mxm_paths": {
            "data_root": str(root / "data"),
            "artifact_root": str(root / "artifacts"),
            "export_root": str(root / "exports"),
            "log_root": str(root / "logs"),
        },
        "mxm_secrets": {
            "stores": {"vault": {"backend": "gopass", "root": "mxm/test"}},
            "refs": {
                TEST_SECRET: {
                    "store": "vault",
                    "path": "database/password",
                    "policy": "app_access",
                }
            },
            "policies": {"app_access": {"allowed_principals": [TEST_PRINCIPAL]}},
        },
        "mxm_databases": {
            TEST_DATABASE: {
                "driver": "postgresql",
                "host": "localhost",
                "port": 5432,
                "name": "mxm_test",
                "user": "mxm_test_app",
                "password_ref": TEST_SECRET,
            }
        },
    }
    return deep_merge(base, sections)


def write_config_store(
    root: Path | str,
    app: str,
    layers: Mapping[str, Mapping[str, Any]],
) -> Path:
    """Write a configuration store for one app and return its root.

    Writes ``<root>/apps/<app>/<layer>.yaml`` for every layer given, in
    mxm-config's layout: ``default`` is the configuration mapping itself; the
    other layers (``environment``, ``machine``, ``substrate``, ``role``) map a
    selector (e.g. an environment name) to the mapping merged for it::

        write_config_store(
            tmp_path,
            "my-app",
            {
                "default": minimal_runtime_config(tmp_path),
                "environment": {"test": {"mxm_databases": {"main": {"port": 6543}}}},
            },
        )

    Layer files of the app that are not in ``layers`` are removed, so writing
    the same app twice leaves exactly the layers of the second call. ``Path``
    values are written as strings.

    Parameters
    ----------
    root:
        Store root (created if missing; ``~`` expanded).
    app:
        Application name: the directory under ``apps/``.
    layers:
        Layer name to content; must include ``default``.

    Returns
    -------
    Path
        The store root, to pass as ``store_root``.

    Raises
    ------
    ValueError
        ``layers`` has a name other than ``default``, ``environment``,
        ``machine``, ``substrate`` or ``role``, lacks ``default``, or ``app``
        (or a selector) is not a valid identity value (empty, path separators,
        ``..``, ...).
    TypeError
        A layer is not a mapping, a selector's content is not a mapping, a
        key is not a string or a value cannot be written as YAML.
    """
    unknown = sorted(set(layers) - set(LAYER_NAMES))
    if unknown:
        raise ValueError(
            f"Unknown layer name(s) {', '.join(map(repr, unknown))}; "
            f"layers are {', '.join(LAYER_NAMES)}"
        )
    if "default" not in layers:
        raise ValueError("layers must include 'default' (default.yaml is required)")
    problem = identity_field_problem(app)
    if problem is not None:
        raise ValueError(f"Invalid app name {app!r}: {problem}")

    documents: dict[str, dict[str, Any]] = {}
    for name in LAYER_NAMES:
        if name not in layers:
            continue
        content = cast(object, layers[name])
        if not isinstance(content, Mapping):  # a runtime check of an annotated argument
            raise TypeError(f"Layer {name!r} must be a mapping, got {type(content).__name__}")
        plain = _plain(layers[name], name)
        if name != "default":
            for selector, block in plain.items():
                selector_problem = identity_field_problem(selector)
                if selector_problem is not None:
                    raise ValueError(
                        f"Invalid {name} selector {selector!r} in layer {name!r}: "
                        f"{selector_problem}"
                    )
                if not isinstance(block, dict):
                    raise TypeError(
                        f"Layer {name!r}: the block for {selector!r} must be a mapping, "
                        f"got {type(block).__name__}"
                    )
        documents[name] = plain

    store_root = Path(root).expanduser()
    directory = app_root(store_root, app)
    directory.mkdir(parents=True, exist_ok=True)
    for name in LAYER_NAMES:
        target = directory / f"{name}.yaml"
        if name in documents:
            target.write_text(
                yaml.safe_dump(  # pyright: ignore[reportUnknownMemberType]
                    documents[name], sort_keys=False, allow_unicode=True
                ),
                encoding="utf-8",
            )
        elif target.exists():
            target.unlink()
    return store_root
