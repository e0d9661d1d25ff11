"""Compatibility module: mxm-runtime 0.1.2 exposed identity validation here."""

from __future__ import annotations

from mxm.runtime.errors import RuntimeIdentityError
from mxm.runtime.identity import validate_runtime_identity_shape

__all__ = ["RuntimeIdentityError", "validate_runtime_identity_shape"]
