"""A real, throwaway PostgreSQL server for tests.

:func:`running_postgres` runs ``initdb`` into a temporary directory
(``scram-sha-256`` authentication, a superuser with a random password),
starts ``postgres`` with ``pg_ctl`` on a free port of ``127.0.0.1`` (its Unix
socket in the same directory, never the system one), and stops it with
``pg_ctl stop -m fast`` and removes the directory on exit.

PostgreSQL refuses to run as root; when the tests run as root the server is
run as an unprivileged account (``nobody`` by default) through ``runuser``.

Administration (roles, databases, queries) goes through psycopg 3, which
comes with the ``sqlalchemy`` extra.

Example
-------
::

    @pytest.fixture(scope="session")
    def pg() -> Iterator[PostgresServer]:
        reason = postgres_missing_reason()
        if reason is not None:
            pytest.skip(reason)
        with running_postgres() as server:
            yield server

    def test_app_role(pg: PostgresServer) -> None:
        pg.create_role("mxm_app", "p@ss:w/rd%")
        pg.create_database("mxm_test", owner="mxm_app")
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "PostgresServer",
    "PostgresSetupError",
    "free_loopback_port",
    "postgres_missing_reason",
    "running_postgres",
]

_TIMEOUT = 120.0
_HOST = "127.0.0.1"
_SUPERUSER = "postgres"


class PostgresSetupError(RuntimeError):
    """Raised when ``initdb`` or ``pg_ctl`` fails while setting up a test server."""


def postgres_missing_reason() -> str | None:
    """Return why a throwaway PostgreSQL cannot be started here, or ``None``.

    Returns
    -------
    str or None
        A sentence naming what is missing, or ``None``.
    """
    missing = [cmd for cmd in ("initdb", "pg_ctl", "postgres") if shutil.which(cmd) is None]
    if missing:
        return (
            f"{', '.join(missing)} not found on PATH: PostgreSQL integration tests need the "
            "PostgreSQL 15 server binaries (Debian: apt-get install postgresql-15 and add "
            "/usr/lib/postgresql/15/bin to PATH)"
        )
    try:
        import psycopg  # noqa: F401  # pyright: ignore[reportUnusedImport]
    except ImportError:
        return "psycopg is not installed: pip install 'mxm-runtime[sqlalchemy]'"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: PostgreSQL refuses to run as root"
    return None


def free_loopback_port() -> int:
    """Return a TCP port of ``127.0.0.1`` that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class PostgresServer:
    """A running throwaway PostgreSQL server.

    Attributes
    ----------
    host, port:
        Where it listens (``127.0.0.1`` and a free port).
    superuser:
        The superuser role (``postgres``).
    base_dir:
        Temporary directory holding the data directory, socket and log.
    """

    host: str
    port: int
    superuser: str
    base_dir: Path
    superuser_password: str = field(repr=False)
    os_user: str | None = None

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self.base_dir / "data"

    @property
    def log_file(self) -> Path:
        """The server log."""
        return self.base_dir / "server.log"

    def connect(self, dbname: str = "postgres", **options: Any) -> Any:
        """Open a psycopg connection as the superuser (autocommit).

        Raises
        ------
        psycopg.OperationalError
            If the server cannot be reached.
        """
        import psycopg

        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.superuser,
            password=self.superuser_password,
            dbname=dbname,
            autocommit=True,
            connect_timeout=10,
            **options,
        )

    def execute(
        self, sql: str, params: Sequence[object] = (), *, dbname: str = "postgres"
    ) -> list[tuple[Any, ...]]:
        """Run one statement as the superuser and return its rows (if any)."""
        with self.connect(dbname) as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            if cur.description is None:
                return []
            return list(cur.fetchall())

    def create_role(self, name: str, password: str) -> None:
        """Create a login role with ``password`` (any characters)."""
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(password)
                )
            )

    def create_database(self, name: str, *, owner: str) -> None:
        """Create database ``name`` owned by role ``owner``."""
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(owner)
                )
            )

    def backend_count(self, role: str) -> int:
        """Number of server processes connected as ``role`` (``pg_stat_activity``)."""
        rows = self.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (role,))
        return int(rows[0][0])


def _unprivileged_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise PostgresSetupError("running as root and neither 'postgres' nor 'nobody' exists")


def _run(args: list[str], *, os_user: str | None) -> subprocess.CompletedProcess[str]:
    command = ["runuser", "-u", os_user, "--", *args] if os_user is not None else args
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PostgresSetupError(f"{args[0]} could not be run: {exc}") from None
    if result.returncode != 0:
        raise PostgresSetupError(
            f"{' '.join(args[:2])} failed with exit code {result.returncode}: "
            f"{(result.stderr or result.stdout).strip()[-2000:]}"
        )
    return result


@contextlib.contextmanager
def running_postgres(
    *, os_user: str | None = None, attempts: int = 3
) -> Generator[PostgresServer]:
    """Start a throwaway PostgreSQL server; stop and delete it on exit.

    Parameters
    ----------
    os_user:
        Account to run the server as when running as root (default:
        ``postgres`` if it exists, else ``nobody``).
    attempts:
        Ports to try if another process takes the free port first.

    Yields
    ------
    PostgresServer

    Raises
    ------
    PostgresSetupError
        If the binaries are missing, ``initdb`` fails, or the server does not
        start (the log's tail is in the message).
    """
    reason = postgres_missing_reason()
    if reason is not None:
        raise PostgresSetupError(reason)
    user = os_user if os_user is not None else _unprivileged_user()
    base = Path(tempfile.mkdtemp(prefix="mxm-pg-"))
    password = secrets.token_urlsafe(24)
    server: PostgresServer | None = None
    try:
        pwfile = base / "pwfile"
        pwfile.write_text(password + "\n", encoding="utf-8")
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in (base, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        base.chmod(0o700)
        data = base / "data"
        _run(
            [
                "initdb",
                "-D",
                str(data),
                "-U",
                _SUPERUSER,
                f"--pwfile={pwfile}",
                "-A",
                "scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            os_user=user,
        )
        pwfile.unlink()
        last_error: PostgresSetupError | None = None
        for _ in range(max(1, attempts)):
            port = free_loopback_port()
            try:
                _run(
                    [
                        "pg_ctl",
                        "start",
                        "-w",
                        "-t",
                        "60",
                        "-D",
                        str(data),
                        "-l",
                        str(base / "server.log"),
                        "-o",
                        f"-k {base} -h {_HOST} -p {port} -F -c max_connections=40",
                    ],
                    os_user=user,
                )
            except PostgresSetupError as exc:
                last_error = exc
                continue
            server = PostgresServer(
                host=_HOST,
                port=port,
                superuser=_SUPERUSER,
                base_dir=base,
                superuser_password=password,
                os_user=user,
            )
            break
        if server is None:
            log = base / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PostgresSetupError(f"PostgreSQL did not start: {last_error}\n{tail}")
        yield server
    finally:
        if server is not None:
            with contextlib.suppress(PostgresSetupError):
                _run(["pg_ctl", "stop", "-w", "-m", "fast", "-D", str(base / "data")], os_user=user)
        shutil.rmtree(base, ignore_errors=True)
