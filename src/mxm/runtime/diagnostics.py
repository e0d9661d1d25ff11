"""Fail-soft diagnosis of a runtime: ``check_runtime`` and ``RuntimeReport``.

INTERFACE STUB — implemented by the diagnostics/CLI work (issue 6). The names
and fields below are the agreed interface used by the FastAPI readiness
endpoint; keep them stable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mxm.runtime.container import RuntimeContainer

__all__ = ["Check", "CheckStatus", "RuntimeReport", "check_runtime"]


class CheckStatus(StrEnum):
    """Outcome of one check."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Check:
    """One diagnosed concern (``name`` is stable, e.g. ``"paths.data_root"``)."""

    name: str
    status: CheckStatus
    message: str
    fix: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RuntimeReport:
    """Every check of a runtime, in order."""

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """True when no check failed (warnings allowed)."""
        return all(check.status is not CheckStatus.FAIL for check in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        """The failed checks."""
        return tuple(c for c in self.checks if c.status is CheckStatus.FAIL)


def check_runtime(container: RuntimeContainer) -> RuntimeReport:
    """Diagnose every piece of ``container`` without stopping at the first failure."""
    raise NotImplementedError("check_runtime is implemented by issue 6")
