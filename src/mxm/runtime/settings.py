"""Bootstrap settings: how a process says who it is, through ``MXM_*`` variables.

Sources, highest precedence first: keyword arguments, environment variables,
a ``.env`` file in the working directory, defaults.

==========================  =========================================
variable                    meaning
==========================  =========================================
``MXM_APP``                 application (required)
``MXM_ENVIRONMENT``         environment, e.g. ``dev`` (required)
``MXM_ROLE``                role / secrets principal (required)
``MXM_MACHINE``             machine selector (discovered when unset)
``MXM_SUBSTRATE``           substrate (discovered when unset)
``MXM_CONFIG_STORE_ROOT``   store root (default ``~/mxm-config-store``)
``MXM_CONFIG_MAX_YAML_NODES`` YAML nodes allowed per store file (default:
                            OmegaConf's 10,000); raise only for trusted stores
``MXM_NODE_NAME``           Kubernetes node name (discovery only; set it
                            from ``spec.nodeName`` with the Downward API)
==========================  =========================================

Empty variables count as unset.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mxm.types import RuntimeIdentity
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mxm.runtime.errors import RuntimeSettingsError
from mxm.runtime.identity import build_runtime_identity, identity_field_problem
from mxm.runtime.store import default_store_root

__all__ = [
    "ENV_PREFIX",
    "RuntimeSettings",
    "identity_from_settings",
    "max_yaml_nodes_from_settings",
    "store_root_from_settings",
]

ENV_PREFIX = "MXM_"


class RuntimeSettings(BaseSettings):
    """Typed bootstrap settings read from ``MXM_*`` variables and ``.env``.

    Precedence, highest first: keyword arguments, environment variables, the
    ``.env`` file (in the working directory, or ``_env_file=...``), defaults.
    An empty variable counts as unset. Identity values follow the rules of
    :mod:`mxm.runtime.identity`.

    Raises
    ------
    RuntimeSettingsError
        (a ``ValueError``) on construction: one error listing every missing
        required variable (``MXM_APP``, ``MXM_ENVIRONMENT``, ``MXM_ROLE``) and
        every invalid one with the rule it breaks; also when the ``.env``
        file exists but cannot be read or decoded as UTF-8.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
    )

    app: str
    environment: str
    role: str
    machine: str | None = None
    substrate: str | None = None
    config_store_root: Path = Field(default_factory=default_store_root)
    config_max_yaml_nodes: int | None = Field(default=None, gt=0)

    @field_validator("app", "environment", "role", "machine", "substrate")
    @classmethod
    def _identity_value(cls, value: str | None) -> str | None:
        if value is None:
            return None
        problem = identity_field_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("config_store_root", mode="before")
    @classmethod
    def _store_root(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty")
        return value

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _settings_error(exc, values) from None
        except (OSError, UnicodeDecodeError) as exc:
            env_file = values.get("_env_file", self.model_config.get("env_file"))
            raise RuntimeSettingsError(
                f"Cannot read the settings file {env_file!s}: {type(exc).__name__}",
                file=Path(str(env_file)) if env_file is not None else None,
                hint="make the .env file readable UTF-8 text of NAME=value lines, or remove it",
            ) from None


def _settings_error(exc: ValidationError, values: dict[str, Any]) -> RuntimeSettingsError:
    missing: list[str] = []
    invalid: list[str] = []
    for error in exc.errors():
        name = ENV_PREFIX + ".".join(str(part) for part in error["loc"]).upper()
        if error["type"] == "missing":
            missing.append(name)
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
            invalid.append(f"{name} {message}")
    parts: list[str] = []
    if missing:
        parts.append("missing " + ", ".join(missing))
    if invalid:
        parts.append("invalid: " + "; ".join(invalid))
    env_file = values.get("_env_file", ".env")
    return RuntimeSettingsError(
        "Runtime settings are incomplete or invalid: " + "; ".join(parts),
        hint=(
            "export the variables (e.g. MXM_APP=my-app MXM_ENVIRONMENT=dev "
            f"MXM_ROLE=research), put them in {env_file}, or pass them as arguments; "
            "identity values use 1-128 letters, digits, '-', '_' or '.'"
        ),
    )


def identity_from_settings(settings: RuntimeSettings) -> RuntimeIdentity:
    """Build the validated identity the settings describe (discovering the rest).

    Raises
    ------
    RuntimeIdentityError
        If a value (given or discovered) is invalid.
    """
    return build_runtime_identity(
        app=settings.app,
        environment=settings.environment,
        role=settings.role,
        machine=settings.machine,
        substrate=settings.substrate,
    )


def max_yaml_nodes_from_settings(settings: Callable[[], RuntimeSettings]) -> int | None:
    """Return ``MXM_CONFIG_MAX_YAML_NODES`` when the settings can be read, else ``None``.

    ``settings`` is the settings provider itself, called lazily: a container
    whose identity and store root are given directly does not need settings
    at all, so unreadable settings mean "no override" here (they are
    reported by the ``identity`` provider when it does read them).
    """
    try:
        return settings().config_max_yaml_nodes
    except RuntimeSettingsError:
        return None


def store_root_from_settings(settings: RuntimeSettings) -> Path:
    """Return the settings' store root with ``~`` expanded."""
    return settings.config_store_root.expanduser()
