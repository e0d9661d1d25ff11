"""Loading a runtime's configuration from an mxm-config store.

mxm-config owns the store layout, layer selection, merging and interpolation;
this module calls :func:`mxm.config.load_config` and turns every failure it
can produce into a documented :mod:`mxm.runtime.errors` type that names the
identity, the store, the file or key, and the fix.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Generator
from pathlib import Path
from typing import Any, cast

import yaml
from mxm.config import MXMConfig, load_config
from mxm.types import RuntimeIdentity
from omegaconf import errors as omegaconf_errors

from mxm.runtime._provider import BUILD_LOCK
from mxm.runtime.errors import (
    ConfigFileError,
    ConfigInterpolationError,
    ConfigSelectorError,
    ConfigStoreNotFoundError,
    ConfigValueError,
    MXMRuntimeError,
    RuntimeSettingsError,
)

__all__ = [
    "DEFAULT_MAX_YAML_NODES",
    "DEFAULT_STORE_ROOT",
    "LAYER_NAMES",
    "MAX_YAML_NODES_ENV",
    "app_root",
    "default_store_root",
    "load_runtime_config",
]

DEFAULT_STORE_ROOT = "~/mxm-config-store"
"""mxm-config's default store root, before ``~`` expansion."""

LAYER_NAMES: tuple[str, ...] = ("default", "environment", "machine", "substrate", "role")
"""Layer files of an app, in merge order (``<layer>.yaml``)."""

DEFAULT_MAX_YAML_NODES = 10_000
"""OmegaConf 2.4's default limit of YAML nodes (after alias expansion) per file."""

MAX_YAML_NODES_ENV = "OMEGACONF_MAX_YAML_EXPANDED_NODES"
"""The variable OmegaConf reads the node limit from when a file is loaded."""

_SELECTOR_MESSAGE = re.compile(
    r"for dimension '(?P<dimension>\w+)' not found in (?P<path>.+?\.yaml)"
)


def default_store_root() -> Path:
    """Return mxm-config's default store root, ``~/mxm-config-store``, expanded."""
    return Path(DEFAULT_STORE_ROOT).expanduser()


def app_root(store_root: Path, app: str) -> Path:
    """Return ``<store_root>/apps/<app>``."""
    return store_root.expanduser() / "apps" / app


def load_runtime_config(
    identity: RuntimeIdentity,
    store_root: Path,
    *,
    max_yaml_nodes: int | None = None,
) -> MXMConfig:
    """Load the merged, resolved, read-only configuration of an identity.

    Parameters
    ----------
    identity:
        The identity whose layers are selected.
    store_root:
        The configuration store root.
    max_yaml_nodes:
        Largest number of YAML nodes (after alias expansion) one store file
        may hold. ``None`` keeps OmegaConf's limit: 10,000, or
        ``OMEGACONF_MAX_YAML_EXPANDED_NODES`` when that is set. Raise it only
        for a trusted store whose files are legitimately that large
        (``MXM_CONFIG_MAX_YAML_NODES`` in settings). Alias bombs stay refused
        at any limit: OmegaConf also caps the alias expansion ratio (100x).
        mxm-config's ``load_config`` takes no such parameter, so the limit is
        passed to OmegaConf through ``OMEGACONF_MAX_YAML_EXPANDED_NODES`` for
        the duration of the load, under the process-wide build lock; YAML
        loaded by OmegaConf in *other* threads at that moment, outside
        mxm-runtime, sees the raised limit too.

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
        (``TypeError``) a file root or selected block is not a mapping, or a
        key is a mapping in one layer and a list or scalar in another.
    ConfigFileError
        (``ValueError``) a file is not a regular file, is unreadable, is not
        UTF-8, is not valid YAML, holds an alias bomb, or has more YAML nodes
        than the limit (the message says which, with the file, its size and
        the remedy).
    ConfigInterpolationError
        (``ValueError``) an interpolation points at a missing key, forms a
        cycle, or is malformed.
    RuntimeSettingsError
        (``ValueError``) ``max_yaml_nodes`` is not a positive integer, or
        ``OMEGACONF_MAX_YAML_EXPANDED_NODES`` holds an invalid value.
    """
    root = store_root.expanduser()
    app_dir = app_root(root, identity.app)
    context: dict[str, Any] = {"identity": identity, "store_root": root}
    limit = _node_limit(max_yaml_nodes, context)
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
    if not default_file.exists():
        raise ConfigStoreNotFoundError(
            f"Required configuration file not found: {default_file}",
            file=default_file,
            hint=(
                f"create {default_file} with the mxm_secrets, mxm_databases "
                "and mxm_paths sections"
            ),
            **context,
        )
    for layer in LAYER_NAMES:
        _check_layer_file(app_dir / f"{layer}.yaml", context)
    try:
        with _yaml_node_limit(max_yaml_nodes):
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
        message = _first_line(exc)
        if "Cannot merge incompatible container types" in message:
            raise ConfigValueError(
                "Layers disagree on a key's shape: it is a mapping in one layer and a "
                f"list or scalar in another ({message})",
                file=app_dir,
                hint="give the key the same kind of value (mapping or list) in every layer file",
                **context,
            ) from None
        raise ConfigValueError(
            message,
            file=_file_in_message(message, app_dir),
            hint="make the file's top level (and each selected block) a YAML mapping",
            **context,
        ) from None
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, app_dir, limit, context) from None
    except omegaconf_errors.InterpolationResolutionError as exc:
        cycle = "Recursive interpolation" in str(exc)
        full_key = getattr(exc, "full_key", None) or None
        raise ConfigInterpolationError(
            ("Interpolation cycle: " if cycle else "Interpolation cannot be resolved: ")
            + _first_line(exc),
            key=full_key,
            file=_file_defining(full_key, app_dir, identity),
            hint=(
                "break the cycle: make one of the ${...} references point at a literal value"
                if cycle
                else "point the ${...} reference at a key that exists in the merged configuration"
            ),
            **context,
        ) from None
    except omegaconf_errors.OmegaConfBaseException as exc:
        full_key = getattr(exc, "full_key", None) or None
        raise ConfigInterpolationError(
            f"Interpolation is malformed: {_first_line(exc)}",
            key=full_key,
            file=_file_defining(full_key, app_dir, identity),
            hint="write interpolations as ${key.path} (close every '${' with '}')",
            **context,
        ) from None
    except (OSError, UnicodeError) as exc:
        for layer in LAYER_NAMES:  # name the file: find the one that cannot be read
            _check_layer_content(app_dir / f"{layer}.yaml", context)
        filename = getattr(exc, "filename", None)
        raise ConfigFileError(
            f"Configuration file cannot be read: {type(exc).__name__}: "
            f"{getattr(exc, 'strerror', None) or _first_line(exc)}",
            file=Path(filename) if filename else app_dir,
            hint="make the store files readable UTF-8 text for this process",
            **context,
        ) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ConfigFileError(
            f"Configuration cannot be loaded: {type(exc).__name__}: {_first_line(exc)}",
            file=_file_in_message(str(exc), app_dir) or app_dir,
            hint="check the store files of the app for the problem named above",
            **context,
        ) from None


# -- file checks ------------------------------------------------------------------


def _check_layer_file(path: Path, context: dict[str, Any]) -> None:
    """Refuse a layer path that is not a regular file.

    Done (with one ``stat``) before mxm-config opens it, so a FIFO or device
    never blocks the load and the error names the file. Contents are checked
    only when loading fails (:func:`_check_layer_content`).
    """
    if not path.exists():
        return
    if not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise ConfigFileError(
            f"Configuration file is {kind}: {path}",
            file=path,
            hint=f"replace {path} with a YAML file (or remove it if the layer is unused)",
            **context,
        )


def _check_layer_content(path: Path, context: dict[str, Any]) -> None:
    """Raise a ConfigFileError naming ``path`` if it cannot be read as UTF-8 text."""
    if not path.is_file():
        return
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigFileError(
            f"Configuration file cannot be read: {exc.strerror or type(exc).__name__}",
            file=path,
            hint=f"make {path} readable by this process (user {_user()})",
            **context,
        ) from None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigFileError(
            f"Configuration file is not UTF-8 text (invalid byte at offset {exc.start})",
            file=path,
            hint=f"save {path} as UTF-8",
            **context,
        ) from None


def _file_defining(key: str | None, app_dir: Path, identity: RuntimeIdentity) -> Path:
    """Return the highest-precedence layer file that sets ``key`` (else ``app_dir``).

    Only called after OmegaConf has parsed every file, so they are valid YAML
    within the node limits.
    """
    if not key:
        return app_dir
    parts = key.split(".")
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    found = app_dir
    for layer in LAYER_NAMES:
        path = app_dir / f"{layer}.yaml"
        try:
            node: Any = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
        except (OSError, UnicodeError, yaml.YAMLError):
            continue
        if layer != "default":
            node = _child(node, getattr(identity, layer))
        for part in parts:
            node = _child(node, part)
        if node is not _ABSENT:
            found = path
    return found


def _child(node: Any, key: str) -> Any:
    if isinstance(node, dict) and key in node:
        return cast(dict[str, Any], node)[key]
    return _ABSENT


_ABSENT = object()


def _user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


# -- YAML node limit ------------------------------------------------------------------


def _node_limit(max_yaml_nodes: int | None, context: dict[str, Any]) -> int | None:
    """Return the node limit in force (``None``: unlimited by the environment)."""
    if max_yaml_nodes is not None:
        if (
            isinstance(max_yaml_nodes, bool)
            or not isinstance(max_yaml_nodes, int)  # pyright: ignore[reportUnnecessaryIsInstance]
            or max_yaml_nodes <= 0
        ):
            raise RuntimeSettingsError(
                f"max_yaml_nodes must be a positive integer, got {max_yaml_nodes!r}",
                key="max_yaml_nodes",
                hint=(
                    "pass a positive integer (MXM_CONFIG_MAX_YAML_NODES=50000), "
                    "or leave it unset for OmegaConf's default of 10,000"
                ),
                **context,
            )
        return max_yaml_nodes
    raw = os.environ.get(MAX_YAML_NODES_ENV)
    if raw is None:
        return DEFAULT_MAX_YAML_NODES
    value = raw.strip()
    if value.lower() == "none":
        return None
    try:
        parsed = int(value)
    except ValueError:
        parsed = 0
    if parsed <= 0:
        raise RuntimeSettingsError(
            f"{MAX_YAML_NODES_ENV} must be a positive integer or 'none', got {raw!r}",
            key=MAX_YAML_NODES_ENV,
            hint=f"fix or unset {MAX_YAML_NODES_ENV} (it is read by OmegaConf)",
            **context,
        )
    return parsed


@contextlib.contextmanager
def _yaml_node_limit(max_yaml_nodes: int | None) -> Generator[None]:
    """Scope ``OMEGACONF_MAX_YAML_EXPANDED_NODES`` to one load, under BUILD_LOCK."""
    if max_yaml_nodes is None:
        yield
        return
    with BUILD_LOCK:
        saved = os.environ.get(MAX_YAML_NODES_ENV)
        os.environ[MAX_YAML_NODES_ENV] = str(max_yaml_nodes)
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop(MAX_YAML_NODES_ENV, None)
            else:
                os.environ[MAX_YAML_NODES_ENV] = saved


def _unique_yaml_nodes(path: Path) -> int | None:
    """Count the distinct YAML nodes of a file, aliases not expanded (bounded memory)."""
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        document = yaml.compose(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, UnicodeError, yaml.YAMLError):
        return None
    if document is None:
        return 0
    seen: set[int] = set()
    stack: list[yaml.Node] = [document]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                stack.append(key_node)
                stack.append(value_node)
    return len(seen)


def _yaml_error(
    exc: yaml.YAMLError, app_dir: Path, limit: int | None, context: dict[str, Any]
) -> ConfigFileError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    name = getattr(mark, "name", None) or getattr(exc, "name", None)
    file = Path(name) if isinstance(name, str) and name.startswith("/") else None
    if file is None:
        file = _file_in_message(str(exc), app_dir)
    problem = str(getattr(exc, "problem", None) or _first_line(exc))
    if "YAML node expansion exceeds" in problem or "YAML aliases expand" in problem:
        return _node_limit_error(problem, file, limit, context)
    where = ""
    if mark is not None and getattr(mark, "line", None) is not None:
        where = f" at line {mark.line + 1}, column {mark.column + 1}"
    detail = problem.splitlines()[0] if problem.strip() else type(exc).__name__
    return ConfigFileError(
        f"Configuration file is not valid YAML{where}: {detail}",
        file=file,
        hint=f"fix the YAML{where} of {file.name if file else 'the file'}",
        **context,
    )


def _node_limit_error(
    problem: str, file: Path | None, limit: int | None, context: dict[str, Any]
) -> ConfigFileError:
    size = _file_size(file)
    unique = _unique_yaml_nodes(file) if file is not None else None
    shown_limit = f"{limit:,}" if limit is not None else "unlimited"
    ratio = "YAML aliases expand" in problem
    if not ratio and unique is not None and limit is not None and unique > limit:
        return ConfigFileError(
            f"Configuration file is too large: {size} with {unique:,} YAML nodes, more than "
            f"the limit of {shown_limit} nodes per file (OmegaConf 2.4's default is 10,000). "
            "This is a large file, not an alias bomb: it has no alias expansion",
            file=file,
            key=MAX_YAML_NODES_ENV,
            hint=(
                "split the file into smaller layer files, or, for a trusted store, raise "
                f"the limit above {unique:,}: MXM_CONFIG_MAX_YAML_NODES={_suggest(unique)} "
                f"(or RuntimeContainer.from_identity(..., max_yaml_nodes={_suggest(unique)}))"
            ),
            **context,
        )
    unique_text = f"{unique:,} distinct YAML nodes" if unique is not None else "its YAML nodes"
    return ConfigFileError(
        f"Configuration file looks like a YAML alias bomb (billion laughs): {size} with "
        f"{unique_text} whose aliases expand beyond the limit of {shown_limit} nodes "
        "(or more than 100x); it was refused before expansion",
        file=file,
        hint=(
            "remove the nested anchors/aliases (&name / *name) from the file; the limit "
            "is not the problem, so do not raise it"
        ),
        **context,
    )


def _suggest(nodes: int) -> int:
    step = 10_000
    return ((nodes * 2) // step + 1) * step


def _file_size(file: Path | None) -> str:
    if file is None:
        return "a file of unknown size"
    try:
        size = file.stat().st_size
    except OSError:
        return "a file of unknown size"
    return f"{size:,} bytes"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _file_in_message(message: str, app_dir: Path) -> Path | None:
    for layer in LAYER_NAMES:
        candidate = app_dir / f"{layer}.yaml"
        if str(candidate) in message:
            return candidate
    return None
