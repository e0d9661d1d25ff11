"""Typed database views, connection URLs and a lazy engine registry.

Every MXM app that talks to a database used to repeat the same steps: read
``driver``/``host``/``port``/``name``/``user`` from the untyped
``mxm_databases`` view, fetch the password through
``secrets.get_secret(password_ref, identity=...)``, build a URL (forgetting to
percent-encode the password), create an engine and forget to dispose it. This
module does those steps once.

* :class:`DatabaseView` is one validated entry of ``mxm_databases``;
  :class:`DatabaseViews` is the read-only mapping of all of them that
  ``RuntimeContext.db_configs`` holds. Both keep the 0.1.2 attribute and item
  access (``ctx.db_configs.operational_state.host`` and
  ``ctx.db_configs["operational_state"]["host"]``).
* :func:`database_url` builds a :class:`DatabaseURL` with the password taken
  from the context's :class:`~mxm.secrets.SecretsApi` (never from
  configuration). Its ``str``/``repr`` mask the password.
* :class:`DatabaseEngines` creates one SQLAlchemy engine per view on first use
  and disposes them all on :meth:`DatabaseEngines.dispose`. It is what the
  container's ``engines`` resource yields. SQLAlchemy is imported only when the
  first engine is created (optional extra ``mxm-runtime[sqlalchemy]``).

Configuration
-------------
::

    mxm_databases:
      operational_state:            # PostgreSQL through psycopg 3
        driver: postgresql
        host: localhost
        port: 5432                  # optional, default 5432
        name: mxm_dev
        user: mxm_dev_app
        password_ref: operational_db_password   # optional (trust/cert auth)
        query: {sslmode: prefer}    # optional URL query options
      scratch:                      # SQLite: embedded, no server
        driver: sqlite
        path: ${mxm_paths.data_root}/scratch.sqlite   # absolute, or ":memory:"

Validation errors name the key, e.g. ``mxm_databases.operational_state.port``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, cast
from urllib.parse import quote

from dependency_injector import providers, resources
from mxm.config import MXMConfig, to_config_data
from mxm.secrets import SecretsApi
from mxm.types import RuntimeIdentity
from omegaconf import DictConfig

from mxm.runtime._provider import BUILD_LOCK
from mxm.runtime.errors import (
    ConfigSectionError,
    ConfigValueError,
    DatabaseCredentialsError,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.engine import URL

    from mxm.runtime.context import RuntimeContext

__all__ = [
    "DEFAULT_POSTGRESQL_PORT",
    "DRIVERS",
    "DatabaseDriver",
    "DatabaseEngines",
    "DatabaseURL",
    "DatabaseView",
    "DatabaseViews",
    "build_database_url",
    "database_url",
    "EnginesProvider",
    "EnginesResource",
    "parse_database_view",
    "parse_database_views",
]

type DatabaseDriver = Literal["postgresql", "sqlite"]
"""The drivers a view may name."""

DRIVERS: Final[tuple[str, ...]] = ("postgresql", "sqlite")
"""Supported ``driver`` values."""

DEFAULT_POSTGRESQL_PORT: Final[int] = 5432
"""Port used when a PostgreSQL view sets none."""

_SQLALCHEMY_DRIVERNAMES: Final[Mapping[str, str]] = MappingProxyType(
    {"postgresql": "postgresql+psycopg", "sqlite": "sqlite"}
)
_MEMORY: Final[str] = ":memory:"
_MASK: Final[str] = "***"
_KEYS: Final[tuple[str, ...]] = (
    "driver",
    "host",
    "port",
    "name",
    "user",
    "password_ref",
    "path",
    "query",
)
_NETWORK_KEYS: Final[frozenset[str]] = frozenset({"host", "port", "name", "user", "password_ref"})


# -- the typed view ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DatabaseView(Mapping[str, object]):
    """One validated entry of ``mxm_databases``.

    Holds configuration only: ``password_ref`` names a secret in
    ``mxm_secrets.refs``; the password itself is never stored here.

    Supports the 0.1.2 item access (``view["host"]``, ``"port" in view``,
    iteration over the configured keys) as a read-only mapping.

    Attributes
    ----------
    view_name:
        The key under ``mxm_databases`` (``operational_state``).
    driver:
        ``postgresql`` or ``sqlite``.
    host, port, name, user, password_ref:
        Server, port, database name, role and secret reference (PostgreSQL;
        ``None`` when not configured; ``port`` defaults to 5432).
    path:
        SQLite database file (absolute, ``~`` expanded) or ``:memory:``.
    query:
        URL query options (``sslmode``, ``connect_timeout``...), as strings.
    """

    view_name: str
    driver: DatabaseDriver
    host: str | None = None
    port: int | None = None
    name: str | None = None
    user: str | None = None
    password_ref: str | None = None
    path: str | None = None
    query: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), hash=False, compare=True
    )

    @property
    def key(self) -> str:
        """The dotted configuration key of this view (``mxm_databases.<name>``)."""
        return f"mxm_databases.{self.view_name}"

    @property
    def sqlalchemy_drivername(self) -> str:
        """SQLAlchemy ``dialect+driver`` (``postgresql+psycopg`` or ``sqlite``)."""
        return _SQLALCHEMY_DRIVERNAMES[self.driver]

    @property
    def is_memory(self) -> bool:
        """Whether this is an in-memory SQLite database."""
        return self.driver == "sqlite" and self.path == _MEMORY

    def target(self) -> str:
        """What the view connects to, without secrets (``postgresql u@h:5432/db``)."""
        if self.driver == "sqlite":
            return f"sqlite {self.path}"
        return f"{self.driver} {self.user}@{self.host}:{self.port}/{self.name}"

    def describe(self) -> str:
        """A one-line description without secrets (for messages and logs)."""
        return f"{self.key} ({self.target()})"

    # -- read-only mapping (0.1.2 item access) --------------------------------

    def _present(self) -> tuple[str, ...]:
        return tuple(
            key
            for key in _KEYS
            if (self.query if key == "query" else getattr(self, key) is not None)
        )

    def __getitem__(self, key: str) -> object:
        if key in _KEYS and key in self._present():
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._present())

    def __len__(self) -> int:
        return len(self._present())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._present()


class DatabaseViews(Mapping[str, DatabaseView]):
    """Read-only mapping of view name to :class:`DatabaseView`.

    ``RuntimeContext.db_configs`` holds one. Item and attribute access both
    work (``views["operational_state"]``, ``views.operational_state``); a
    view whose name clashes with a method (``get``, ``items``...) is reachable
    by item access.

    Parameters
    ----------
    views:
        The validated views, by name.
    source:
        The read-only ``mxm_databases`` configuration view they came from.
    """

    __slots__ = ("_source", "_views")
    _views: Mapping[str, DatabaseView]
    _source: MXMConfig | None

    def __init__(self, views: Mapping[str, DatabaseView], source: MXMConfig | None = None) -> None:
        object.__setattr__(self, "_views", MappingProxyType(dict(views)))
        object.__setattr__(self, "_source", source)

    @property
    def source(self) -> MXMConfig | None:
        """The untyped, read-only ``mxm_databases`` view (0.1.2 shape), if known."""
        return self._source

    def __getitem__(self, key: str) -> DatabaseView:
        return self._views[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)

    def __getattr__(self, name: str) -> DatabaseView:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._views[name]
        except KeyError:
            have = ", ".join(self._views) or "-"
            raise AttributeError(
                f"no database view {name!r} in mxm_databases (have: {have})"
            ) from None

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("DatabaseViews is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("DatabaseViews is read-only")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DatabaseViews):
            return dict(self._views) == dict(other._views)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"DatabaseViews({', '.join(view.describe() for view in self._views.values())})"

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._views})


# -- validation -------------------------------------------------------------------


def _fields(
    identity: RuntimeIdentity | None, store_root: Path | None, key: str, hint: str
) -> dict[str, Any]:
    where: Path | None = None
    if identity is not None and store_root is not None:
        where = store_root.expanduser() / "apps" / identity.app / "default.yaml"
    return {"identity": identity, "store_root": store_root, "file": where, "key": key, "hint": hint}


def _type_name(value: object) -> str:
    return type(value).__name__


def parse_database_view(
    view_name: str,
    data: object,
    *,
    secret_refs: frozenset[str] | None = None,
    identity: RuntimeIdentity | None = None,
    store_root: Path | None = None,
) -> DatabaseView:
    """Validate one ``mxm_databases`` entry and return its typed view.

    Parameters
    ----------
    view_name:
        The entry's key under ``mxm_databases``.
    data:
        The entry as plain data (a mapping).
    secret_refs:
        Names defined in ``mxm_secrets.refs``; when given, ``password_ref``
        must be one of them.
    identity, store_root:
        Used only to say in errors which runtime and store are involved.

    Returns
    -------
    DatabaseView

    Raises
    ------
    ConfigSectionError
        (``KeyError``) a required key is missing (``host``, ``name``,
        ``user`` for PostgreSQL; ``path`` for SQLite; ``driver``), or
        ``password_ref`` names no entry of ``mxm_secrets.refs``. The message
        names ``mxm_databases.<view_name>.<field>``.
    ConfigValueError
        (``TypeError``) the entry is not a mapping, a value has the wrong type
        (a non-integer ``port``...), the driver is unknown, a key is unknown,
        or a SQLite path is relative.
    """
    base = f"mxm_databases.{view_name}"
    if not isinstance(data, Mapping):
        raise ConfigValueError(
            f"Expected {base!r} to be a mapping, got {_type_name(data)}",
            **_fields(identity, store_root, base, "make it a mapping with driver, host, port..."),
        )
    entry = cast(Mapping[object, object], data)
    unknown = sorted(str(key) for key in entry if key not in _KEYS)
    if unknown:
        key = f"{base}.{unknown[0]}"
        raise ConfigValueError(
            f"Unknown key {key!r} in database view {view_name!r}",
            **_fields(identity, store_root, key, f"allowed keys: {', '.join(_KEYS)}"),
        )

    def missing(name: str, hint: str) -> ConfigSectionError:
        key = f"{base}.{name}"
        return ConfigSectionError(
            f"Required configuration key {key!r} is missing",
            **_fields(identity, store_root, key, hint),
        )

    def text(name: str, *, required: bool, hint: str) -> str | None:
        value = entry.get(name)
        if value is None:
            if required:
                raise missing(name, hint)
            return None
        key = f"{base}.{name}"
        if not isinstance(value, str):
            raise ConfigValueError(
                f"Expected {key!r} to be a string, got {_type_name(value)}",
                **_fields(identity, store_root, key, hint),
            )
        if not value.strip():
            raise ConfigValueError(
                f"Expected {key!r} to be a non-empty string",
                **_fields(identity, store_root, key, hint),
            )
        return value

    driver = text("driver", required=True, hint=f"set driver to one of: {', '.join(DRIVERS)}")
    if driver not in DRIVERS:
        key = f"{base}.driver"
        raise ConfigValueError(
            f"Unknown database driver {driver!r} at {key!r}",
            **_fields(identity, store_root, key, f"use one of: {', '.join(DRIVERS)}"),
        )

    query = _parse_query(entry.get("query"), f"{base}.query", identity, store_root)

    if driver == "sqlite":
        path = text(
            "path",
            required=True,
            hint="set path to an absolute file (e.g. ${mxm_paths.data_root}/app.sqlite) "
            "or ':memory:'",
        )
        assert path is not None
        if path != _MEMORY:
            expanded = Path(path).expanduser()
            if not expanded.is_absolute():
                key = f"{base}.path"
                raise ConfigValueError(
                    f"Expected {key!r} to be an absolute path or ':memory:', got a relative path",
                    **_fields(
                        identity,
                        store_root,
                        key,
                        "interpolate a root, e.g. path: ${mxm_paths.data_root}/app.sqlite",
                    ),
                )
            path = str(expanded)
        # Network keys may be inherited from a layer that configures PostgreSQL
        # (an environment switching to SQLite); they are kept but unused.
        return DatabaseView(
            view_name=view_name,
            driver="sqlite",
            host=_optional_str(entry, "host"),
            port=_optional_int(entry, "port"),
            name=_optional_str(entry, "name"),
            user=_optional_str(entry, "user"),
            password_ref=_optional_str(entry, "password_ref"),
            path=path,
            query=query,
        )

    host = text("host", required=True, hint="set host to the server name or address")
    name = text("name", required=True, hint="set name to the database name")
    user = text("user", required=True, hint="set user to the database role")
    password_ref = text(
        "password_ref",
        required=False,
        hint="set password_ref to the name of a secret in mxm_secrets.refs",
    )
    if password_ref is not None and secret_refs is not None and password_ref not in secret_refs:
        key = f"{base}.password_ref"
        raise ConfigSectionError(
            f"{key!r} names secret {password_ref!r}, which is not defined in mxm_secrets.refs",
            **_fields(
                identity,
                store_root,
                key,
                f"add mxm_secrets.refs.{password_ref} or fix the name "
                f"(defined: {', '.join(sorted(secret_refs)) or '-'})",
            ),
        )
    port = _port(entry.get("port"), f"{base}.port", identity, store_root)
    if path_value := entry.get("path"):
        key = f"{base}.path"
        raise ConfigValueError(
            f"{key!r} is only used by driver 'sqlite' (got {_type_name(path_value)})",
            **_fields(identity, store_root, key, "remove path, or set driver: sqlite"),
        )
    return DatabaseView(
        view_name=view_name,
        driver="postgresql",
        host=host,
        port=port,
        name=name,
        user=user,
        password_ref=password_ref,
        query=query,
    )


def _optional_str(entry: Mapping[object, object], key: str) -> str | None:
    value = entry.get(key)
    return value if isinstance(value, str) else None


def _optional_int(entry: Mapping[object, object], key: str) -> int | None:
    value = entry.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _port(
    value: object, key: str, identity: RuntimeIdentity | None, store_root: Path | None
) -> int:
    if value is None:
        return DEFAULT_POSTGRESQL_PORT
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigValueError(
            f"Expected {key!r} to be an integer, got {_type_name(value)}",
            **_fields(
                identity,
                store_root,
                key,
                "write the port as a YAML integer (5432); for an environment variable use "
                "${oc.decode:${oc.env:VAR}}",
            ),
        )
    if not 1 <= value <= 65535:
        raise ConfigValueError(
            f"Expected {key!r} to be a port number between 1 and 65535",
            **_fields(identity, store_root, key, "use a TCP port number"),
        )
    return value


def _parse_query(
    value: object, key: str, identity: RuntimeIdentity | None, store_root: Path | None
) -> Mapping[str, str]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping):
        raise ConfigValueError(
            f"Expected {key!r} to be a mapping of option names to values, got {_type_name(value)}",
            **_fields(identity, store_root, key, "e.g. query: {sslmode: require}"),
        )
    options: dict[str, str] = {}
    for option, option_value in cast(Mapping[object, object], value).items():
        if not isinstance(option, str) or not isinstance(option_value, str | int | float | bool):
            raise ConfigValueError(
                f"Expected {key}.{option} to be a string, number or boolean",
                **_fields(identity, store_root, f"{key}.{option}", "e.g. {sslmode: require}"),
            )
        if isinstance(option_value, bool):
            options[option] = "true" if option_value else "false"
        else:
            options[option] = str(option_value)
    return MappingProxyType(options)


def parse_database_views(
    config: MXMConfig,
    *,
    identity: RuntimeIdentity | None = None,
    store_root: Path | None = None,
) -> DatabaseViews:
    """Validate every entry of ``mxm_databases`` and return the typed views.

    ``password_ref`` values are checked against ``mxm_secrets.refs`` when that
    section is present.

    Parameters
    ----------
    config:
        The merged configuration (the whole tree).
    identity, store_root:
        Used only in error messages.

    Raises
    ------
    ConfigSectionError
        (``KeyError``) ``mxm_databases`` or a required key of an entry is
        missing, or a ``password_ref`` names no secret reference.
    ConfigValueError
        (``TypeError``) a section or value has the wrong type or the driver is
        unknown.
    """
    # Imported here: materialise imports this module for the typed views.
    from mxm.runtime.materialise import config_section

    section = config_section(config, "mxm_databases", identity=identity, store_root=store_root)
    data = to_config_data(section)
    secret_refs: frozenset[str] | None = None
    secrets_section = config.get("mxm_secrets") if isinstance(config, DictConfig) else None
    if isinstance(secrets_section, DictConfig):
        refs = secrets_section.get("refs")
        if isinstance(refs, DictConfig):
            secret_refs = frozenset(str(name) for name in refs)
    views = {
        str(view_name): parse_database_view(
            str(view_name),
            entry,
            secret_refs=secret_refs,
            identity=identity,
            store_root=store_root,
        )
        for view_name, entry in data.items()
    }
    return DatabaseViews(views, source=section)


def _as_views(db_configs: DatabaseViews | MXMConfig) -> DatabaseViews:
    if isinstance(db_configs, DatabaseViews):
        return db_configs
    # A hand-built 0.1.2 context holds the untyped mxm_databases view.
    views = {
        str(view_name): parse_database_view(str(view_name), entry)
        for view_name, entry in to_config_data(db_configs).items()
    }
    return DatabaseViews(views, source=db_configs)


# -- URLs ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class DatabaseURL:
    """A connection URL whose ``str`` and ``repr`` never show the password.

    Build it with :func:`database_url` or :func:`build_database_url`.
    :meth:`render` with ``hide_password=False`` gives the real URL string
    (user, password and database name percent-encoded);
    :meth:`to_sqlalchemy` gives a :class:`sqlalchemy.engine.URL` built from
    the raw parts, so no encoding round trip is involved.

    Attributes
    ----------
    drivername:
        ``postgresql+psycopg`` or ``sqlite``.
    username, host, port, database:
        The URL parts (``database`` is the SQLite file or ``:memory:``).
    query:
        Query options.
    view_name:
        The ``mxm_databases`` entry this URL was built for.
    """

    drivername: str
    username: str | None = None
    password: str | None = field(default=None, compare=False)
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    view_name: str | None = None

    def render(self, *, hide_password: bool = True) -> str:
        """Return the URL as a string.

        Parameters
        ----------
        hide_password:
            Replace the password by ``***`` (the default). Pass ``False`` only
            to hand the URL to a client that needs it; never log the result.
        """
        out = f"{self.drivername}://"
        if self.username is not None:
            out += quote(self.username, safe="")
            if self.password is not None:
                out += ":" + (_MASK if hide_password else quote(self.password, safe=""))
            out += "@"
        if self.host is not None:
            out += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            out += f":{self.port}"
        if self.database is not None and not (
            self.drivername == "sqlite" and self.database == _MEMORY
        ):
            out += "/" + quote(self.database, safe="/" if self.drivername == "sqlite" else "")
        if self.query:
            out += "?" + "&".join(
                f"{quote(key, safe='')}={quote(value, safe='')}"
                for key, value in sorted(self.query.items())
            )
        return out

    def to_sqlalchemy(self) -> URL:
        """Return the equivalent :class:`sqlalchemy.engine.URL`.

        Raises
        ------
        ImportError
            If SQLAlchemy is not installed (``pip install mxm-runtime[sqlalchemy]``).
        """
        from sqlalchemy.engine import URL

        return URL.create(
            self.drivername,
            username=self.username,
            password=self.password,
            host=self.host,
            port=self.port,
            database=self.database,
            query=dict(self.query),
        )

    def __str__(self) -> str:
        return self.render(hide_password=True)

    def __repr__(self) -> str:
        return f"DatabaseURL({self.render(hide_password=True)!r})"


def build_database_url(
    view: DatabaseView, *, secrets: SecretsApi | None, identity: RuntimeIdentity
) -> DatabaseURL:
    """Build the connection URL of one view, fetching its password.

    The password is read with ``secrets.get_secret(view.password_ref,
    identity=identity)``: the principal is the identity's role and
    mxm-secrets' policies apply.

    Parameters
    ----------
    view:
        The database view.
    secrets:
        The context's SecretsApi (only used when the view has a
        ``password_ref``).
    identity:
        Whose behalf the password is read on.

    Returns
    -------
    DatabaseURL

    Raises
    ------
    DatabaseCredentialsError
        (``RuntimeError``) the view has a ``password_ref`` but no SecretsApi
        was given, the reference is unknown, the identity's role may not read
        it, or the secret store returned nothing. The message names the view
        and the reference, never a secret value.
    """
    if view.driver == "sqlite":
        return DatabaseURL(
            drivername=view.sqlalchemy_drivername,
            database=view.path,
            query=view.query,
            view_name=view.view_name,
        )
    password: str | None = None
    if view.password_ref is not None:
        password = _fetch_password(view, secrets=secrets, identity=identity)
    return DatabaseURL(
        drivername=view.sqlalchemy_drivername,
        username=view.user,
        password=password,
        host=view.host,
        port=view.port,
        database=view.name,
        query=view.query,
        view_name=view.view_name,
    )


def _fetch_password(
    view: DatabaseView, *, secrets: SecretsApi | None, identity: RuntimeIdentity
) -> str:
    ref = view.password_ref
    assert ref is not None

    def fail(problem: str, hint: str) -> DatabaseCredentialsError:
        return DatabaseCredentialsError(
            problem, identity=identity, key=f"{view.key}.password_ref", hint=hint
        )

    if secrets is None:
        raise fail(
            f"Database view {view.view_name!r} needs secret {ref!r} but the context has no "
            "SecretsApi",
            "build the context with build_runtime_context or RuntimeContainer",
        )
    try:
        password = secrets.get_secret(ref, identity=identity)
    except PermissionError:
        raise fail(
            f"Role {identity.role!r} may not read secret {ref!r} of database view "
            f"{view.view_name!r}",
            f"add {identity.role!r} to the allowed_principals of the policy of "
            f"mxm_secrets.refs.{ref}",
        ) from None
    except KeyError as exc:
        raise fail(
            f"Secret {ref!r} of database view {view.view_name!r} cannot be resolved: "
            f"{exc.args[0] if exc.args else 'unknown name'}",
            f"define mxm_secrets.refs.{ref} and its store and policy",
        ) from None
    except ValueError as exc:
        raise fail(
            f"Secret {ref!r} of database view {view.view_name!r} cannot be resolved: {exc}",
            "check the store backend and the identity's role",
        ) from None
    if password is None:
        raise fail(
            f"The secret store returned no value for secret {ref!r} of database view "
            f"{view.view_name!r}",
            "check that gopass is installed, the store is initialised and the secret's "
            "path exists (gopass show <store root>/<path>)",
        )
    return password


def database_url(context: RuntimeContext, view_name: str) -> DatabaseURL:
    """Build the connection URL of database view ``view_name`` of a context.

    Parameters
    ----------
    context:
        A :class:`~mxm.runtime.RuntimeContext` (its ``identity``, ``secrets``
        and ``db_configs`` are used).
    view_name:
        The entry under ``mxm_databases``.

    Returns
    -------
    DatabaseURL
        Masked in ``str``/``repr``; ``render(hide_password=False)`` reveals it.

    Raises
    ------
    ConfigSectionError
        (``KeyError``) the context has no database views or no view of that
        name.
    DatabaseCredentialsError
        (``RuntimeError``) the password cannot be obtained (see
        :func:`build_database_url`).
    """
    view = _view_of(context.db_configs, view_name, context.identity)
    return build_database_url(view, secrets=context.secrets, identity=context.identity)


def _view_of(
    db_configs: DatabaseViews | MXMConfig | None, view_name: str, identity: RuntimeIdentity | None
) -> DatabaseView:
    if db_configs is None:
        raise ConfigSectionError(
            "The context has no database views (mxm_databases)",
            identity=identity,
            key="mxm_databases",
            hint="build the context with build_runtime_context or RuntimeContainer",
        )
    views = _as_views(db_configs)
    if view_name not in views:
        raise ConfigSectionError(
            f"No database view {view_name!r} in mxm_databases",
            identity=identity,
            key=f"mxm_databases.{view_name}",
            hint=f"configured views: {', '.join(views) or '-'}",
        )
    return views[view_name]


# -- engines --------------------------------------------------------------------------


type EngineFactory = Callable[[DatabaseView, DatabaseURL], Engine]
"""Builds an engine for a view from its URL (see :mod:`mxm.runtime.engines`)."""


class DatabaseEngines(Mapping[str, "Engine"]):
    """One SQLAlchemy engine per database view, created on first use.

    Item and attribute access (``engines["operational_state"]``,
    ``engines.operational_state``) create the engine on first use: the
    password is read through the SecretsApi then, not before. Iterating
    lists the view names without creating anything. :meth:`dispose`
    disposes every engine created (closing their pooled connections); the
    container's ``engines`` resource calls it on ``shutdown_resources()``.
    Thread-safe.

    Parameters
    ----------
    db_configs:
        The context's database views.
    secrets:
        The context's SecretsApi.
    identity:
        Whose behalf passwords are read on.
    factory:
        ``(view, url) -> Engine``; defaults to
        :func:`mxm.runtime.engines.create_database_engine`.
    """

    def __init__(
        self,
        db_configs: DatabaseViews | MXMConfig,
        secrets: SecretsApi | None,
        identity: RuntimeIdentity,
        *,
        factory: EngineFactory | None = None,
    ) -> None:
        self._views = _as_views(db_configs)
        self._secrets = secrets
        self._identity = identity
        self._factory = factory
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()
        self._closed = False

    @property
    def created(self) -> tuple[str, ...]:
        """Names of the views whose engine has been created (and not disposed)."""
        with self._lock:
            return tuple(self._engines)

    @property
    def closed(self) -> bool:
        """Whether :meth:`dispose` has run."""
        return self._closed

    def _factory_or_default(self) -> EngineFactory:
        if self._factory is not None:
            return self._factory
        try:
            from mxm.runtime.engines import create_database_engine
        except ImportError as exc:
            raise ImportError(
                "SQLAlchemy engines need the optional extra: pip install 'mxm-runtime[sqlalchemy]'"
                f" ({exc})"
            ) from None
        return create_database_engine

    def engine(self, view_name: str) -> Engine:
        """Return the engine of ``view_name``, creating it on first use.

        Raises
        ------
        ConfigSectionError
            (``KeyError``) there is no such view.
        DatabaseCredentialsError
            (``RuntimeError``) its password cannot be obtained.
        RuntimeError
            The engines were disposed (the container was shut down).
        ImportError
            SQLAlchemy is not installed.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError(
                    "database engines were disposed (container shut down); resolve "
                    "container.engines() again for new ones"
                )
            existing = self._engines.get(view_name)
            if existing is not None:
                return existing
            view = _view_of(self._views, view_name, self._identity)
            factory = self._factory_or_default()
            url = build_database_url(view, secrets=self._secrets, identity=self._identity)
            created = factory(view, url)
            self._engines[view_name] = created
            return created

    def dispose(self) -> None:
        """Dispose every created engine and refuse to create more. Idempotent."""
        with self._lock:
            engines = list(self._engines.values())
            self._engines.clear()
            self._closed = True
        for engine in engines:
            engine.dispose()

    def __getitem__(self, key: str) -> Engine:
        return self.engine(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)

    def __contains__(self, key: object) -> bool:
        return key in self._views

    def __getattr__(self, name: str) -> Engine:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._views:
            raise AttributeError(f"no database view {name!r} in mxm_databases")
        return self.engine(name)

    def __repr__(self) -> str:
        state = "disposed" if self._closed else f"created={list(self._engines)}"
        return f"DatabaseEngines(views={list(self._views)}, {state})"


class EnginesResource(resources.Resource[DatabaseEngines]):
    """Container resource: lazy engines, disposed on ``shutdown_resources()``.

    ``RuntimeContainer.engines`` is a ``providers.Resource`` of this class.
    The engines live until the container's resources are shut down (not until
    the container is garbage collected), so ``container.engines()`` may be
    held on its own.
    """

    def init(
        self,
        db_configs: DatabaseViews | MXMConfig,
        secrets: SecretsApi | None,
        identity: RuntimeIdentity,
    ) -> DatabaseEngines:
        """Return the (still empty) engine registry of the runtime.

        Raises
        ------
        ConfigValueError, ConfigSectionError
            If ``db_configs`` is an untyped view that fails validation.
        """
        return DatabaseEngines(db_configs, secrets, identity)

    def shutdown(self, resource: DatabaseEngines | None) -> None:
        """Dispose every engine created (closing pooled connections)."""
        if resource is not None:
            resource.dispose()


class EnginesProvider(providers.Resource[DatabaseEngines]):
    """``providers.Resource`` whose first resolution is serialised.

    Concurrent first calls of ``container.engines()`` get the same
    :class:`DatabaseEngines` (the plain ``Resource`` would initialise one per
    thread and shut down only the last), taking the runtime's build lock.
    """

    def _provide(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with BUILD_LOCK:
            # ``_provide`` is dependency-injector's (untyped) build hook.
            return cast(Any, super())._provide(args, kwargs)
