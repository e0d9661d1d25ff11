"""SQLAlchemy engines for database views (optional extra ``sqlalchemy``).

``pip install 'mxm-runtime[sqlalchemy]'`` installs SQLAlchemy and psycopg 3.
``import mxm.runtime`` never imports this module; the container's ``engines``
resource imports it when the first engine is created.

:func:`create_database_engine` builds the engine of one view from its
:class:`~mxm.runtime.databases.DatabaseURL` and installs an error handler
that turns connection failures into documented errors that name the view and
never the password:

* :class:`~mxm.runtime.errors.DatabaseAuthenticationError` when the server
  rejects the user or password;
* :class:`~mxm.runtime.errors.DatabaseConnectionError` for every other
  failure to connect (server down, unknown database, SQLite file not
  openable).

Both are ``ConnectionError`` subclasses; errors of statements on an open
connection are SQLAlchemy's own.

:func:`context_engine` is the one-liner for scripts that hold a context and no
container (the caller disposes the engine).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext

from mxm.runtime.context import RuntimeContext
from mxm.runtime.databases import DatabaseURL, DatabaseView, _view_of, build_database_url
from mxm.runtime.errors import DatabaseAuthenticationError, DatabaseConnectionError

__all__ = ["context_engine", "create_database_engine"]

# SQLSTATE class 28: invalid authorization specification / invalid password.
_AUTH_SQLSTATES = frozenset({"28000", "28P01"})
_AUTH_PHRASES = (
    "password authentication failed",
    "authentication failed",
    "no password supplied",
)


def create_database_engine(view: DatabaseView, url: DatabaseURL, **engine_options: Any) -> Engine:
    """Create the SQLAlchemy engine of one database view.

    PostgreSQL engines use psycopg 3 (``postgresql+psycopg``) with
    ``pool_pre_ping=True``; SQLite engines create the database file's parent
    directory. ``engine_options`` are passed to
    :func:`sqlalchemy.create_engine` and win over these defaults.

    Parameters
    ----------
    view:
        The database view (named in errors).
    url:
        Its URL, password included (see
        :func:`~mxm.runtime.databases.build_database_url`).
    **engine_options:
        Extra :func:`sqlalchemy.create_engine` arguments.

    Returns
    -------
    sqlalchemy.Engine
        Not yet connected. Connecting raises
        :class:`~mxm.runtime.errors.DatabaseAuthenticationError` or
        :class:`~mxm.runtime.errors.DatabaseConnectionError` on failure.

    Raises
    ------
    DatabaseConnectionError
        (``ConnectionError``) the SQLite file's directory cannot be created.
    ImportError
        psycopg is not installed (PostgreSQL views).
    """
    options: dict[str, Any] = {}
    if view.driver == "postgresql":
        options["pool_pre_ping"] = True
    elif not view.is_memory and view.path is not None:
        try:
            Path(view.path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseConnectionError(
                f"Cannot create the directory of SQLite database view {view.view_name!r}: "
                f"{exc.strerror or exc}",
                key=view.key,
                hint=f"check that {Path(view.path).parent} can be created and written",
            ) from None
    options.update(engine_options)
    engine = create_engine(url.to_sqlalchemy(), **options)
    _install_error_translation(engine, view, url)
    return engine


def _install_error_translation(engine: Engine, view: DatabaseView, url: DatabaseURL) -> None:
    secrets = [url.password] if url.password else []

    def redact(text: str) -> str:
        from urllib.parse import quote

        for secret in secrets:
            text = text.replace(secret, "***").replace(quote(secret, safe=""), "***")
        return text

    def translate(context: ExceptionContext) -> BaseException | None:
        # Only failures to connect: there is no Connection yet.
        if context.connection is not None:
            return None
        original = context.original_exception
        detail = redact(" ".join(str(original).split()))
        sqlstate = getattr(original, "sqlstate", None)
        lowered = detail.lower()
        where = view.target()
        if sqlstate in _AUTH_SQLSTATES or any(phrase in lowered for phrase in _AUTH_PHRASES):
            secret = (
                f"the password in secret {view.password_ref!r} (mxm_secrets.refs)"
                if view.password_ref is not None
                else "password_ref (the view sets none)"
            )
            return DatabaseAuthenticationError(
                f"Authentication failed for database view {view.view_name!r} ({where})",
                key=view.key,
                hint=f"check {view.key}.user and {secret}; server said: {detail}",
            )
        return DatabaseConnectionError(
            f"Cannot connect to database view {view.view_name!r} ({where})",
            key=view.key,
            hint=f"check that the server is running and reachable ({detail})",
        )

    event.listen(engine, "handle_error", translate)


def context_engine(context: RuntimeContext, view_name: str, **engine_options: Any) -> Engine:
    """Create the engine of ``view_name`` from a context (caller disposes it).

    Prefer the container's ``engines`` resource, which creates each engine
    once and disposes it on ``shutdown_resources()``.

    Raises
    ------
    ConfigSectionError
        (``KeyError``) no such view.
    DatabaseCredentialsError
        (``RuntimeError``) the password cannot be obtained.
    """
    view = _view_of(context.db_configs, view_name, context.identity)
    url = build_database_url(view, secrets=context.secrets, identity=context.identity)
    return create_database_engine(view, url, **engine_options)
