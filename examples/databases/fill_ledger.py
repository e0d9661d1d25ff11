"""Example MXM application: the execution desk's fill ledger.

The ledger records trade fills and answers "what is our net position?". It is
plain SQLAlchemy Core code that receives an ``Engine``; it never reads a
configuration store, a secret or an environment variable.

:func:`compose_fill_ledger` is the composition function, the one place that
touches the runtime: it asks the container for the engine of the
``operational_state`` database view. The container builds that engine on first
use (driver, host, port, user from ``mxm_databases.operational_state``, the
password through the SecretsApi as the runtime's identity) and disposes it on
``container.shutdown_resources()``, which :func:`main` calls on the way out.

The database is whatever the store says: PostgreSQL through psycopg 3 in
production, an embedded SQLite file for development and tests::

    mxm_databases:
      operational_state:
        driver: sqlite
        path: ${mxm_paths.data_root}/ledger.sqlite

Run against a real store::

    MXM_APP=mxm-moneymachine MXM_ENVIRONMENT=dev MXM_ROLE=execution \\
        python -m examples.databases.fill_ledger AAPL:100 AAPL:-40 MSFT:10
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    func,
    insert,
    select,
)

from mxm.runtime import RuntimeContainer

__all__ = ["DATABASE", "FillLedger", "compose_fill_ledger", "main"]

DATABASE = "operational_state"
"""The database view (a key of ``mxm_databases``) the ledger lives in."""

_metadata = MetaData()
fills = Table(
    "fills",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("symbol", String(32), nullable=False),
    Column("quantity", Numeric(20, 6), nullable=False),
)


class FillLedger:
    """Records fills and reports net positions, given an engine.

    Parameters
    ----------
    engine:
        Where the ``fills`` table lives.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_schema(self) -> None:
        """Create the ``fills`` table if it does not exist."""
        _metadata.create_all(self.engine)

    def record(self, symbol: str, quantity: Decimal | int) -> None:
        """Record one fill (negative ``quantity`` for a sale).

        Raises
        ------
        ValueError
            If ``symbol`` is empty.
        """
        if not symbol.strip():
            raise ValueError("a fill needs a symbol")
        with self.engine.begin() as conn:
            conn.execute(insert(fills).values(symbol=symbol, quantity=Decimal(quantity)))

    def net_positions(self) -> dict[str, Decimal]:
        """Net quantity per symbol, omitting flat symbols, sorted by symbol."""
        query = (
            select(fills.c.symbol, func.sum(fills.c.quantity))
            .group_by(fills.c.symbol)
            .order_by(fills.c.symbol)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return {symbol: Decimal(total) for symbol, total in rows if Decimal(total) != 0}


def compose_fill_ledger(container: RuntimeContainer) -> FillLedger:
    """Build the fill ledger from the runtime (the composition function).

    Parameters
    ----------
    container:
        The application's runtime container; its ``engines`` resource provides
        the ``operational_state`` engine (disposed by
        ``container.shutdown_resources()``).

    Returns
    -------
    FillLedger
        With its schema created.

    Raises
    ------
    ConfigSectionError
        (``KeyError``) ``mxm_databases.operational_state`` is not configured.
    ConfigValueError
        (``TypeError``) the view is invalid (unknown driver, non-integer port...).
    DatabaseCredentialsError
        (``RuntimeError``) the password cannot be read through the SecretsApi.
    DatabaseConnectionError
        (``ConnectionError``) the database cannot be reached;
        ``DatabaseAuthenticationError`` when it rejects the credentials.
    """
    engine = container.engines()[DATABASE]
    ledger = FillLedger(engine)
    ledger.create_schema()
    return ledger


def _parse_fill(argument: str) -> tuple[str, Decimal]:
    symbol, _, quantity = argument.partition(":")
    return symbol, Decimal(quantity)


def main(argv: Sequence[str] | None = None, *, container: RuntimeContainer | None = None) -> int:
    """Record the fills given as ``SYMBOL:QTY`` arguments and print net positions.

    The container is built from ``MXM_*`` settings unless one is given; its
    resources (the engines) are shut down before returning.

    Returns
    -------
    int
        0 on success, 2 for a malformed argument.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        parsed = [_parse_fill(argument) for argument in arguments]
    except ArithmeticError:
        print("fills are SYMBOL:QUANTITY, e.g. AAPL:100", file=sys.stderr)
        return 2
    runtime = container if container is not None else RuntimeContainer()
    try:
        ledger = compose_fill_ledger(runtime)
        for symbol, quantity in parsed:
            ledger.record(symbol, quantity)
        for symbol, quantity in ledger.net_positions().items():
            print(f"{symbol} {quantity.normalize():f}")
    finally:
        runtime.shutdown_resources()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
