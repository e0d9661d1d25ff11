"""Runtime identity attestation.

Attestation checks that the *empirical* claims of an identity (machine and
substrate) are true for this process. It is distinct from shape validation,
which only checks that the identity is well formed. ``app``, ``environment``
and ``role`` are declarations, not discoverable facts, and are not attested.
"""

from __future__ import annotations

from mxm.types import RuntimeIdentity

from mxm.runtime.discovery import discover_machine, discover_substrate
from mxm.runtime.errors import RuntimeIdentityAttestationError

__all__ = ["RuntimeIdentityAttestationError", "attest_runtime_identity"]


def attest_runtime_identity(identity: RuntimeIdentity) -> None:
    """Check the identity's machine and substrate against local discovery.

    Parameters
    ----------
    identity:
        The identity whose claims are checked. The ``MXM_MACHINE`` and
        ``MXM_SUBSTRATE`` overrides are ignored by the discovery used here,
        so an identity built from them is checked against the host itself.

    Raises
    ------
    RuntimeIdentityAttestationError
        (a ``RuntimeError``) naming each claim that differs from discovery.
    """
    # MXM_MACHINE / MXM_SUBSTRATE are claims, not evidence: ignore them here.
    discovered_machine = discover_machine(use_overrides=False)
    discovered_substrate = discover_substrate(use_overrides=False)
    errors: list[str] = []
    if identity.machine != discovered_machine:
        errors.append(
            "machine claim does not match local discovery: "
            f"identity.machine={identity.machine!r}, "
            f"discovered_machine={discovered_machine!r}"
        )
    if identity.substrate != discovered_substrate:
        errors.append(
            "substrate claim does not match local discovery: "
            f"identity.substrate={identity.substrate!r}, "
            f"discovered_substrate={discovered_substrate!r}"
        )
    if errors:
        raise RuntimeIdentityAttestationError(
            "; ".join(errors),
            identity=identity,
            hint="set MXM_MACHINE / MXM_SUBSTRATE only to what this host really is",
        )
