"""Redacted, JSON-safe descriptions of a runtime, for every output that shows one.

:func:`describe_context` turns a :class:`~mxm.runtime.context.RuntimeContext`
into plain data (``kind: "mxm-runtime.context"``, schema
``docs/report-schema.json`` ``$defs/context``): the identity, the layers used,
the paths, the database views, the names of secret stores, references and
policies, the runtime metadata and the whole configuration tree.

Secret values are never read. Values that could nevertheless be secrets — a
value written straight into the configuration under a key that looks secret,
or a password inside a URL — are replaced by :data:`MASK`:

* a key looks secret when, lowercased with ``-`` and spaces read as ``_``, it
  contains ``password``, ``passwd``, ``passphrase``, ``secret``, ``token``,
  ``api_key``/``apikey``, ``credential``, ``private_key``/``privatekey``,
  ``access_key`` or ``client_secret`` — unless it ends in ``_ref`` or
  ``_refs`` (those name a secret in ``mxm_secrets.refs``; they are not one);
* everything below a secret-looking key is masked (mappings and lists too),
  except the structural ``mxm_secrets`` section, whose ``stores`` / ``refs``
  / ``policies`` hold names and locations by mxm-secrets' design;
* ``scheme://user:password@host`` in any string keeps everything but the
  password;
* a PEM block (``-----BEGIN ...``) in any string is masked.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mxm.config import to_config_data

from mxm.runtime.context import RuntimeContext, RuntimeMetadata
from mxm.runtime.diagnostics import LayerInfo, identity_dict, inspect_layers

__all__ = [
    "CONTEXT_KIND",
    "CONTEXT_VERSION",
    "MASK",
    "describe_context",
    "is_secret_key",
    "redact_config",
    "redact_text",
]

MASK = "***"
"""What replaces a masked value."""

CONTEXT_KIND = "mxm-runtime.context"
"""Value of ``kind`` in a context description."""

CONTEXT_VERSION = 1
"""Version of the context description schema."""

_SECRET_WORDS = re.compile(
    r"password|passwd|passphrase|secret|token|api_?key|credential|private_?key|access_?key"
)
_REF_SUFFIX = re.compile(r"_refs?$")
_URL_PASSWORD = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)(?P<password>[^\s@/]*)@"
)
_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]+-----")
_SECRETS_STRUCTURE = frozenset({"stores", "refs", "policies"})


def is_secret_key(key: object) -> bool:
    """Return whether values under ``key`` are masked.

    Parameters
    ----------
    key:
        A configuration key (non-strings never look secret).

    Returns
    -------
    bool
        True for keys such as ``password``, ``api-key``, ``client_secret``,
        ``auth_token``; False for ``password_ref`` and ordinary keys.
    """
    if not isinstance(key, str):
        return False
    normal = re.sub(r"[\s\-]+", "_", key.strip().lower())
    if _REF_SUFFIX.search(normal):
        return False
    return _SECRET_WORDS.search(normal) is not None


def redact_text(value: str) -> str:
    """Mask passwords inside URLs and whole PEM blocks in a string.

    Parameters
    ----------
    value:
        Any string.

    Returns
    -------
    str
        ``postgresql://app:***@db/x`` for ``postgresql://app:pw@db/x``;
        :data:`MASK` for a string holding a PEM block; otherwise ``value``.
    """
    if _PEM.search(value):
        return MASK
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", value)


def redact_config(data: Any) -> Any:
    """Return a JSON-safe copy of configuration data with secret-looking values masked.

    Parameters
    ----------
    data:
        Plain configuration data (mappings, lists, scalars), e.g. the result
        of :func:`mxm.config.to_config_data`.

    Returns
    -------
    Any
        The same structure; see the module docstring for what is masked.
        Keys become strings; non-JSON scalars become strings.
    """
    return _redact(data, masked=False, path=())


def _redact(data: Any, *, masked: bool, path: tuple[str, ...]) -> Any:
    if isinstance(data, Mapping):
        result: dict[str, Any] = {}
        for key, value in data.items():  # pyright: ignore[reportUnknownVariableType]
            child = (*path, str(key))  # pyright: ignore[reportUnknownArgumentType]
            structural = _is_secrets_structure(child)
            hide = not structural and (masked or is_secret_key(str(key)))  # pyright: ignore[reportUnknownArgumentType]
            result[str(key)] = _redact(value, masked=hide, path=child)  # pyright: ignore[reportUnknownArgumentType]
        return result
    if isinstance(data, list | tuple):
        return [_redact(item, masked=masked, path=path) for item in data]  # pyright: ignore[reportUnknownVariableType]
    if masked:
        return None if data is None else MASK
    if data is None or isinstance(data, bool | int | float):
        return data
    return redact_text(str(data))


def _is_secrets_structure(path: tuple[str, ...]) -> bool:
    # mxm_secrets.{stores,refs,policies}.<name>[.<field>...] hold names only.
    return len(path) >= 2 and path[0] == "mxm_secrets" and path[1] in _SECRETS_STRUCTURE


def describe_context(
    context: RuntimeContext,
    *,
    store_root: Path | None = None,
    layers: tuple[LayerInfo, ...] | None = None,
) -> dict[str, Any]:
    """Return a redacted, JSON-safe description of a runtime context.

    Parameters
    ----------
    context:
        A built context.
    store_root:
        The store it was built from; enables the ``layers`` entry (which
        layer files were found and which selector each used).
    layers:
        Precomputed layer information (overrides ``store_root``).

    Returns
    -------
    dict
        ``kind``, ``version``, ``identity``, ``store_root``, ``layers``,
        ``paths``, ``databases``, ``secrets`` (store, reference and policy
        names; no secret paths' values), ``runtime`` and ``config``, as
        documented by ``docs/report-schema.json`` (``$defs/context``). Never
        contains a secret value.

    Raises
    ------
    TypeError
        If the context's configuration cannot be converted to plain data
        (not expected for a context built by mxm-runtime).
    """
    identity = context.identity
    if layers is None and store_root is not None:
        layers = inspect_layers(identity, store_root)
    paths = context.paths
    secrets = context.secrets
    runtime = context.runtime
    described_secrets: dict[str, Any] | None = None
    if secrets is not None:
        stores = secrets.secret_store_registry
        refs = secrets.secret_ref_registry
        policies = secrets.secret_policy_registry
        described_secrets = {
            "stores": {
                name: {"backend": stores.get(name).backend, "root": stores.get(name).root}
                for name in stores.names()
            },
            "refs": {
                name: {"store": refs.get(name).store, "policy": refs.get(name).policy}
                for name in refs.names()
            },
            "policies": {
                name: {"allowed_principals": list(policies.get(name).allowed_principals)}
                for name in policies.names()
            },
        }
    config_data = to_config_data(context.config)
    databases: dict[str, Any] | None = None
    section = config_data.get("mxm_databases")
    if context.db_configs is not None and isinstance(section, Mapping):
        databases = redact_config(section)
    return {
        "kind": CONTEXT_KIND,
        "version": CONTEXT_VERSION,
        "identity": identity_dict(identity),
        "store_root": str(store_root) if store_root is not None else None,
        "layers": [layer.to_dict() for layer in layers] if layers is not None else None,
        "paths": (
            {
                "data_root": str(paths.data_root),
                "artifact_root": str(paths.artifact_root),
                "export_root": str(paths.export_root),
                "log_root": str(paths.log_root),
            }
            if paths is not None
            else None
        ),
        "databases": databases,
        "secrets": described_secrets,
        "runtime": _describe_runtime(runtime),
        "config": redact_config(config_data),
    }


def _describe_runtime(runtime: RuntimeMetadata | None) -> dict[str, Any] | None:
    if runtime is None:
        return None
    # RuntimeMetadata may grow fields; describe them all, redacted.
    values = dataclasses.asdict(runtime)
    described: dict[str, Any] = redact_config(values)
    return described
