"""Typed database views, validation at build time, URLs and SQLite engines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any, cast

import httpx
import pytest
from dependency_injector import providers
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from mxm.config import MXMConfig
from sqlalchemy import event, make_url, text
from sqlalchemy.pool import QueuePool

from mxm.runtime import (
    ConfigSectionError,
    ConfigValueError,
    RuntimeContainer,
    RuntimeContext,
    RuntimeIdentity,
    build_runtime_context,
)
from mxm.runtime.databases import (
    DatabaseEngines,
    DatabaseURL,
    DatabaseView,
    DatabaseViews,
    EnginesResource,
    build_database_url,
    database_url,
    parse_database_view,
)
from mxm.runtime.engines import context_engine
from mxm.runtime.errors import (
    DatabaseConnectionError,
    DatabaseCredentialsError,
    MXMRuntimeError,
)
from mxm.runtime.fastapi import get_container_dependency, runtime_lifespan
from mxm.runtime.testing import (
    StaticSecretsApi,
    minimal_runtime_config,
    static_secrets_from_config,
    write_config_store,
)

EXAMPLE_STORE = Path(__file__).resolve().parents[1] / "examples" / "config-store"
APP = "db-app"
PASSWORD = "p@ss:w/rd%"
USER = "app@corp:x/y"


def identity(role: str = "app") -> RuntimeIdentity:
    return RuntimeIdentity(
        app=APP, environment="test", machine="ci", substrate="local-process", role=role
    )


def store_with(tmp_path: Path, databases: dict[str, Any], **sections: Any) -> Path:
    config = minimal_runtime_config(tmp_path, **sections)
    config["mxm_databases"] = databases
    return write_config_store(tmp_path / "store", APP, {"default": config})


def pg_entry(**changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "driver": "postgresql",
        "host": "db.internal",
        "port": 5432,
        "name": "mxm_test",
        "user": USER,
        "password_ref": "database_password",
    }
    entry.update(changes)
    return {key: value for key, value in entry.items() if value is not None}


def build_error(tmp_path: Path, entry: dict[str, Any]) -> MXMRuntimeError:
    root = store_with(tmp_path, {"main": entry})
    container = RuntimeContainer.from_identity(identity(), store_root=root)
    with pytest.raises(MXMRuntimeError) as info:
        container.context()
    # Nothing partially built is cached: the next resolution fails the same way.
    with pytest.raises(type(info.value)):
        container.db_configs()
    return info.value


# -- typed views ----------------------------------------------------------------


def test_example_store_views_keep_012_attribute_and_item_access() -> None:
    ctx = build_runtime_context(
        identity=RuntimeIdentity(
            app="mxm-moneymachine",
            environment="prod",
            machine="monolith",
            substrate="local-process",
            role="research",
        ),
        store_root=EXAMPLE_STORE,
    )
    views = ctx.db_configs
    assert isinstance(views, DatabaseViews)
    view = views["operational_state"]
    assert views.operational_state is view
    assert view.host == "db.prod.internal"
    assert view["host"] == "db.prod.internal"
    assert view["port"] == 5432
    assert view.port == 5432
    assert view.name == "mxm_prod"
    assert view.user == "mxm_prod_app"
    assert view.password_ref == "operational_db_password"
    assert view.view_name == "operational_state"
    assert "host" in view
    assert "path" not in view
    assert dict(view) == {
        "driver": "postgresql",
        "host": "db.prod.internal",
        "port": 5432,
        "name": "mxm_prod",
        "user": "mxm_prod_app",
        "password_ref": "operational_db_password",
    }
    assert list(views) == ["operational_state"]
    assert isinstance(views.source, MXMConfig)
    assert views.source.operational_state.host == "db.prod.internal"
    with pytest.raises(KeyError):
        view["password"]
    with pytest.raises(AttributeError, match="no database view 'nope'"):
        _ = views.nope
    with pytest.raises(AttributeError):
        views.__setattr__("extra", 1)


def test_layered_sqlite_override_ignores_inherited_network_keys(tmp_path: Path) -> None:
    config = minimal_runtime_config(tmp_path)
    root = write_config_store(
        tmp_path / "store",
        APP,
        {
            "default": config,
            "environment": {
                "test": {
                    "mxm_databases": {
                        "main": {"driver": "sqlite", "path": "${mxm_paths.data_root}/main.db"}
                    }
                }
            },
        },
    )
    ctx = build_runtime_context(identity=identity(), store_root=root)
    assert ctx.db_configs is not None
    view = ctx.db_configs.main
    assert view.driver == "sqlite"
    assert view.path == str(tmp_path / "data" / "main.db")
    url = database_url(ctx, "main")
    assert url.render(hide_password=False) == f"sqlite:///{tmp_path / 'data' / 'main.db'}"
    assert url.password is None


def test_defaults_and_query_options() -> None:
    view = parse_database_view(
        "main",
        {
            "driver": "postgresql",
            "host": "h",
            "name": "d",
            "user": "u",
            "query": {"sslmode": "require", "connect_timeout": 5, "keepalives": True},
        },
    )
    assert view.port == 5432
    assert view.password_ref is None
    assert dict(view.query) == {"sslmode": "require", "connect_timeout": "5", "keepalives": "true"}
    url = build_database_url(view, secrets=None, identity=identity())
    assert url.render() == (
        "postgresql+psycopg://u@h:5432/d?connect_timeout=5&keepalives=true&sslmode=require"
    )
    memory = parse_database_view("m", {"driver": "sqlite", "path": ":memory:"})
    assert memory.is_memory
    assert build_database_url(memory, secrets=None, identity=identity()).render() == "sqlite://"


# -- validation at build time ------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "error", "key"),
    [
        (pg_entry(host=None), ConfigSectionError, "mxm_databases.main.host"),
        (pg_entry(name=None), ConfigSectionError, "mxm_databases.main.name"),
        (pg_entry(user=None), ConfigSectionError, "mxm_databases.main.user"),
        (pg_entry(driver=None), ConfigSectionError, "mxm_databases.main.driver"),
        (pg_entry(port="5432"), ConfigValueError, "mxm_databases.main.port"),
        (pg_entry(port=True), ConfigValueError, "mxm_databases.main.port"),
        (pg_entry(port=70000), ConfigValueError, "mxm_databases.main.port"),
        (pg_entry(port=5432.0), ConfigValueError, "mxm_databases.main.port"),
        (pg_entry(driver="mysql"), ConfigValueError, "mxm_databases.main.driver"),
        (pg_entry(host=12), ConfigValueError, "mxm_databases.main.host"),
        (pg_entry(host="  "), ConfigValueError, "mxm_databases.main.host"),
        (pg_entry(hots="x"), ConfigValueError, "mxm_databases.main.hots"),
        (pg_entry(password_ref="nope"), ConfigSectionError, "mxm_databases.main.password_ref"),
        (pg_entry(query=["a"]), ConfigValueError, "mxm_databases.main.query"),
        (pg_entry(path="/x.db"), ConfigValueError, "mxm_databases.main.path"),
        ({"driver": "sqlite"}, ConfigSectionError, "mxm_databases.main.path"),
        ({"driver": "sqlite", "path": "rel/x.db"}, ConfigValueError, "mxm_databases.main.path"),
    ],
)
def test_bad_view_fails_the_build_naming_the_field(
    tmp_path: Path, entry: dict[str, Any], error: type[MXMRuntimeError], key: str
) -> None:
    exc = build_error(tmp_path, entry)
    assert type(exc) is error
    assert exc.key == key
    assert key in str(exc)
    builtin = KeyError if error is ConfigSectionError else TypeError
    assert isinstance(exc, builtin)
    assert exc.hint


def test_unknown_driver_message_lists_supported_drivers(tmp_path: Path) -> None:
    exc = build_error(tmp_path, pg_entry(driver="oracle"))
    assert "'oracle'" in str(exc)
    assert "postgresql, sqlite" in str(exc)


def test_view_that_is_not_a_mapping_fails(tmp_path: Path) -> None:
    root = store_with(tmp_path, {"main": "postgresql://x"})
    with pytest.raises(ConfigValueError, match=r"mxm_databases\.main"):
        build_runtime_context(identity=identity(), store_root=root)


def test_missing_section_still_a_key_error(tmp_path: Path) -> None:
    config = minimal_runtime_config(tmp_path)
    del config["mxm_databases"]
    root = write_config_store(tmp_path / "store", APP, {"default": config})
    with pytest.raises(KeyError, match="mxm_databases"):
        build_runtime_context(identity=identity(), store_root=root)


# -- URLs --------------------------------------------------------------------------


def secrets_for(tmp_path: Path, values: dict[str, str]) -> StaticSecretsApi:
    return static_secrets_from_config(minimal_runtime_config(tmp_path), values)


def test_url_percent_encodes_user_and_password_and_masks_them(tmp_path: Path) -> None:
    view = parse_database_view("main", pg_entry(name="db/x"))
    secrets = secrets_for(tmp_path, {"database_password": PASSWORD})
    url = build_database_url(view, secrets=secrets, identity=identity())
    assert url.render(hide_password=False) == (
        "postgresql+psycopg://app%40corp%3Ax%2Fy:p%40ss%3Aw%2Frd%25@db.internal:5432/db%2Fx"
    )
    assert str(url) == "postgresql+psycopg://app%40corp%3Ax%2Fy:***@db.internal:5432/db%2Fx"
    assert url.render() == str(url)
    for shown in (str(url), repr(url), f"{url}", f"{url!r}"):
        assert PASSWORD not in shown
        assert "p%40ss" not in shown
    assert url.password == PASSWORD
    # SQLAlchemy reads the rendered string back to the same parts.
    parsed = make_url(url.render(hide_password=False))
    assert (parsed.username, parsed.password) == (USER, PASSWORD)
    assert parsed.database == "db/x"
    native = url.to_sqlalchemy()
    assert (native.username, native.password, native.port) == (USER, PASSWORD, 5432)
    assert PASSWORD not in repr(native)
    assert secrets.requested_names == ("database_password",)


@settings(max_examples=200, deadline=None)
@given(user=st.text(min_size=1), password=st.text(min_size=1))
def test_any_user_and_password_round_trip_through_the_rendered_url(
    user: str, password: str
) -> None:
    url = DatabaseURL(
        drivername="postgresql+psycopg",
        username=user,
        password=password,
        host="h",
        port=5432,
        database="d",
    )
    parsed = make_url(url.render(hide_password=False))
    assert (parsed.username, parsed.password, parsed.host, parsed.database) == (
        user,
        password,
        "h",
        "d",
    )
    assert ":***@" in str(url)


def test_url_of_ipv6_host_is_bracketed() -> None:
    view = parse_database_view("v6", pg_entry(host="::1", password_ref=None))
    url = build_database_url(view, secrets=None, identity=identity())
    assert url.render() == "postgresql+psycopg://app%40corp%3Ax%2Fy@[::1]:5432/mxm_test"
    assert make_url(url.render()).host == "::1"


def test_password_of_forbidden_role_is_a_credentials_error(tmp_path: Path) -> None:
    view = parse_database_view("main", pg_entry())
    secrets = secrets_for(tmp_path, {"database_password": PASSWORD})
    with pytest.raises(DatabaseCredentialsError) as info:
        build_database_url(view, secrets=secrets, identity=identity(role="intruder"))
    message = str(info.value)
    assert "'intruder'" in message
    assert "'main'" in message
    assert "database_password" in message
    assert PASSWORD not in message
    assert info.value.key == "mxm_databases.main.password_ref"
    assert isinstance(info.value, RuntimeError)


def test_password_missing_from_the_store_is_a_credentials_error(tmp_path: Path) -> None:
    view = parse_database_view("main", pg_entry())
    with pytest.raises(DatabaseCredentialsError, match="returned no value"):
        build_database_url(view, secrets=secrets_for(tmp_path, {}), identity=identity())
    with pytest.raises(DatabaseCredentialsError, match="no SecretsApi"):
        build_database_url(view, secrets=None, identity=identity())
    unknown = parse_database_view("main", pg_entry(password_ref="not_configured"))
    with pytest.raises(DatabaseCredentialsError, match="not_configured"):
        build_database_url(unknown, secrets=secrets_for(tmp_path, {}), identity=identity())


def test_database_url_from_context_and_unknown_view(tmp_path: Path) -> None:
    root = store_with(tmp_path, {"main": pg_entry()})
    container = RuntimeContainer.from_identity(identity(), store_root=root)
    container.secrets.override(secrets_for(tmp_path, {"database_password": PASSWORD}))
    ctx = container.context()
    assert make_url(database_url(ctx, "main").render(hide_password=False)).password == PASSWORD
    with pytest.raises(ConfigSectionError, match="No database view 'other'") as info:
        database_url(ctx, "other")
    assert isinstance(info.value, KeyError)
    assert "configured views: main" in str(info.value)


def test_hand_built_012_context_with_untyped_view_still_works(tmp_path: Path) -> None:
    root = store_with(tmp_path, {"main": pg_entry()})
    container = RuntimeContainer.from_identity(identity(), store_root=root)
    views = container.db_configs()
    assert views.source is not None
    ctx = RuntimeContext(
        identity=identity(),
        config=container.config(),
        secrets=secrets_for(tmp_path, {"database_password": PASSWORD}),
        db_configs=views.source,  # type: ignore[arg-type]  # the 0.1.2 shape
    )
    assert database_url(ctx, "main").password == PASSWORD


# -- engines (SQLite: no server needed) ------------------------------------------------


def sqlite_container(tmp_path: Path) -> RuntimeContainer:
    root = store_with(
        tmp_path,
        {
            "state": {"driver": "sqlite", "path": "${mxm_paths.data_root}/state/state.db"},
            "scratch": {"driver": "sqlite", "path": ":memory:"},
        },
    )
    return RuntimeContainer.from_identity(identity(), store_root=root)


def test_engines_are_created_lazily_once_and_disposed_on_shutdown(tmp_path: Path) -> None:
    container = sqlite_container(tmp_path)
    engines = container.engines()
    assert isinstance(engines, DatabaseEngines)
    assert set(engines) == {"state", "scratch"}
    assert not engines.created
    engine = engines["state"]
    assert engines.state is engine
    assert container.engines() is engines
    assert engines.created == ("state",)
    closed: list[object] = []

    def on_close(dbapi_conn: object, record: object) -> None:
        closed.append(dbapi_conn)

    event.listen(engine, "close", on_close)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (42)"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalar_one() == 42
    assert (tmp_path / "data" / "state" / "state.db").is_file()
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    assert pool.checkedin() == 1  # a pooled, open connection
    assert closed == []

    container.shutdown_resources()

    assert len(closed) == 1  # the pooled connection was closed
    assert engines.closed
    assert len(engines.created) == 0
    with pytest.raises(RuntimeError, match="disposed"):
        engines["state"]
    fresh = container.engines()
    assert fresh is not engines
    assert not fresh.closed
    with fresh["state"].connect() as conn:  # the data survived on disk
        assert conn.execute(text("SELECT x FROM t")).scalar_one() == 42
    container.shutdown_resources()
    assert fresh.closed


def test_engines_provider_is_overridable(tmp_path: Path) -> None:
    container = sqlite_container(tmp_path)
    stand_in = DatabaseEngines(
        DatabaseViews(
            {"state": DatabaseView(view_name="state", driver="sqlite", path=":memory:")}
        ),
        None,
        identity(),
    )
    with container.engines.override(providers.Object(stand_in)):  # pyright: ignore[reportUnknownMemberType]
        assert container.engines() is stand_in
        with stand_in["state"].connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    assert container.engines() is not stand_in
    container.shutdown_resources()
    stand_in.dispose()


def test_unknown_engine_name_is_a_config_error(tmp_path: Path) -> None:
    engines = sqlite_container(tmp_path).engines()
    with pytest.raises(ConfigSectionError, match="No database view 'nope'"):
        engines["nope"]
    with pytest.raises(AttributeError):
        _ = engines.nope
    engines.dispose()


def test_context_engine_and_sqlite_connection_error(tmp_path: Path) -> None:
    container = sqlite_container(tmp_path)
    engine = context_engine(container.context(), "scratch")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 2")).scalar_one() == 2
    finally:
        engine.dispose()
    blocker = tmp_path / "data"
    blocker.mkdir(parents=True, exist_ok=True)
    (blocker / "state").write_text("a file, not a directory")
    with pytest.raises(DatabaseConnectionError, match="'state'") as info:
        context_engine(container.context(), "state")
    assert info.value.key == "mxm_databases.state"
    assert isinstance(info.value, ConnectionError)


def test_import_mxm_runtime_does_not_import_sqlalchemy() -> None:
    code = (
        "import sys, mxm.runtime\n"
        "from mxm.runtime import RuntimeContainer\n"
        "import mxm.runtime.databases\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'psycopg')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_engines_without_the_extra_name_the_extra(tmp_path: Path) -> None:
    root = store_with(tmp_path, {"scratch": {"driver": "sqlite", "path": ":memory:"}})
    code = (
        "import sys\n"
        "sys.modules['sqlalchemy'] = None\n"
        "from pathlib import Path\n"
        "from mxm.runtime import RuntimeContainer, RuntimeIdentity\n"
        f"i = RuntimeIdentity(app={APP!r}, environment='test', machine='ci',"
        " substrate='local-process', role='app')\n"
        f"c = RuntimeContainer.from_identity(i, store_root=Path({str(root)!r}))\n"
        "engines = c.engines()\n"
        "assert list(engines) == ['scratch']\n"
        "try:\n"
        "    engines['scratch']\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
        "c.shutdown_resources()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, timeout=120, capture_output=True, text=True
    )
    assert "pip install 'mxm-runtime[sqlalchemy]'" in out.stdout


def test_concurrent_first_resolution_yields_one_engine_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    original = EnginesResource.init

    def slow_init(self: EnginesResource, *args: Any) -> DatabaseEngines:
        time.sleep(0.02)  # widen the race window of the first resolution
        return original(self, *args)

    monkeypatch.setattr(EnginesResource, "init", slow_init)
    container = sqlite_container(tmp_path)
    container.context()
    barrier = threading.Barrier(16)
    seen: list[DatabaseEngines] = []

    def resolve() -> None:
        barrier.wait()
        seen.append(container.engines())

    threads = [threading.Thread(target=resolve) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(seen) == 16
    assert len({id(engines) for engines in seen}) == 1
    container.shutdown_resources()
    assert seen[0].closed


def test_fastapi_lifespan_disposes_the_engines(tmp_path: Path) -> None:
    container = sqlite_container(tmp_path)
    app = FastAPI(lifespan=runtime_lifespan(container))
    closed: list[object] = []

    @app.get("/answer")
    def answer(
        runtime: Annotated[RuntimeContainer, Depends(get_container_dependency)],
    ) -> dict[str, int]:
        engine = runtime.engines()["state"]
        if not closed:
            event.listen(engine, "close", lambda *_: closed.append(True))  # pyright: ignore[reportUnknownLambdaType]
        with engine.connect() as conn:
            return {"answer": conn.execute(text("SELECT 42")).scalar_one()}

    with TestClient(app) as client:
        engines = container.engines()
        response = cast(httpx.Response, client.get("/answer"))  # pyright: ignore[reportUnknownMemberType]
        assert response.json() == {"answer": 42}
        assert engines.created == ("state",)
        assert closed == []
    assert engines.closed
    assert closed == [True]
