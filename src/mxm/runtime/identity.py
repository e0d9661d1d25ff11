"""Building and validating :class:`RuntimeIdentity` values.

Identity values become file paths (``<store>/apps/<app>/``) and YAML
selectors, so every identity mxm-runtime builds is checked against the rules
below before it is used. A value is valid when it is 1 to 128 characters of
ASCII letters, digits, ``-``, ``_`` and ``.``, and is not made of dots only.
The rules are checked one by one so that an error names the rule broken.
"""

from __future__ import annotations

import re

from mxm.runtime.discovery import discover_machine, discover_substrate
from mxm.runtime.errors import RuntimeIdentityError
from mxm.types import RuntimeIdentity

__all__ = [
    "IDENTITY_FIELDS",
    "MAX_IDENTITY_VALUE_LENGTH",
    "build_runtime_identity",
    "identity_field_problem",
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
