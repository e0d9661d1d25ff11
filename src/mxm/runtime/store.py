"""Loading a runtime's configuration from an mxm-config store.

mxm-config owns the store layout, layer selection, merging and interpolation;
this module calls :func:`mxm.config.load_config` and turns every failure it
can produce into a documented :mod:`mxm.runtime.errors` type that names the
identity, the store, the file or key, and the fix.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from omegaconf import errors as omegaconf_errors

from mxm.config import MXMConfig, load_config
from mxm.runtime.errors import (
    ConfigFileError,
    ConfigInterpolationError,
    ConfigSelectorError,
    ConfigStoreNotFoundError,
    ConfigValueError,
    MXMRuntimeError,
)
from mxm.types import RuntimeIdentity

__all__ = ["DEFAULT_STORE_ROOT", "LAYER_NAMES", "app_root", "default_store_root", "load_runtime_config"]

DEFAULT_STORE_ROOT = "~/mxm-config-store"
"""mxm-config's default store root, before ``~`` expansion."""

LAYER_NAMES: tuple[str, ...] = ("default", "environment", "machine", "substrate", "role")
"""Layer files of an app, in merge order (``<layer>.yaml``)."""

_SELECTOR_MESSAGE = re.compile(r"for dimension '(?P<dimension>\w+)' not found in (?P<path>.+?)\.")


def default_store_root() -> Path:
    """Return mxm-config's default store root, ``~/mxm-config-store``, expanded."""
    return Path(DEFAULT_STORE_ROOT).expanduser()


def app_root(store_root: Path, app: str) -> Path:
    """Return ``<store_root>/apps/<app>``."""
    return store_root.expanduser() / "apps" / app


def load_runtime_config(identity: RuntimeIdentity, store_root: Path) -> MXMConfig:
    """Load the merged, resolved, read-only configuration of an identity.

    Parameters
    ----------
    identity:
        The identity whose layers are selected.
    store_root:
        The configuration store root.

    Returns
    -------
    MXMConfig
        What :func:`mxm.config.load_config` returns.

    Raises
    ------
    ConfigStoreNotFoundError
        (``FileNotFoundError``) the store root, ``apps/<app>/`` or
        ``default.yaml`` is missing.
    ConfigSelectorError
        (``KeyError``) a layer file lacks the identity's selector.
    ConfigValueError
        (``TypeError``) a file root or selected block is not a mapping.
    ConfigFileError
        (``ValueError``) a file is unreadable or is not valid YAML.
    ConfigInterpolationError
        (``ValueError``) an interpolation cannot be resolved.
    """
    root = store_root.expanduser()
    app_dir = app_root(root, identity.app)
    context = {"identity": identity, "store_root": root}
    if not root.is_dir():
        raise ConfigStoreNotFoundError(
            f"Configuration store root not found: {root}",
            file=root,
            hint=(
                "create the store, or point MXM_CONFIG_STORE_ROOT / --store-root / "
                "store_root= at an existing one"
            ),
            **context,
        )
    if not app_dir.is_dir():
        raise ConfigStoreNotFoundError(
            f"Application configuration directory not found: {app_dir}/ "
            f"(expected <store>/apps/{identity.app}/)",
            file=app_dir,
            hint=f"create {app_dir}/default.yaml, or check the app name {identity.app!r}",
            **context,
        )
    default_file = app_dir / "default.yaml"
    if not default_file.is_file():
        raise ConfigStoreNotFoundError(
            f"Required configuration file not found: {default_file}",
            file=default_file,
            hint=f"create {default_file} with the mxm_secrets, mxm_databases and mxm_paths sections",
            **context,
        )
    try:
        return load_config(identity=identity, store_root=root)
    except MXMRuntimeError:
        raise
    except KeyError as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        match = _SELECTOR_MESSAGE.search(message)
        file = Path(match["path"]) if match else None
        dimension = match["dimension"] if match else "layer"
        selector = getattr(identity, dimension, None) if match else None
        raise ConfigSelectorError(
            f"Layer file has no block for {dimension} {selector!r}: {message}",
            file=file,
            key=str(selector) if selector is not None else None,
            hint=(
                f"add a top-level '{selector}:' block to {file}, or use one of the "
                "selectors listed above"
            ),
            **context,
        ) from None
    except TypeError as exc:
        raise ConfigValueError(
            str(exc),
            file=_file_in_message(str(exc), app_dir),
            hint="make the file's top level (and each selected block) a YAML mapping",
            **context,
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        name = getattr(mark, "name", None)
        file = Path(name) if isinstance(name, str) and name.startswith("/") else None
        raise ConfigFileError(
            f"Configuration file is not valid YAML: {_first_line(exc)}",
            file=file,
            hint="fix the YAML syntax at the line shown",
            **context,
        ) from None
    except omegaconf_errors.InterpolationResolutionError as exc:
        raise ConfigInterpolationError(
            f"Interpolation cannot be resolved: {_first_line(exc)}",
            key=getattr(exc, "full_key", None) or None,
            file=app_dir,
            hint="point the ${...} reference at a key that exists in the merged configuration",
            **context,
        ) from None
    except OSError as exc:
        raise ConfigFileError(
            f"Configuration file cannot be read: {exc.strerror or exc}",
            file=Path(exc.filename) if exc.filename else None,
            hint="make the store files readable by this process",
            **context,
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _file_in_message(message: str, app_dir: Path) -> Path | None:
    for layer in LAYER_NAMES:
        candidate = app_dir / f"{layer}.yaml"
        if str(candidate) in message:
            return candidate
    return None
