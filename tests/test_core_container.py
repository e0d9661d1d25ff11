"""RuntimeContainer: wiring, override semantics per provider, concurrency."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from dependency_injector import providers
from dependency_injector.wiring import Provide, inject
from mxm.config import MXMConfig, make_subconfig
from mxm.secrets import SecretsApi

from mxm.runtime import (
    RuntimeContainer,
    RuntimeContext,
    RuntimeIdentity,
    RuntimeIdentityError,
    RuntimeMetadata,
    RuntimePaths,
    RuntimeSettings,
    RuntimeSettingsError,
    build_runtime_context,
)
from mxm.runtime.container import PROVIDER_NAMES
from mxm.runtime.store import load_runtime_config

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_STORE = ROOT / "examples" / "config-store"
APP = "mxm-moneymachine"

IDENTITY = RuntimeIdentity(
    app=APP, environment="dev", machine="bridge", substrate="local-process", role="research"
)
OTHER_IDENTITY = RuntimeIdentity(
    app=APP, environment="prod", machine="monolith", substrate="local-process", role="marketdata"
)

CONTEXT_FIELDS = ("identity", "config", "secrets", "db_configs", "paths", "runtime")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    shutil.copytree(EXAMPLE_STORE, root)
    return root


@pytest.fixture
def container(store: Path) -> RuntimeContainer:
    return RuntimeContainer.from_identity(IDENTITY, store_root=store)


def resolve_all(container: RuntimeContainer) -> dict[str, Any]:
    return {name: getattr(container, name)() for name in PROVIDER_NAMES if name != "settings"}


# -- construction -----------------------------------------------------------


def test_from_identity_builds_the_same_context_as_the_facade(store: Path) -> None:
    container = RuntimeContainer.from_identity(IDENTITY, store_root=store)
    ctx = container.context()
    facade = build_runtime_context(identity=IDENTITY, store_root=store)
    assert ctx.identity == facade.identity
    assert ctx.paths == facade.paths
    assert ctx.runtime == facade.runtime
    assert ctx.config.mxm_paths == facade.config.mxm_paths
    assert container.store_root() == store


def test_from_identity_validates_the_identity(store: Path) -> None:
    bad = RuntimeIdentity(app="../etc", environment="dev", machine="m", substrate="s", role="r")
    with pytest.raises(RuntimeIdentityError, match="app must not contain"):
        RuntimeContainer.from_identity(bad, store_root=store)


def test_instances_are_runtime_containers(container: RuntimeContainer) -> None:
    assert isinstance(container, RuntimeContainer)
    assert isinstance(RuntimeContainer(), RuntimeContainer)
    assert not isinstance(object(), RuntimeContainer)


def test_context_pieces_are_the_container_singletons(container: RuntimeContainer) -> None:
    ctx = container.context()
    assert container.context() is ctx
    for field in CONTEXT_FIELDS:
        assert getattr(ctx, field) is getattr(container, field)()


def test_each_container_has_its_own_singletons(store: Path) -> None:
    first = RuntimeContainer.from_identity(IDENTITY, store_root=store)
    second = RuntimeContainer.from_identity(IDENTITY, store_root=store)
    assert first.context() is not second.context()
    assert first.config() is not second.config()


def test_settings_container_is_lazy_and_reads_mxm_env(
    store: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("APP", "ENVIRONMENT", "ROLE", "MACHINE", "SUBSTRATE", "CONFIG_STORE_ROOT"):
        monkeypatch.delenv(f"MXM_{name}", raising=False)
    container = RuntimeContainer()  # nothing is read yet
    with pytest.raises(RuntimeSettingsError) as info:
        container.context()
    assert "MXM_APP, MXM_ENVIRONMENT, MXM_ROLE" in str(info.value)
    monkeypatch.setenv("MXM_APP", APP)
    monkeypatch.setenv("MXM_ENVIRONMENT", "dev")
    monkeypatch.setenv("MXM_ROLE", "research")
    monkeypatch.setenv("MXM_MACHINE", "bridge")
    monkeypatch.setenv("MXM_SUBSTRATE", "local-process")
    monkeypatch.setenv("MXM_CONFIG_STORE_ROOT", str(store))
    ctx = container.context()  # the failed attempt cached nothing
    assert ctx.identity == IDENTITY
    assert container.store_root() == store
    assert isinstance(container.settings(), RuntimeSettings)


def test_constructor_keyword_overrides(store: Path) -> None:
    container = RuntimeContainer(identity=IDENTITY, store_root=store)
    ctx = container.context()
    assert ctx.identity is IDENTITY
    assert ctx.paths is not None and ctx.paths.data_root.parts[-2] == "dev"


# -- overriding ---------------------------------------------------------------


def _substitutes(store: Path, tmp_path: Path) -> dict[str, Callable[[], Any]]:
    other_store = tmp_path / "other-store"
    shutil.copytree(store, other_store)
    machines = other_store / "apps" / APP / "machine.yaml"
    machines.write_text(machines.read_text().replace("base: ~/mxm-data", "base: /opt/other"))
    other_config = load_runtime_config(OTHER_IDENTITY, store)
    return {
        "identity": lambda: OTHER_IDENTITY,
        "store_root": lambda: other_store,
        "config": lambda: other_config,
        "secrets": lambda: SecretsApi.from_config_data({"stores": {}, "refs": {}, "policies": {}}),
        "db_configs": lambda: make_subconfig(
            {"warehouse": {"driver": "sqlite", "name": ":memory:"}}
        ),
        "paths": lambda: RuntimePaths(Path("/d"), Path("/a"), Path("/e"), Path("/l")),
        "runtime": lambda: RuntimeMetadata(substrate="kubernetes-pod", is_container=True),
        "context": lambda: RuntimeContext(identity=OTHER_IDENTITY, config=other_config),
    }


def _check_override_visible(container: RuntimeContainer, name: str, value: Any) -> None:
    assert getattr(container, name)() is value
    ctx = container.context()
    if name == "context":
        assert ctx is value
        return
    if name in CONTEXT_FIELDS:
        assert getattr(ctx, name) is value
    if name == "identity":
        assert ctx.identity is value
        assert ctx.config.app.environment_label == "prod"  # config rebuilt for prod
        assert ctx.runtime is not None and ctx.secrets is not None
        assert ctx.paths is not None and ctx.paths.data_root.parts[1:3] == ("srv", "mxm")
    if name == "store_root":
        assert ctx.paths is not None and ctx.paths.data_root.parts[1:3] == ("opt", "other")
    if name == "config":
        # every piece derived from config follows it
        assert ctx.paths is not None and ctx.paths.data_root.parts[1:3] == ("srv", "mxm")
        assert ctx.db_configs is not None
        assert ctx.db_configs["operational_state"]["host"] == "db.prod.internal"


@pytest.mark.parametrize("name", [n for n in PROVIDER_NAMES if n != "settings"])
@pytest.mark.parametrize("style", ["provider", "container", "nested-context"])
def test_override_reaches_dependents_and_restores_originals(
    container: RuntimeContainer, store: Path, tmp_path: Path, name: str, style: str
) -> None:
    before = resolve_all(container)  # resolved BEFORE the override
    value = _substitutes(store, tmp_path)[name]()
    provider = getattr(container, name)
    if style == "provider":
        with provider.override(value):
            _check_override_visible(container, name, value)
    elif style == "container":
        with container.override_providers(**{name: value}):
            _check_override_visible(container, name, value)
    else:
        provider.override(providers.Object(value))
        try:
            _check_override_visible(container, name, value)
        finally:
            provider.reset_last_overriding()
    after = resolve_all(container)
    for piece, original in before.items():
        assert after[piece] is original, f"{piece} not restored after overriding {name}"


def test_settings_override_reaches_identity_and_context(
    store: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MXM_APP", APP)
    monkeypatch.setenv("MXM_ENVIRONMENT", "dev")
    monkeypatch.setenv("MXM_ROLE", "research")
    monkeypatch.setenv("MXM_MACHINE", "bridge")
    monkeypatch.setenv("MXM_SUBSTRATE", "local-process")
    monkeypatch.setenv("MXM_CONFIG_STORE_ROOT", str(store))
    container = RuntimeContainer()
    ctx = container.context()
    prod = RuntimeSettings(
        app=APP,
        environment="prod",
        role="marketdata",
        machine="monolith",
        substrate="local-process",
        config_store_root=store,
    )
    with container.settings.override(prod):
        assert container.identity() == OTHER_IDENTITY
        assert container.context().identity == OTHER_IDENTITY
        assert container.context().config.app.environment_label == "prod"
    assert container.context() is ctx


def test_reset_override_restores_everything(
    container: RuntimeContainer, store: Path, tmp_path: Path
) -> None:
    before = resolve_all(container)
    subs = _substitutes(store, tmp_path)
    container.identity.override(subs["identity"]())
    container.paths.override(subs["paths"]())
    assert container.context().identity == OTHER_IDENTITY
    container.reset_override()
    assert resolve_all(container) == before
    assert container.context() is before["context"]


def test_stacked_overrides_unwind_in_order(container: RuntimeContainer) -> None:
    first = RuntimePaths(Path("/1"), Path("/1"), Path("/1"), Path("/1"))
    second = RuntimePaths(Path("/2"), Path("/2"), Path("/2"), Path("/2"))
    original = container.context()
    with container.paths.override(first):
        with container.paths.override(second):
            assert container.context().paths is second
        assert container.context().paths is first
    assert container.context() is original


def test_reset_singletons_rebuilds_fresh_objects(container: RuntimeContainer) -> None:
    ctx = container.context()
    container.reset_singletons()
    fresh = container.context()
    assert fresh is not ctx
    assert fresh.config is not ctx.config
    assert fresh.paths == ctx.paths


def test_failed_build_caches_nothing(container: RuntimeContainer) -> None:
    calls: list[int] = []

    def broken(*_: Any, **__: Any) -> RuntimePaths:
        calls.append(1)
        raise KeyError("mxm_paths")

    with container.paths.override(providers.Callable(broken)), pytest.raises(KeyError):
        container.context()
    assert calls == [1]
    assert container.context().paths is not None


# -- wiring -------------------------------------------------------------------


def _load_example(name: str) -> ModuleType:
    path = ROOT / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"mxm_example_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@inject
def _injected_pieces(
    ctx: RuntimeContext = Provide[RuntimeContainer.context],
    settings_free_identity: RuntimeIdentity = Provide[RuntimeContainer.identity],
    store_root: Path = Provide[RuntimeContainer.store_root],
    config: MXMConfig = Provide[RuntimeContainer.config],
    secrets: SecretsApi = Provide[RuntimeContainer.secrets],
    db_configs: MXMConfig = Provide[RuntimeContainer.db_configs],
    paths: RuntimePaths = Provide[RuntimeContainer.paths],
    runtime: RuntimeMetadata = Provide[RuntimeContainer.runtime],
) -> dict[str, Any]:
    return {
        "context": ctx,
        "identity": settings_free_identity,
        "store_root": store_root,
        "config": config,
        "secrets": secrets,
        "db_configs": db_configs,
        "paths": paths,
        "runtime": runtime,
    }


@pytest.fixture
def wired(container: RuntimeContainer) -> Iterator[RuntimeContainer]:
    container.wire(modules=[sys.modules[__name__]])
    yield container
    container.unwire()


def test_inject_every_provider_into_a_plain_function(wired: RuntimeContainer) -> None:
    injected = _injected_pieces()
    assert injected == resolve_all(wired)
    for name, value in injected.items():
        assert value is getattr(wired, name)()


def test_injection_sees_overrides(wired: RuntimeContainer) -> None:
    paths = RuntimePaths(Path("/x"), Path("/x"), Path("/x"), Path("/x"))
    with wired.paths.override(paths):
        injected = _injected_pieces()
        assert injected["paths"] is paths
        assert injected["context"].paths is paths
    assert _injected_pieces()["paths"] is not paths


def test_example_entry_point_runs_and_is_overridable() -> None:
    example = _load_example("wiring_entry_point")
    container = example.create_container()
    try:
        assert example.whoami() == f"{APP}:research"
        assert "mxm-moneymachine/dev as research" in example.describe_runtime()
        with container.identity.override(OTHER_IDENTITY):
            assert example.whoami() == f"{APP}:marketdata"
            assert example.data_root() == Path("/srv/mxm/mxm-moneymachine/prod/data")
    finally:
        container.unwire()


# Concurrency (32 and 64 threads building once) is in tests/test_concurrency.py.
