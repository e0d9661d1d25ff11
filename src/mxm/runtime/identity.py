"""Building and validating :class:`RuntimeIdentity` values.

Identity values become file paths (``<store>/apps/<app>/``) and YAML
selectors, so every identity mxm-runtime builds is checked against the rules
below before it is used. A value is valid when it is 1 to 128 characters of
ASCII letters, digits, ``-``, ``_`` and ``.``, and is not made of dots only.
The rules are checked one by one so that an error names the rule broken.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from mxm.types import RuntimeIdentity

from mxm.runtime.discovery import discover_machine, discover_substrate
from mxm.runtime.errors import RuntimeIdentityError, RuntimeSettingsError

__all__ = [
    "IDENTITY_FIELDS",
    "MAX_IDENTITY_VALUE_LENGTH",
    "IDENTITY_ENV_VARS",
    "build_runtime_identity",
    "identity_field_problem",
    "identity_from_env",
    "identity_to_env",
    "validate_runtime_identity_shape",
]

IDENTITY_FIELDS: tuple[str, ...] = ("app", "environment", "machine", "substrate", "role")
"""The five fields of a RuntimeIdentity, in store layer order."""

MAX_IDENTITY_VALUE_LENGTH = 128
"""Longest accepted identity value, in characters."""

_ALLOWED = re.compile(r"[A-Za-z0-9._-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def identity_field_problem(value: object) -> str | None:
    """Return the rule an identity value breaks, or ``None`` when it is valid.

    Parameters
    ----------
    value:
        Candidate value of one identity field.

    Returns
    -------
    str | None
        A short description of the first rule broken.
    """
    if not isinstance(value, str):
        return f"must be a string, got {type(value).__name__}"
    if value == "" or not value.strip():
        return "must not be empty or whitespace"
    if value != value.strip():
        return "must not have leading or trailing whitespace"
    if _CONTROL.search(value):
        return "must not contain control characters"
    if "/" in value or "\\" in value:
        return "must not contain path separators ('/' or '\\')"
    if ".." in value:
        return "must not contain '..'"
    if len(value) > MAX_IDENTITY_VALUE_LENGTH:
        return f"must be at most {MAX_IDENTITY_VALUE_LENGTH} characters (got {len(value)})"
    if not _ALLOWED.fullmatch(value):
        return "may contain only ASCII letters, digits, '-', '_' and '.'"
    if set(value) == {"."}:
        return "must not consist of dots only"
    return None


def validate_runtime_identity_shape(identity: RuntimeIdentity) -> None:
    """Validate every field of a RuntimeIdentity.

    Parameters
    ----------
    identity:
        The identity to check.

    Raises
    ------
    RuntimeIdentityError
        (a ``ValueError``) naming every bad field and the rule it breaks.
    """
    problems: list[str] = []
    for name in IDENTITY_FIELDS:
        problem = identity_field_problem(getattr(identity, name, None))
        if problem is not None:
            problems.append(f"{name} {problem}")
    if problems:
        raise RuntimeIdentityError(
            "RuntimeIdentity is invalid: " + "; ".join(problems),
            hint=(
                "use 1-128 characters of letters, digits, '-', '_' or '.' for "
                "app, environment, machine, substrate and role"
            ),
        )


def build_runtime_identity(
    *,
    app: str,
    environment: str,
    role: str,
    machine: str | None = None,
    substrate: str | None = None,
) -> RuntimeIdentity:
    """Build and validate a RuntimeIdentity.

    Parameters
    ----------
    app:
        MXM application identifier (selects ``<store>/apps/<app>/``).
    environment:
        Operational environment, for example ``dev`` or ``prod``.
    role:
        Runtime responsibility, for example ``research`` or ``marketdata``.
    machine:
        Machine selector. Discovered with :func:`discover_machine` when omitted.
    substrate:
        Execution substrate. Discovered with :func:`discover_substrate` when
        omitted.

    Returns
    -------
    RuntimeIdentity
        A validated identity.

    Raises
    ------
    RuntimeIdentityError
        If any field (given or discovered) is invalid.
    """
    identity = RuntimeIdentity(
        app=app,
        environment=environment,
        machine=machine if machine is not None else discover_machine(),
        substrate=substrate if substrate is not None else discover_substrate(),
        role=role,
    )
    validate_runtime_identity_shape(identity)
    return identity


IDENTITY_ENV_VARS: dict[str, str] = {name: f"MXM_{name.upper()}" for name in IDENTITY_FIELDS}
"""Identity field -> the ``MXM_*`` variable that carries it."""


def identity_to_env(
    identity: RuntimeIdentity, *, store_root: Path | None = None
) -> dict[str, str]:
    """Return the ``MXM_*`` variables that rebuild ``identity`` in another process.

    All five fields are exported (``MXM_APP``, ``MXM_ENVIRONMENT``,
    ``MXM_MACHINE``, ``MXM_SUBSTRATE``, ``MXM_ROLE``), so the child does not
    re-discover machine or substrate. Merge the result into a child's
    environment (``subprocess``, a spawn pool initializer, a Prefect job
    variable ``env``, a Kubernetes container ``env``); ``RuntimeContainer()``
    or :func:`identity_from_env` there rebuilds an equal identity.

    Parameters
    ----------
    identity:
        The identity to export; validated first.
    store_root:
        Also export ``MXM_CONFIG_STORE_ROOT`` (``~`` expanded) when given.

    Returns
    -------
    dict[str, str]
        A new dictionary of variable names to values.

    Raises
    ------
    RuntimeIdentityError
        If the identity is invalid (an invalid identity is never exported).
    """
    validate_runtime_identity_shape(identity)
    env = {variable: getattr(identity, name) for name, variable in IDENTITY_ENV_VARS.items()}
    if store_root is not None:
        env["MXM_CONFIG_STORE_ROOT"] = str(store_root.expanduser())
    return env


def identity_from_env(environ: Mapping[str, str]) -> RuntimeIdentity:
    """Rebuild the identity :func:`identity_to_env` exported (the reverse).

    Strict: all five ``MXM_*`` identity variables must be present and
    non-empty; nothing is discovered. For the lenient, discovering path use
    :class:`mxm.runtime.RuntimeSettings` / ``RuntimeContainer()``.

    Parameters
    ----------
    environ:
        The environment mapping (for example ``os.environ``).

    Returns
    -------
    RuntimeIdentity
        A validated identity.

    Raises
    ------
    RuntimeSettingsError
        (``ValueError``) listing every missing ``MXM_*`` identity variable.
    RuntimeIdentityError
        (``ValueError``) naming every variable whose value breaks a rule.
    """
    missing = [variable for variable in IDENTITY_ENV_VARS.values() if not environ.get(variable)]
    if missing:
        raise RuntimeSettingsError(
            "Runtime identity variables are missing: " + ", ".join(missing),
            hint="export every variable identity_to_env() returns into the child's environment",
        )
    values = {name: environ[variable] for name, variable in IDENTITY_ENV_VARS.items()}
    problems = [
        f"{IDENTITY_ENV_VARS[name]} {problem}"
        for name in IDENTITY_FIELDS
        if (problem := identity_field_problem(values[name])) is not None
    ]
    if problems:
        raise RuntimeIdentityError(
            "Runtime identity variables are invalid: " + "; ".join(problems),
            hint="use 1-128 characters of letters, digits, '-', '_' or '.'",
        )
    return RuntimeIdentity(**values)
