"""A SecretsApi that authorises for real and answers from a mapping.

:class:`StaticSecretsApi` is a :class:`mxm.secrets.SecretsApi` (a subclass,
so it fits ``RuntimeContext.secrets`` and any ``SecretsApi`` annotation). It
is built from the same ``mxm_secrets`` configuration data as the real one and
runs mxm-secrets' own reference lookup, principal derivation, policy check
and location resolution, so an unknown name raises ``KeyError`` and a
forbidden principal ``PermissionError`` exactly as in production. Only the
last step differs: instead of running ``gopass``, it returns the value a test
mapped to the secret name. It records every request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, cast

from mxm.config import MXMConfig, make_view, to_config_data
from mxm.secrets import SecretsApi
from mxm.secrets.authorization import is_secret_access_allowed
from mxm.secrets.config_data import SecretsConfigData
from mxm.secrets.resolution import principal_from_runtime_identity, resolve_secret_location
from mxm.types import RuntimeIdentity
from omegaconf import DictConfig

__all__ = ["SecretOutcome", "SecretRequest", "StaticSecretsApi", "static_secrets_from_config"]

type SecretOutcome = Literal["returned", "default", "denied", "unknown", "invalid"]
"""What happened to a request: a mapped value was returned; ``default`` was
returned (no value mapped); access was denied (``PermissionError``); the name,
store or policy is unknown (``KeyError``); the principal or location is
invalid (``ValueError``)."""


@dataclass(frozen=True, slots=True)
class SecretRequest:
    """One call of :meth:`StaticSecretsApi.get_secret` (never the value)."""

    name: str
    """Secret name requested."""
    principal: str
    """The requesting identity's role (the mxm-secrets principal name)."""
    outcome: SecretOutcome
    """What the call did."""

    @property
    def granted(self) -> bool:
        """Whether the policy allowed the request (a value or default returned)."""
        return self.outcome in ("returned", "default")


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class StaticSecretsApi(SecretsApi):
    """SecretsApi stand-in: real authorisation, values from a mapping.

    Build it with :meth:`from_config_data` (the ``mxm_secrets`` mapping) or
    :func:`static_secrets_from_config` (a whole runtime configuration).

    ``values`` is never shown by ``repr`` or ``str``, and requests record
    names and principals only.
    """

    values: Mapping[str, str] = field(default_factory=dict[str, str])
    """Secret name to the value :meth:`get_secret` returns."""
    _requests: list[SecretRequest] = field(default_factory=list[SecretRequest])

    @classmethod
    def from_config_data(
        cls,
        config: SecretsConfigData,
        values: Mapping[str, str] | None = None,
    ) -> StaticSecretsApi:
        """Build from ``mxm_secrets`` config data and a name-to-value mapping.

        Parameters
        ----------
        config:
            The ``mxm_secrets`` section (``stores``, ``refs``, ``policies``),
            exactly what :meth:`mxm.secrets.SecretsApi.from_config_data` takes.
        values:
            Secret name to value. Names need not all be mapped (an unmapped,
            authorised secret returns ``default``), but every mapped name must
            be a configured reference.

        Raises
        ------
        TypeError
            The config structure is invalid (from mxm-secrets), or a value is
            not a string.
        ValueError
            A store, reference or policy fails mxm-secrets' validation.
        KeyError
            ``values`` maps a name that is not a configured reference.
        """
        configured = SecretsApi.from_config_data(config)
        mapping = dict(values or {})
        unknown = sorted(
            name for name in mapping if not configured.secret_ref_registry.contains(name)
        )
        if unknown:
            raise KeyError(
                f"StaticSecretsApi values for unconfigured secret name(s): {', '.join(unknown)}; "
                f"configured: {', '.join(configured.secret_ref_registry.names()) or '(none)'}"
            )
        for name, value in mapping.items():
            if not isinstance(value, str):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise TypeError(
                    f"StaticSecretsApi value for {name!r} must be a str, got {type(value).__name__}"
                )
        return cls(
            secret_ref_registry=configured.secret_ref_registry,
            secret_store_registry=configured.secret_store_registry,
            secret_policy_registry=configured.secret_policy_registry,
            values=MappingProxyType(mapping),
        )

    def get_secret(
        self,
        secret_name: str,
        *,
        identity: RuntimeIdentity,
        default: str | None = None,
    ) -> str | None:
        """Authorise like :class:`~mxm.secrets.SecretsApi`, then return the mapped value.

        Parameters
        ----------
        secret_name:
            Public secret name.
        identity:
            The requesting runtime identity; its role is the principal.
        default:
            Returned when the request is authorised but no value is mapped
            (the real API returns it when the backend cannot answer).

        Returns
        -------
        str | None
            The mapped value, or ``default``.

        Raises
        ------
        KeyError
            The secret name, or its store or policy, is not configured.
        PermissionError
            The principal is not allowed by the secret's policy.
        ValueError
            ``identity.role`` is not a valid principal name.
        """
        principal_name = str(identity.role)

        def record(outcome: SecretOutcome) -> None:
            self._requests.append(SecretRequest(secret_name, principal_name, outcome))

        # The same steps, in the same order, as SecretsApi.get_secret.
        try:
            secret_ref = self.secret_ref_registry.get(secret_name)
        except KeyError:
            record("unknown")
            raise
        try:
            principal = principal_from_runtime_identity(identity)
        except ValueError:
            record("invalid")
            raise
        try:
            allowed = is_secret_access_allowed(
                secret_ref=secret_ref,
                principal=principal,
                policy_registry=self.secret_policy_registry,
            )
        except KeyError:
            record("unknown")
            raise
        if not allowed:
            record("denied")
            raise PermissionError(
                f"Secret access denied: {secret_ref.qualified_name} for principal {principal.name}"
            )
        try:
            resolve_secret_location(
                secret_name=secret_name,
                secret_ref_registry=self.secret_ref_registry,
                secret_store_registry=self.secret_store_registry,
            )
        except KeyError:
            record("unknown")
            raise
        except ValueError:
            record("invalid")
            raise
        if secret_name in self.values:
            record("returned")
            return self.values[secret_name]
        record("default")
        return default

    def check_ready(self) -> bool:
        """Return ``True``: there is no backend to be unavailable."""
        return True

    @property
    def requests(self) -> tuple[SecretRequest, ...]:
        """Every :meth:`get_secret` call so far, oldest first."""
        return tuple(self._requests)

    @property
    def requested_names(self) -> tuple[str, ...]:
        """Names requested so far, oldest first (repeats kept)."""
        return tuple(request.name for request in self._requests)

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        self._requests.clear()

    def __repr__(self) -> str:
        names = ", ".join(self.secret_ref_registry.names())
        return (
            f"StaticSecretsApi(secrets=[{names}], "
            f"values=<{len(self.values)} redacted>, requests={len(self._requests)})"
        )

    __str__ = __repr__


def static_secrets_from_config(
    config: MXMConfig | Mapping[str, Any],
    values: Mapping[str, str] | None = None,
) -> StaticSecretsApi:
    """Build a :class:`StaticSecretsApi` from a whole runtime configuration.

    Parameters
    ----------
    config:
        The merged configuration (``RuntimeContainer.config()``, an
        ``MXMConfig``) or a plain mapping such as
        :func:`~mxm.runtime.testing.minimal_runtime_config` returns; its
        ``mxm_secrets`` section is used.
    values:
        Secret name to value.

    Raises
    ------
    KeyError
        ``mxm_secrets`` is missing, or ``values`` names an unconfigured secret.
    TypeError, ValueError
        As :meth:`StaticSecretsApi.from_config_data`.
    """
    if isinstance(config, DictConfig):
        view = make_view(cast(MXMConfig, config), "mxm_secrets", readonly=True, resolve=False)
        data: SecretsConfigData = to_config_data(view)
    else:
        plain = cast(Mapping[str, Any], config)
        section: object = plain.get("mxm_secrets")
        if section is None:
            raise KeyError("configuration has no 'mxm_secrets' section")
        if not isinstance(section, Mapping):
            raise TypeError(f"'mxm_secrets' must be a mapping, got {type(section).__name__}")
        data = cast(SecretsConfigData, section)
    return StaticSecretsApi.from_config_data(data, values)
