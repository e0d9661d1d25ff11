"""Inject the runtime into a plain entry point with dependency-injector wiring.

Run: ``python examples/wiring_entry_point.py`` (uses the example store).

The entry point declares what it needs with ``Provide[...]`` markers; the
container is wired to this module once at start-up, and tests can override
any provider before calling the function.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dependency_injector.wiring import Provide, inject
from mxm.types import RuntimeIdentity

from mxm.runtime import RuntimeContainer, RuntimeContext, RuntimePaths, build_runtime_identity

STORE = Path(__file__).resolve().parent / "config-store"


@inject
def describe_runtime(ctx: RuntimeContext = Provide[RuntimeContainer.context]) -> str:
    """Summarise the injected context in one line."""
    assert ctx.paths is not None
    who = f"{ctx.identity.app}/{ctx.identity.environment} as {ctx.identity.role}"
    return f"{who}: data in {ctx.paths.data_root}"


@inject
def data_root(paths: RuntimePaths = Provide[RuntimeContainer.paths]) -> Path:
    """Return the injected data root."""
    return paths.data_root


@inject
def whoami(identity: RuntimeIdentity = Provide[RuntimeContainer.identity]) -> str:
    """Return ``app:role`` of the injected identity."""
    return f"{identity.app}:{identity.role}"


def create_container() -> RuntimeContainer:
    """The composition root: one container for the process, wired to this module."""
    identity = build_runtime_identity(
        app="mxm-moneymachine",
        environment="dev",
        role="research",
        machine="bridge",
        substrate="local-process",
    )
    container = RuntimeContainer.from_identity(identity, store_root=STORE)
    container.wire(modules=[sys.modules[__name__]])
    return container


def main() -> int:
    container = create_container()
    try:
        print(describe_runtime())
        print(whoami())
    finally:
        container.unwire()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
