"""``build_runtime_context``: the 0.1.2 entry point, a facade over RuntimeContainer."""

from __future__ import annotations

from pathlib import Path

from mxm.types import RuntimeIdentity

from mxm.runtime.container import RuntimeContainer
from mxm.runtime.context import RuntimeContext

__all__ = ["build_runtime_context"]


def build_runtime_context(
    *,
    identity: RuntimeIdentity,
    store_root: Path | None = None,
) -> RuntimeContext:
    """Build a RuntimeContext for an explicit runtime identity.

    Parameters
    ----------
    identity:
        Runtime identity selecting the configuration layers.
    store_root:
        Configuration store root; ``~/mxm-config-store`` when omitted.

    Returns
    -------
    RuntimeContext
        With every field filled: identity, config, secrets, db_configs,
        paths and runtime.

    Raises
    ------
    RuntimeIdentityError
        (``ValueError``) the identity is invalid.
    ConfigStoreNotFoundError
        (``FileNotFoundError``) no store root, ``apps/<app>/`` or ``default.yaml``.
    ConfigSelectorError
        (``KeyError``) a layer file lacks the identity's selector.
    ConfigSectionError
        (``KeyError``) ``mxm_secrets``, ``mxm_databases``, ``mxm_paths`` or a
        path key is missing; the message names it.
    ConfigValueError
        (``TypeError``) a value or section has the wrong type; names the field.
    SecretsConfigError
        (``ValueError``) mxm-secrets rejects the ``mxm_secrets`` section.
    ConfigFileError, ConfigInterpolationError
        (``ValueError``) a file cannot be read or parsed, or an interpolation
        cannot be resolved.
    """
    return RuntimeContainer.from_identity(identity, store_root=store_root).context()
