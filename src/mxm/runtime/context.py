"""The objects a runtime hands to application code.

:class:`RuntimeContext` is frozen and holds references only: the identity, the
read-only configuration, the configured :class:`~mxm.secrets.SecretsApi`
(which resolves secrets on demand and holds no secret value), the database
views, the materialised paths and metadata about the process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from mxm.config import MXMConfig
from mxm.secrets import SecretsApi
from mxm.types import RuntimeIdentity

from mxm.runtime.databases import DatabaseViews
from mxm.runtime.discovery import RuntimeDiscovery

__all__ = ["RuntimeContext", "RuntimeMetadata", "RuntimePaths"]


@dataclass(frozen=True, slots=True)
class RuntimePaths:
    """Resolved filesystem locations of this runtime (``~`` expanded)."""

    data_root: Path
    artifact_root: Path
    export_root: Path
    log_root: Path


@dataclass(frozen=True, slots=True)
class RuntimeMetadata:
    """Facts about the process and the substrate it runs on.

    ``substrate`` and ``is_container`` are the 0.1.2 fields; every other field
    has a default so that code constructing the 0.1.2 shape keeps working.
    """

    substrate: str
    is_container: bool
    hostname: str = ""
    """Raw hostname of the process (a container id inside most containers)."""
    pid: int = 0
    """Process id."""
    python_version: str = ""
    """``platform.python_version()``."""
    platform: str = ""
    """``platform.platform()``."""
    discovered_substrate: str | None = None
    """What discovery found, which may differ from the declared ``substrate``."""
    evidence: RuntimeDiscovery | None = None
    """Discovery evidence: which probes fired, what they saw, unreadable files."""
    ci: str | None = None
    """CI hint: ``github-actions``, ``gitlab-ci``, ``ci`` or ``None`` (never a substrate)."""
    orchestrators: tuple[str, ...] = ()
    """Worker hints: ``prefect``, ``ray``, ``dask`` (never substrates)."""


@dataclass(frozen=True, slots=True)
class RuntimeContext:
    """Materialised operational context of an MXM runtime.

    ``build_runtime_context`` and ``RuntimeContainer.context`` fill every
    field; the optional fields default to ``None`` only for code that builds
    contexts by hand (0.1.2 compatibility).
    """

    identity: RuntimeIdentity
    config: MXMConfig
    secrets: SecretsApi | None = None
    db_configs: DatabaseViews | None = None
    paths: RuntimePaths | None = None
    runtime: RuntimeMetadata | None = None

    def __repr__(self) -> str:
        """A short summary that never prints configuration values.

        The configuration is shown as its top-level keys and the SecretsApi
        as its secret *names*, so a context in a log line or a traceback
        cannot leak a value someone put directly into the configuration.
        """
        config = "<config>"
        if isinstance(self.config, Mapping):
            keys = [str(key) for key in cast(Mapping[object, object], self.config)]
            config = f"<config keys: {', '.join(keys)}>"
        secrets: str = "None"
        if self.secrets is not None:
            registry = getattr(self.secrets, "secret_ref_registry", None)
            names = registry.names() if registry is not None else ()
            secrets = f"{type(self.secrets).__name__}(secrets: {', '.join(names)})"
        runtime = "None"
        if self.runtime is not None:
            runtime = (
                f"RuntimeMetadata(substrate={self.runtime.substrate!r}, "
                f"is_container={self.runtime.is_container!r})"
            )
        return (
            f"RuntimeContext(identity={self.identity!r}, config={config}, secrets={secrets}, "
            f"db_configs={self.db_configs!r}, paths={self.paths!r}, runtime={runtime})"
        )
