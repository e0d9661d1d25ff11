"""Build a RuntimeContext from the example store and print it.

Run: ``python examples/show_context.py [--environment prod] [--machine monolith]``.
Machine and substrate are explicit, so the output does not depend on the host.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mxm.runtime import build_runtime_context, build_runtime_identity

STORE = Path(__file__).resolve().parent / "config-store"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--environment", default="dev", choices=["dev", "prod"])
    parser.add_argument("--machine", default="bridge", choices=["bridge", "monolith"])
    parser.add_argument("--role", default="research")
    args = parser.parse_args(argv)

    identity = build_runtime_identity(
        app="mxm-moneymachine",
        environment=args.environment,
        role=args.role,
        machine=args.machine,
        substrate="local-process",
    )
    ctx = build_runtime_context(identity=identity, store_root=STORE)
    assert ctx.paths is not None and ctx.db_configs is not None
    assert ctx.secrets is not None and ctx.runtime is not None
    print(f"identity   {ctx.identity}")
    print(f"store      {STORE}")
    for name in ("data_root", "artifact_root", "export_root", "log_root"):
        print(f"paths.{name:<14} {getattr(ctx.paths, name)}")
    db = ctx.db_configs["operational_state"]
    print(
        f"database   operational_state: {db.driver}://{db.user}@{db.host}:{db.port}/{db.name} "
        f"(password from secret {db.password_ref!r})"
    )
    print(f"secrets    {', '.join(ctx.secrets.secret_ref_registry.names())}")
    print(f"runtime    substrate={ctx.runtime.substrate} is_container={ctx.runtime.is_container}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
