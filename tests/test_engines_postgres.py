"""PostgreSQL 15 for real: engines built from a context, passwords from gopass.

A throwaway server (:mod:`mxm.runtime.testing.postgres`) is started once for
this module on a free loopback port; the application role's password needs
percent-encoding and is delivered by a real gopass store (the
``gopass_store`` fixture) through the context's SecretsApi. Skipped, with the
reason, only when the PostgreSQL server binaries (or gopass/gpg) are missing.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from mxm.runtime import RuntimeContainer, RuntimeIdentity
from mxm.runtime.databases import DatabaseEngines, database_url
from mxm.runtime.errors import DatabaseAuthenticationError, DatabaseConnectionError
from mxm.runtime.testing import minimal_runtime_config, write_config_store
from mxm.runtime.testing.gopass import GopassStore
from mxm.runtime.testing.postgres import (
    PostgresServer,
    free_loopback_port,
    postgres_missing_reason,
    running_postgres,
)

pytestmark = pytest.mark.integration

APP = "pg-app"
ROLE = "mxm_app"
DATABASE = "mxm_it"
PASSWORD = "p@ss:w/rd%"
WRONG_PASSWORD = "wr0ng:p@ss/%"
SECRET_PATH = "mxm/test/database/password"


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    reason = postgres_missing_reason()
    if reason is not None:
        pytest.skip(reason)
    with running_postgres() as server:
        server.create_role(ROLE, PASSWORD)
        server.create_database(DATABASE, owner=ROLE)
        yield server


def identity() -> RuntimeIdentity:
    return RuntimeIdentity(
        app=APP, environment="test", machine="ci", substrate="local-process", role="app"
    )


def container_for(tmp_path: Path, **view: Any) -> RuntimeContainer:
    entry: dict[str, Any] = {
        "driver": "postgresql",
        "host": "127.0.0.1",
        "name": DATABASE,
        "user": ROLE,
        "password_ref": "database_password",
        "query": {"connect_timeout": 10},
    }
    entry.update(view)
    config = minimal_runtime_config(tmp_path)
    config["mxm_databases"] = {"operational_state": entry}
    root = write_config_store(tmp_path / "store", APP, {"default": config})
    return RuntimeContainer.from_identity(identity(), store_root=root)


def wait_for_backends(pg: PostgresServer, expected: int) -> int:
    """Poll pg_stat_activity (bounded) until ``expected`` backends of ROLE remain."""
    count = pg.backend_count(ROLE)
    for _ in range(100):
        if count == expected:
            break
        time.sleep(0.05)
        count = pg.backend_count(ROLE)
    return count


def test_engine_from_context_connects_with_gopass_password_and_is_disposed(
    pg: PostgresServer, gopass_store: GopassStore, tmp_path: Path
) -> None:
    gopass_store.write(SECRET_PATH, PASSWORD)
    container = container_for(tmp_path, port=pg.port)
    ctx = container.context()
    assert ctx.secrets is not None
    assert ctx.secrets.get_secret("database_password", identity=ctx.identity) == PASSWORD

    url = database_url(ctx, "operational_state")
    assert PASSWORD not in str(url)
    assert PASSWORD not in repr(url)
    assert "p%40ss%3Aw%2Frd%25" in url.render(hide_password=False)

    engines = container.engines()
    assert isinstance(engines, DatabaseEngines)
    engine = engines.operational_state
    with engine.connect() as conn:
        row = conn.execute(text("SELECT current_user, current_database(), 1 + 1")).one()
        assert tuple(row) == (ROLE, DATABASE, 2)
        conn.execute(text("CREATE TEMP TABLE t (x int)"))
        conn.execute(text("INSERT INTO t VALUES (7)"))
        assert conn.execute(text("SELECT x FROM t")).scalar_one() == 7
    assert PASSWORD not in repr(engine)
    assert PASSWORD not in str(engine.url)
    # The pooled connection stays open until shutdown.
    assert wait_for_backends(pg, 1) == 1

    container.shutdown_resources()

    assert engines.closed
    assert wait_for_backends(pg, 0) == 0


def test_wrong_password_is_an_authentication_error_naming_the_view(
    pg: PostgresServer, gopass_store: GopassStore, tmp_path: Path
) -> None:
    gopass_store.write(SECRET_PATH, WRONG_PASSWORD)
    container = container_for(tmp_path, port=pg.port)
    engine = container.engines()["operational_state"]
    with pytest.raises(DatabaseAuthenticationError) as info:
        engine.connect().close()
    error = info.value
    message = str(error)
    assert "operational_state" in message
    assert error.key == "mxm_databases.operational_state"
    assert "Authentication failed" in message
    assert f"{ROLE}@127.0.0.1:{pg.port}/{DATABASE}" in message
    assert "password authentication failed" in message  # the server's reason
    assert isinstance(error, ConnectionError)
    everything = "".join(traceback.format_exception(error)) + repr(error)
    for secret in (WRONG_PASSWORD, PASSWORD, "wr0ng%3Ap%40ss"):
        assert secret not in everything
    container.shutdown_resources()
    assert wait_for_backends(pg, 0) == 0


def test_no_server_is_a_connection_error_not_an_authentication_error(
    gopass_store: GopassStore, tmp_path: Path
) -> None:
    gopass_store.write(SECRET_PATH, PASSWORD)
    container = container_for(tmp_path, port=free_loopback_port())
    engine = container.engines()["operational_state"]
    with pytest.raises(DatabaseConnectionError) as info:
        engine.connect().close()
    assert not isinstance(info.value, DatabaseAuthenticationError)
    assert "Cannot connect to database view 'operational_state'" in str(info.value)
    assert PASSWORD not in "".join(traceback.format_exception(info.value))
    container.shutdown_resources()
