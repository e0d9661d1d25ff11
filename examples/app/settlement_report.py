"""Example MXM application: the nightly settlement report.

The composition function :func:`compose_settlement_report` is the one place
that reads the runtime: it takes the :class:`~mxm.runtime.RuntimeContext` and
pulls out what the job needs (where to write, which database, the database
password), so the job itself is plain code that knows nothing about
configuration stores or secret backends.

Run against a real store::

    MXM_APP=settlement MXM_ENVIRONMENT=dev MXM_ROLE=reporting \\
        python -m examples.app.settlement_report
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mxm.runtime import RuntimeContainer, RuntimeContext

__all__ = [
    "DATABASE",
    "SettlementReport",
    "SettlementReportError",
    "compose_settlement_report",
    "main",
]

DATABASE = "operational_state"
"""The logical database (a key of ``mxm_databases``) the report reads."""


class SettlementReportError(RuntimeError):
    """The runtime does not provide what the report needs."""


@dataclass(frozen=True, slots=True)
class SettlementReport:
    """A composed report job: everything it needs, nothing it must look up.

    ``password`` is excluded from ``repr`` so the job can be logged.
    """

    output_file: Path
    log_file: Path
    host: str
    port: int
    database: str
    user: str
    password: str = field(repr=False)

    def connection_kwargs(self) -> dict[str, object]:
        """Keyword arguments for ``psycopg.connect`` (includes the password)."""
        return {
            "host": self.host,
            "port": self.port,
            "dbname": self.database,
            "user": self.user,
            "password": self.password,
        }

    def write(self, rows: Iterable[Sequence[object]]) -> Path:
        """Write ``rows`` as CSV to :attr:`output_file` and return it."""
        self.output_file.parent.mkdir(parents=True, exist_ok=True)
        with self.output_file.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["account", "currency", "amount"])
            writer.writerows(rows)
        return self.output_file


def compose_settlement_report(context: RuntimeContext, *, day: str) -> SettlementReport:
    """Build the settlement report job for ``day`` from the runtime context.

    Reads ``context.paths`` (export and log roots), the ``operational_state``
    database view and its password (through ``context.secrets``, as the
    context's identity).

    Raises
    ------
    SettlementReportError
        The context lacks paths, databases or secrets, the database is not
        configured, or the password is not available.
    PermissionError
        The identity's role may not read the database password.
    KeyError
        The database's ``password_ref`` names no configured secret.
    """
    if context.paths is None or context.db_configs is None or context.secrets is None:
        raise SettlementReportError("the runtime context has no paths, databases or secrets")
    try:
        db = context.db_configs[DATABASE]
    except KeyError:
        raise SettlementReportError(
            f"database {DATABASE!r} is not configured (mxm_databases)"
        ) from None
    if db.password_ref is None or db.host is None or db.name is None or db.user is None:
        raise SettlementReportError(
            f"database {DATABASE!r} needs host, name, user and password_ref"
        )
    password = context.secrets.get_secret(db.password_ref, identity=context.identity)
    if password is None:
        raise SettlementReportError(
            f"the password of database {DATABASE!r} ({db.password_ref}) is not available"
        )
    return SettlementReport(
        output_file=context.paths.export_root / "settlement" / f"{day}.csv",
        log_file=context.paths.log_root / "settlement.log",
        host=db.host,
        port=db.port if db.port is not None else 5432,
        database=db.name,
        user=db.user,
        password=password,
    )


def main() -> None:  # pragma: no cover - needs a real store and gopass
    """Compose the report for today from ``MXM_*`` settings and print the job."""
    import datetime

    container = RuntimeContainer()
    report = compose_settlement_report(container.context(), day=datetime.date.today().isoformat())
    print(report)


if __name__ == "__main__":  # pragma: no cover
    main()
