"""Documented error types raised by mxm-runtime.

Every error mxm-runtime raises while building a runtime is a
:class:`MXMRuntimeError` *and* the built-in type that mxm-runtime 0.1.2 raised
for the same situation, so ``except KeyError:`` / ``except FileNotFoundError:``
in existing clients keeps working while new clients can catch
``MXMRuntimeError`` and read its structured fields.

Error types
-----------
``RuntimeIdentityError`` (``ValueError``)
    An identity field breaks a validation rule (see :mod:`mxm.runtime.identity`).
``RuntimeIdentityAttestationError`` (``RuntimeError``)
    Machine/substrate claims differ from discovery.
``RuntimeSettingsError`` (``ValueError``)
    ``MXM_*`` bootstrap settings are missing or invalid.
``ConfigStoreNotFoundError`` (``FileNotFoundError``)
    The store root, ``apps/<app>/`` or ``default.yaml`` is missing.
``ConfigFileError`` (``ValueError``)
    A store file cannot be read or parsed (permissions, malformed YAML, a
    non-mapping root, too many YAML nodes, an alias bomb).
``ConfigSelectorError`` (``KeyError``)
    A layer file exists but lacks the identity's selector.
``ConfigInterpolationError`` (``ValueError``)
    A ``${...}`` interpolation points at a missing key or forms a cycle.
``ConfigSectionError`` (``KeyError``)
    A required section or key (``mxm_paths.log_root``...) is missing.
``ConfigValueError`` (``TypeError``)
    A value has the wrong type (``mxm_paths.data_root`` is not a string...).
``SecretsConfigError`` (``ValueError``)
    ``mxm_secrets`` fails mxm-secrets validation.
``DatabaseCredentialsError`` (``RuntimeError``)
    A database view's password cannot be obtained through the SecretsApi.
``DatabaseConnectionError`` (``ConnectionError``)
    Connecting to a database view failed; ``DatabaseAuthenticationError``
    (a subclass) when the server rejected the credentials.

No secret value is ever placed in an error message: messages carry names,
paths of configuration files and configuration keys only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mxm.types import RuntimeIdentity

__all__ = [
    "ConfigFileError",
    "ConfigInterpolationError",
    "ConfigSectionError",
    "ConfigSelectorError",
    "ConfigStoreNotFoundError",
    "ConfigValueError",
    "DatabaseAuthenticationError",
    "DatabaseConnectionError",
    "DatabaseCredentialsError",
    "MXMRuntimeError",
    "RuntimeIdentityAttestationError",
    "RuntimeIdentityError",
    "RuntimeSettingsError",
    "SecretsConfigError",
]


def describe_identity(identity: RuntimeIdentity | None) -> str:
    """Return a one-line ``app/environment/machine/substrate/role`` label."""
    if identity is None:
        return "<unknown identity>"
    return (
        f"app={identity.app!r} environment={identity.environment!r} "
        f"machine={identity.machine!r} substrate={identity.substrate!r} "
        f"role={identity.role!r}"
    )


class MXMRuntimeError(Exception):
    """Base class of every error mxm-runtime raises while building a runtime.

    Attributes
    ----------
    problem:
        What went wrong, in one sentence.
    identity:
        The identity being built, when known.
    store_root:
        The configuration store root, when known.
    file:
        The store file involved, when there is one.
    key:
        The dotted configuration key involved (``mxm_paths.log_root``).
    hint:
        What to change to fix it.
    """

    def __init__(
        self,
        problem: str,
        *,
        identity: RuntimeIdentity | None = None,
        store_root: Path | None = None,
        file: Path | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.problem = problem
        self.identity = identity
        self.store_root = store_root
        self.file = file
        self.key = key
        self.hint = hint
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The full, readable message: problem, context and fix."""
        parts = [self.problem]
        if self.key is not None:
            parts.append(f"key: {self.key}")
        if self.file is not None:
            parts.append(f"file: {self.file}")
        if self.store_root is not None:
            parts.append(f"store root: {self.store_root}")
        if self.identity is not None:
            parts.append(f"identity: {describe_identity(self.identity)}")
        if self.hint is not None:
            parts.append(f"fix: {self.hint}")
        return "\n  ".join(parts)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild from keyword fields so the error survives pickling across
        # process pools (the built-in bases would pass only ``args``).
        return (
            _rebuild_error,
            (
                type(self),
                self.problem,
                {
                    "identity": self.identity,
                    "store_root": self.store_root,
                    "file": self.file,
                    "key": self.key,
                    "hint": self.hint,
                },
            ),
        )


def _rebuild_error(
    cls: type[MXMRuntimeError], problem: str, fields: dict[str, Any]
) -> MXMRuntimeError:
    return cls(problem, **fields)


class RuntimeIdentityError(MXMRuntimeError, ValueError):
    """Raised when a runtime identity is invalid.

    The message names every bad field and the rule it breaks.
    """


class RuntimeIdentityAttestationError(MXMRuntimeError, RuntimeError):
    """Raised when machine/substrate claims of an identity are not true here."""


class RuntimeSettingsError(MXMRuntimeError, ValueError):
    """Raised when ``MXM_*`` bootstrap settings are missing or invalid."""


class ConfigStoreNotFoundError(MXMRuntimeError, FileNotFoundError):
    """Raised when the store root, the app directory or ``default.yaml`` is missing."""

    def __init__(self, problem: str, **fields: Any) -> None:
        MXMRuntimeError.__init__(self, problem, **fields)
        if self.file is not None:
            self.filename = str(self.file)

    def __str__(self) -> str:
        return self.message


class ConfigFileError(MXMRuntimeError, ValueError):
    """Raised when a store file cannot be read or parsed."""


class ConfigSelectorError(MXMRuntimeError, KeyError):
    """Raised when a layer file lacks the identity's selector."""

    def __str__(self) -> str:
        return self.message


class ConfigInterpolationError(MXMRuntimeError, ValueError):
    """Raised when a ``${...}`` interpolation cannot be resolved."""


class ConfigSectionError(MXMRuntimeError, KeyError):
    """Raised when a required configuration section or key is missing."""

    def __str__(self) -> str:
        return self.message


class ConfigValueError(MXMRuntimeError, TypeError):
    """Raised when a configuration value has the wrong type or shape."""


class SecretsConfigError(MXMRuntimeError, ValueError):
    """Raised when the ``mxm_secrets`` section fails mxm-secrets validation."""


class DatabaseCredentialsError(MXMRuntimeError, RuntimeError):
    """Raised when a database view's password cannot be obtained.

    The reference is unknown, the identity's role may not read it, or the
    secret store returned nothing. ``key`` is ``mxm_databases.<view>.password_ref``.
    """


class DatabaseConnectionError(MXMRuntimeError, ConnectionError):
    """Raised when connecting to a database view fails.

    ``key`` is ``mxm_databases.<view>``; the message names the view, host,
    port, database and user, never the password.
    """

    def __str__(self) -> str:
        return self.message


class DatabaseAuthenticationError(DatabaseConnectionError):
    """Raised when the database server rejects a view's user or password."""
