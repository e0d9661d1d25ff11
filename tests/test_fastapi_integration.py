"""mxm.runtime.fastapi: lifespan, typed dependencies, overrides, Provide idiom.

Every test drives a real FastAPI app through FastAPI's TestClient (which runs
the lifespan) over a real container built from a throwaway config store.
"""

import logging
import sys
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, cast

import httpx
import pytest
from dependency_injector import providers
from dependency_injector.wiring import Provide, inject
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.testclient import TestClient
from mxm.config import MXMConfig
from mxm.types import RuntimeIdentity

from mxm.runtime import (
    ConfigSectionError,
    ConfigStoreNotFoundError,
    RuntimeContainer,
    RuntimeContext,
    RuntimePaths,
    RuntimeSettingsError,
)
from mxm.runtime.databases import DatabaseView
from mxm.runtime.fastapi import (
    STATE_ATTRIBUTE,
    ConfigDep,
    ContainerDep,
    ContextDep,
    IdentityDep,
    PathsDep,
    RuntimeDeps,
    RuntimeNotStartedError,
    SecretsDep,
    database_view,
    get_container,
    runtime_lifespan,
)
from mxm.runtime.testing import (
    TEST_DATABASE,
    TEST_PRINCIPAL,
    TEST_SECRET,
    StaticSecretsApi,
    minimal_runtime_config,
    override_runtime,
    static_secrets_from_config,
    write_config_store,
)

APP = "svc"

MainDB = Annotated[DatabaseView, Depends(database_view(TEST_DATABASE))]


def _get(client: TestClient, url: str) -> httpx.Response:
    """``client.get`` typed (starlette types TestClient against httpx2)."""
    return cast(httpx.Response, client.get(url))  # pyright: ignore[reportUnknownMemberType]


def _identity(role: str = TEST_PRINCIPAL) -> RuntimeIdentity:
    return RuntimeIdentity(
        app=APP, environment="test", machine="box", substrate="local-process", role=role
    )


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    return write_config_store(
        tmp_path / "store", APP, {"default": minimal_runtime_config(tmp_path / "rt")}
    )


@pytest.fixture
def container(store_root: Path) -> RuntimeContainer:
    return RuntimeContainer.from_identity(_identity(), store_root=store_root)


def _typed_app(container: RuntimeContainer) -> FastAPI:
    app = FastAPI(lifespan=runtime_lifespan(container))

    @app.get("/context")
    async def context(ctx: ContextDep) -> dict[str, str]:
        return {"app": ctx.identity.app, "role": ctx.identity.role}

    @app.get("/identity")
    async def identity(identity: IdentityDep) -> dict[str, str]:
        return {"app": identity.app, "environment": identity.environment, "role": identity.role}

    @app.get("/paths")
    async def paths(paths: PathsDep) -> dict[str, str]:
        return {"data_root": str(paths.data_root), "log_root": str(paths.log_root)}

    @app.get("/secret")
    async def secret(secrets: SecretsDep, identity: IdentityDep) -> dict[str, Any]:
        value = secrets.get_secret(TEST_SECRET, identity=identity)
        return {"length": None if value is None else len(value)}

    @app.get("/database")
    async def database(db: MainDB) -> dict[str, Any]:
        return {"host": db.host, "port": db.port, "name": db.name}

    @app.get("/config")
    async def config(config: ConfigDep) -> dict[str, Any]:
        return {"port": config.mxm_databases[TEST_DATABASE].port}

    @app.get("/container")
    async def same_container(found: ContainerDep) -> dict[str, bool]:
        return {"same": found is container}

    return app


# -- typed dependencies --------------------------------------------------------


def test_every_typed_dependency_resolves_through_the_container(
    container: RuntimeContainer, tmp_path: Path
) -> None:
    secrets = static_secrets_from_config(container.config(), {TEST_SECRET: "pw-12345"})
    container.secrets.override(providers.Object(secrets))
    with TestClient(_typed_app(container)) as client:
        assert _get(client, "/context").json() == {"app": APP, "role": TEST_PRINCIPAL}
        assert _get(client, "/identity").json() == {
            "app": APP,
            "environment": "test",
            "role": TEST_PRINCIPAL,
        }
        assert _get(client, "/paths").json() == {
            "data_root": str(tmp_path / "rt" / "data"),
            "log_root": str(tmp_path / "rt" / "logs"),
        }
        assert _get(client, "/secret").json() == {"length": len("pw-12345")}
        assert _get(client, "/database").json() == {
            "host": "localhost",
            "port": 5432,
            "name": "mxm_test",
        }
        assert _get(client, "/config").json() == {"port": 5432}
        assert _get(client, "/container").json() == {"same": True}
    assert secrets.requested_names == (TEST_SECRET,)


def test_typed_dependencies_are_async_so_fastapi_does_not_use_its_thread_pool() -> None:
    import inspect

    from mxm.runtime import fastapi as integration

    for dependency in (
        integration.get_context,
        integration.get_secrets,
        integration.get_paths,
        integration.get_identity,
        integration.get_config,
        integration.get_container_dependency,
        database_view("x"),
        RuntimeDeps(RuntimeContainer()).context,
        RuntimeDeps(RuntimeContainer()).database("x"),
    ):
        assert inspect.iscoroutinefunction(dependency), dependency


def test_overrides_take_effect_without_restarting_the_app(
    container: RuntimeContainer, tmp_path: Path
) -> None:
    first = static_secrets_from_config(container.config(), {TEST_SECRET: "short"})
    second = static_secrets_from_config(container.config(), {TEST_SECRET: "a-much-longer-one"})
    other_paths = RuntimePaths(
        data_root=tmp_path / "d2",
        artifact_root=tmp_path / "a2",
        export_root=tmp_path / "e2",
        log_root=tmp_path / "l2",
    )
    with TestClient(_typed_app(container)) as client:
        assert _get(client, "/paths").json()["data_root"] == str(tmp_path / "rt" / "data")
        with override_runtime(container, secrets=first):
            assert _get(client, "/secret").json() == {"length": 5}
            with override_runtime(container, secrets=second, paths=other_paths):
                assert _get(client, "/secret").json() == {"length": len("a-much-longer-one")}
                assert _get(client, "/paths").json()["data_root"] == str(tmp_path / "d2")
                # The context seen by handlers is rebuilt from the overrides too.
                assert container.context().paths == other_paths
            assert _get(client, "/secret").json() == {"length": 5}
        # Back to the store's own paths once the override ends.
        assert _get(client, "/paths").json()["data_root"] == str(tmp_path / "rt" / "data")


def test_config_override_reaches_database_views(
    container: RuntimeContainer, tmp_path: Path
) -> None:
    changed_root = write_config_store(
        tmp_path / "store2",
        APP,
        {
            "default": minimal_runtime_config(
                tmp_path / "rt", mxm_databases={TEST_DATABASE: {"port": 6543, "name": "other"}}
            )
        },
    )
    changed = RuntimeContainer.from_identity(_identity(), store_root=changed_root).config()
    with TestClient(_typed_app(container)) as client:
        assert _get(client, "/database").json()["port"] == 5432
        with override_runtime(container, config=changed):
            assert _get(client, "/database").json() == {
                "host": "localhost",
                "port": 6543,
                "name": "other",
            }
            assert _get(client, "/config").json() == {"port": 6543}
        assert _get(client, "/database").json()["port"] == 5432


def test_runtime_deps_bind_one_container_without_the_lifespan(
    container: RuntimeContainer,
) -> None:
    deps = RuntimeDeps(container)
    app = FastAPI()  # no lifespan: RuntimeDeps does not need app.state

    @app.get("/all")
    async def everything(
        ctx: Annotated[RuntimeContext, Depends(deps.context)],
        identity: Annotated[RuntimeIdentity, Depends(deps.identity)],
        paths: Annotated[RuntimePaths, Depends(deps.paths)],
        config: Annotated[MXMConfig, Depends(deps.config)],
        db: Annotated[DatabaseView, Depends(deps.database(TEST_DATABASE))],
        secrets: Annotated[Any, Depends(deps.secrets)],
    ) -> dict[str, Any]:
        return {
            "same_identity": ctx.identity == identity,
            "data": paths.data_root.name,
            "port": db.port,
            "config_port": config.mxm_databases[TEST_DATABASE].port,
            "secrets_is_context": secrets is ctx.secrets,
        }

    with TestClient(app) as client:
        assert _get(client, "/all").json() == {
            "same_identity": True,
            "data": "data",
            "port": 5432,
            "config_port": 5432,
            "secrets_is_context": True,
        }


def test_a_dependency_without_the_lifespan_fails_with_a_clear_error(
    container: RuntimeContainer,
) -> None:
    app = FastAPI()

    @app.get("/context")
    async def context(ctx: ContextDep) -> str:
        return ctx.identity.app

    with (
        TestClient(app, raise_server_exceptions=True) as client,
        pytest.raises(RuntimeNotStartedError, match="runtime_lifespan") as caught,
    ):
        _get(client, "/context")
    assert isinstance(caught.value, RuntimeError)
    with pytest.raises(RuntimeNotStartedError):
        get_container(app)


def test_a_missing_database_view_in_runtime_deps_names_the_key(
    container: RuntimeContainer,
) -> None:
    deps = RuntimeDeps(container)
    app = FastAPI()

    @app.get("/db")
    async def db(view: Annotated[DatabaseView, Depends(deps.database("warehouse"))]) -> str:
        return str(view.host)

    with TestClient(app) as client, pytest.raises(ConfigSectionError) as caught:
        _get(client, "/db")
    assert "mxm_databases.warehouse" in str(caught.value)
    assert TEST_DATABASE in str(caught.value)  # lists what is configured


# -- lifespan --------------------------------------------------------------------


def test_lifespan_stores_the_container_only_while_running(container: RuntimeContainer) -> None:
    app = _typed_app(container)
    assert getattr(app.state, STATE_ATTRIBUTE, None) is None
    with TestClient(app):
        assert get_container(app) is container
    assert getattr(app.state, STATE_ATTRIBUTE, None) is None


def test_lifespan_composes_with_the_apps_own_lifespan(container: RuntimeContainer) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def own(app: FastAPI) -> AsyncGenerator[dict[str, Any]]:
        # The runtime is already running when the app's lifespan starts.
        events.append(f"own start, app={get_container(app).identity().app}")
        yield {"greeting": "hello"}
        events.append("own stop")

    def up() -> Iterator[None]:
        events.append("resources up")
        yield
        events.append("resources down")

    container.set_provider("probe", providers.Resource(up))  # pyright: ignore[reportUnknownMemberType]
    app = FastAPI(lifespan=runtime_lifespan(container, own))

    @app.get("/state")
    async def state(ctx: ContextDep, request_state: Annotated[Any, Depends(_request_state)]) -> Any:
        return {"greeting": request_state.greeting, "app": ctx.identity.app}

    with TestClient(app) as client:
        assert _get(client, "/state").json() == {"greeting": "hello", "app": APP}
    assert events == ["resources up", f"own start, app={APP}", "own stop", "resources down"]


async def _request_state(request: Request) -> Any:
    return request.state


def test_runtime_lifespan_nests_inside_an_apps_own_lifespan(container: RuntimeContainer) -> None:
    @asynccontextmanager
    async def own(app: FastAPI) -> AsyncGenerator[None]:
        async with runtime_lifespan(container)(app):
            yield

    app = FastAPI(lifespan=own)

    @app.get("/identity")
    async def identity(identity: IdentityDep) -> str:
        return identity.role

    with TestClient(app) as client:
        assert _get(client, "/identity").json() == TEST_PRINCIPAL


def test_lifespan_starts_and_shuts_down_container_resources(store_root: Path) -> None:
    events: list[str] = []

    def open_pool() -> Iterator[str]:
        events.append("open")
        yield "pool"
        events.append("close")

    class ServiceContainer(RuntimeContainer):
        pool = providers.Resource(open_pool)

    container = ServiceContainer.from_identity(_identity(), store_root=store_root)
    app = FastAPI(lifespan=runtime_lifespan(container))

    @app.get("/pool")
    async def pool(found: ContainerDep) -> Any:
        return found.pool()

    assert events == []
    with TestClient(app) as client:
        assert events == ["open"]
        assert _get(client, "/pool").json() == "pool"
    assert events == ["open", "close"]


def test_lifespan_awaits_async_resources(store_root: Path) -> None:
    events: list[str] = []

    async def async_pool() -> AsyncGenerator[str]:
        events.append("open")
        yield "async-pool"
        events.append("close")

    class ServiceContainer(RuntimeContainer):
        pool = providers.Resource(async_pool)

    container = ServiceContainer.from_identity(_identity(), store_root=store_root)
    with TestClient(FastAPI(lifespan=runtime_lifespan(container))):
        assert events == ["open"]
    assert events == ["open", "close"]


# -- start-up failure ------------------------------------------------------------


def test_a_missing_store_stops_the_app_before_it_serves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    container = RuntimeContainer.from_identity(_identity(), store_root=tmp_path / "nowhere")
    app = _typed_app(container)
    with (
        caplog.at_level(logging.ERROR, logger="mxm.runtime.fastapi"),
        pytest.raises(ConfigStoreNotFoundError) as caught,
        TestClient(app),
    ):
        pytest.fail("the app must not start")  # pragma: no cover
    assert str(tmp_path / "nowhere") in str(caught.value)
    assert "will not start" in caplog.text
    assert str(caught.value) in caplog.text
    assert getattr(app.state, STATE_ATTRIBUTE, None) is None


def test_a_missing_section_stops_the_app_with_the_runtimes_message(tmp_path: Path) -> None:
    config = minimal_runtime_config(tmp_path / "rt")
    del config["mxm_paths"]
    root = write_config_store(tmp_path / "store", APP, {"default": config})
    container = RuntimeContainer.from_identity(_identity(), store_root=root)
    started: list[str] = []

    @asynccontextmanager
    async def own(app: FastAPI) -> AsyncGenerator[None]:
        started.append("own")  # pragma: no cover
        yield  # pragma: no cover

    with (
        pytest.raises(ConfigSectionError, match="mxm_paths") as caught,
        TestClient(_typed_app_with(container, own)),
    ):
        pytest.fail("the app must not start")  # pragma: no cover
    assert isinstance(caught.value, KeyError)  # 0.1.2 clients' except KeyError still works
    assert started == []  # the app's own lifespan never ran


def _typed_app_with(
    container: RuntimeContainer, own: Callable[[FastAPI], AbstractAsyncContextManager[None]]
) -> FastAPI:
    return FastAPI(lifespan=runtime_lifespan(container, own))


def test_an_invalid_identity_from_settings_stops_the_app(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, store_root: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("MXM_APP", APP)
    monkeypatch.setenv("MXM_ENVIRONMENT", "test")
    monkeypatch.setenv("MXM_ROLE", "Not A Role!")
    monkeypatch.setenv("MXM_MACHINE", "box")
    monkeypatch.setenv("MXM_SUBSTRATE", "local-process")
    monkeypatch.setenv("MXM_CONFIG_STORE_ROOT", str(store_root))
    app = _typed_app(RuntimeContainer())
    with pytest.raises(ValueError, match="MXM_ROLE") as caught, TestClient(app):
        pytest.fail("the app must not start")  # pragma: no cover
    assert isinstance(caught.value, (RuntimeSettingsError, ValueError))
    assert "Traceback" not in str(caught.value)


def test_a_database_view_no_route_can_get_stops_the_app_at_start_up(
    container: RuntimeContainer,
) -> None:
    app = FastAPI(lifespan=runtime_lifespan(container))
    router = APIRouter(dependencies=[Depends(database_view("warehouse"))])

    @router.get("/report")
    async def report() -> str:  # pragma: no cover - never served
        return "never"

    app.include_router(router)
    with (
        pytest.raises(ConfigSectionError, match=r"mxm_databases\.warehouse"),
        TestClient(app),
    ):
        pytest.fail("the app must not start")  # pragma: no cover


# -- the dependency-injector idiom ------------------------------------------------

provide_router = APIRouter()


@provide_router.get("/provide/context")
@inject
async def provide_context(
    ctx: RuntimeContext = Depends(Provide[RuntimeContainer.context]),  # noqa: B008
) -> dict[str, str]:
    return {"app": ctx.identity.app}


@provide_router.get("/provide/secret")
@inject
async def provide_secret(
    secrets: Annotated[StaticSecretsApi, Depends(Provide[RuntimeContainer.secrets])],
    identity: Annotated[RuntimeIdentity, Depends(Provide[RuntimeContainer.identity])],
) -> dict[str, Any]:
    value = secrets.get_secret(TEST_SECRET, identity=identity)
    return {"length": None if value is None else len(value)}


@provide_router.get("/provide/paths")
@inject
async def provide_paths(
    paths: Annotated[RuntimePaths, Depends(Provide[RuntimeContainer.paths])],
) -> dict[str, str]:
    return {"data_root": str(paths.data_root)}


def test_the_provide_idiom_works_with_wiring_and_overrides(
    container: RuntimeContainer, tmp_path: Path
) -> None:
    secrets = static_secrets_from_config(container.config(), {TEST_SECRET: "abc"})
    container.wire(modules=[sys.modules[__name__]])
    try:
        app = FastAPI(lifespan=runtime_lifespan(container))
        app.include_router(provide_router)
        with TestClient(app) as client:
            assert _get(client, "/provide/context").json() == {"app": APP}
            assert _get(client, "/provide/paths").json() == {
                "data_root": str(tmp_path / "rt" / "data")
            }
            with override_runtime(container, secrets=secrets):
                assert _get(client, "/provide/secret").json() == {"length": 3}
                assert secrets.requested_names == (TEST_SECRET,)
    finally:
        container.unwire()


def test_a_failing_resource_stops_start_up_and_shuts_down_the_others(store_root: Path) -> None:
    events: list[str] = []

    def good() -> Iterator[str]:
        events.append("good up")
        yield "good"
        events.append("good down")

    def bad(good: str) -> Iterator[str]:
        raise ConnectionRefusedError("broker at 127.0.0.1:1 refused the connection")
        yield "never"  # pragma: no cover

    class ServiceContainer(RuntimeContainer):
        a_good = providers.Resource(good)
        b_bad = providers.Resource(bad, a_good)  # so "good" starts first

    container = ServiceContainer.from_identity(_identity(), store_root=store_root)
    app = FastAPI(lifespan=runtime_lifespan(container))
    with pytest.raises(ConnectionRefusedError, match="broker"), TestClient(app):
        pytest.fail("the app must not start")  # pragma: no cover
    assert events == ["good up", "good down"]  # started, then shut down again
    assert getattr(app.state, STATE_ATTRIBUTE, None) is None
