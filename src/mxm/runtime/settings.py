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
==========================  =========================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from mxm.runtime.errors import RuntimeSettingsError
from mxm.runtime.identity import build_runtime_identity
from mxm.runtime.store import default_store_root
from mxm.types import RuntimeIdentity

__all__ = ["ENV_PREFIX", "RuntimeSettings", "identity_from_settings", "store_root_from_settings"]

ENV_PREFIX = "MXM_"


class RuntimeSettings(BaseSettings):
    """Typed bootstrap settings read from ``MXM_*`` variables and ``.env``.

    Raises
    ------
    RuntimeSettingsError
        (a ``ValueError``) on construction, listing every missing or invalid
        ``MXM_*`` variable in one message.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    app: str
    environment: str
    role: str
    machine: str | None = None
    substrate: str | None = None
    config_store_root: Path = Field(default_factory=default_store_root)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            missing: list[str] = []
            invalid: list[str] = []
            for error in exc.errors():
                name = ENV_PREFIX + ".".join(str(part) for part in error["loc"]).upper()
                if error["type"] == "missing":
                    missing.append(name)
                else:
                    invalid.append(f"{name} ({error['msg']})")
            parts: list[str] = []
            if missing:
                parts.append("missing " + ", ".join(missing))
            if invalid:
                parts.append("invalid " + ", ".join(invalid))
            raise RuntimeSettingsError(
                "Runtime settings are incomplete: " + "; ".join(parts),
                hint=(
                    "export the variables (e.g. MXM_APP=my-app MXM_ENVIRONMENT=dev "
                    "MXM_ROLE=research), put them in .env, or pass them as arguments"
                ),
            ) from None


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


def store_root_from_settings(settings: RuntimeSettings) -> Path:
    """Return the settings' store root with ``~`` expanded."""
    return settings.config_store_root.expanduser()
