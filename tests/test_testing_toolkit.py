"""mxm.runtime.testing: store writing, StaticSecretsApi (with parity), override_runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from dependency_injector import providers
from mxm.secrets import SecretsApi

from mxm.runtime import (
    ConfigSectionError,
    ConfigSelectorError,
    ConfigValueError,
    RuntimeContainer,
    RuntimeContext,
    RuntimeIdentity,
    RuntimePaths,
    build_runtime_context,
)
from mxm.runtime.testing import (
    TEST_DATABASE,
    TEST_PRINCIPAL,
    TEST_SECRET,
    SecretRequest,
    StaticSecretsApi,
    deep_merge,
    minimal_runtime_config,
    override_runtime,
    static_secrets_from_config,
    write_config_store,
)

APP = "toolkit-app"
IDENTITY = RuntimeIdentity(
    app=APP, environment="test", machine="box", substrate="local-process", role=TEST_PRINCIPAL
)
INTRUDER = RuntimeIdentity(
    app=APP, environment="test", machine="box", substrate="local-process", role="intruder"
)

SECRETS_DATA: dict[str, Any] = {
    "stores": {"red": {"backend": "gopass", "root": "mxm/red"}},
    "refs": {
        "api_key": {"store": "red", "path": "market/api_key", "policy": "market"},
        "orphan": {"store": "missing_store", "path": "x/y", "policy": "market"},
        "no_policy": {"store": "red", "path": "x/z", "policy": "missing_policy"},
    },
    "policies": {"market": {"allowed_principals": ["app", "research"]}},
}


# -- write_config_store / minimal_runtime_config -------------------------------


def test_minimal_config_builds_a_full_context(tmp_path: Path) -> None:
    root = write_config_store(
        tmp_path / "store", APP, {"default": minimal_runtime_config(tmp_path)}
    )
    ctx = build_runtime_context(identity=IDENTITY, store_root=root)
    assert ctx.paths == RuntimePaths(
        data_root=tmp_path / "data",
        artifact_root=tmp_path / "artifacts",
        export_root=tmp_path / "exports",
        log_root=tmp_path / "logs",
    )
    assert ctx.db_configs is not None
    assert ctx.db_configs[TEST_DATABASE]["password_ref"] == TEST_SECRET
    assert ctx.secrets is not None
    assert ctx.secrets.secret_ref_registry.names() == (TEST_SECRET,)


def test_one_changed_value_is_one_line(tmp_path: Path) -> None:
    config = minimal_runtime_config(tmp_path, mxm_databases={TEST_DATABASE: {"port": 6543}})
    assert config["mxm_databases"][TEST_DATABASE]["port"] == 6543
    assert config["mxm_databases"][TEST_DATABASE]["host"] == "localhost"  # merged, not replaced
    assert minimal_runtime_config(tmp_path)["mxm_databases"][TEST_DATABASE]["port"] == 5432


def test_minimal_config_adds_new_sections(tmp_path: Path) -> None:
    config = minimal_runtime_config(tmp_path, reporting={"currency": "EUR"})
    assert config["reporting"] == {"currency": "EUR"}


def test_deep_merge_copies_and_replaces_non_mappings() -> None:
    base: dict[str, Any] = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    merged = deep_merge(base, {"a": {"c": [3]}, "e": {"f": 2}})
    assert merged == {"a": {"b": 1, "c": [3]}, "d": 1, "e": {"f": 2}}
    merged["a"]["b"] = 99
    assert base["a"]["b"] == 1


def test_layers_are_written_in_mxm_config_layout_and_merged(tmp_path: Path) -> None:
    root = write_config_store(
        tmp_path / "store",
        APP,
        {
            "default": minimal_runtime_config(tmp_path),
            "environment": {"test": {"mxm_databases": {TEST_DATABASE: {"name": "env_db"}}}},
            "machine": {"box": {"mxm_databases": {TEST_DATABASE: {"host": "db.box"}}}},
            "substrate": {"local-process": {"mxm_databases": {TEST_DATABASE: {"port": 1}}}},
            "role": {TEST_PRINCIPAL: {"mxm_paths": {"log_root": tmp_path / "role-logs"}}},
        },
    )
    assert root == tmp_path / "store"
    app_dir = root / "apps" / APP
    assert sorted(p.name for p in app_dir.iterdir()) == [
        "default.yaml",
        "environment.yaml",
        "machine.yaml",
        "role.yaml",
        "substrate.yaml",
    ]
    role_layer = yaml.safe_load((app_dir / "role.yaml").read_text(encoding="utf-8"))
    assert role_layer == {TEST_PRINCIPAL: {"mxm_paths": {"log_root": str(tmp_path / "role-logs")}}}
    ctx = build_runtime_context(identity=IDENTITY, store_root=root)
    assert ctx.db_configs is not None
    db = ctx.db_configs[TEST_DATABASE]
    assert (db["name"], db["host"], db["port"]) == ("env_db", "db.box", 1)
    assert ctx.paths is not None and ctx.paths.log_root == tmp_path / "role-logs"


def test_rewriting_an_app_removes_layers_not_given(tmp_path: Path) -> None:
    config = minimal_runtime_config(tmp_path)
    write_config_store(tmp_path, APP, {"default": config, "environment": {"prod": {}}})
    # With the environment layer still there, 'test' would be a missing selector.
    with pytest.raises(ConfigSelectorError):
        build_runtime_context(identity=IDENTITY, store_root=tmp_path)
    write_config_store(tmp_path, APP, {"default": config})
    assert not (tmp_path / "apps" / APP / "environment.yaml").exists()
    assert build_runtime_context(identity=IDENTITY, store_root=tmp_path).paths is not None


def test_a_section_left_out_surfaces_as_the_runtime_error(tmp_path: Path) -> None:
    config = minimal_runtime_config(tmp_path)
    del config["mxm_paths"]
    root = write_config_store(tmp_path, APP, {"default": config})
    with pytest.raises(ConfigSectionError, match="mxm_paths"):
        build_runtime_context(identity=IDENTITY, store_root=root)


@pytest.mark.parametrize(
    ("layers", "error", "match"),
    [
        ({"default": {}, "roles": {}}, ValueError, r"Unknown layer name\(s\) 'roles'"),
        ({"default": {}, "host": {}, "env": {}}, ValueError, "'env', 'host'; layers are default"),
        ({"environment": {}}, ValueError, "must include 'default'"),
        ({"default": []}, TypeError, "Layer 'default' must be a mapping"),
        ({"default": {}, "role": {"app": 3}}, TypeError, "block for 'app' must be a mapping"),
        ({"default": {}, "role": {"../x": {}}}, ValueError, "Invalid role selector"),
        ({"default": {1: "x"}}, TypeError, "keys must be strings"),
        ({"default": {"a": {"b": object()}}}, TypeError, r"default\.a\.b: cannot write"),
    ],
)
def test_bad_layers_are_rejected_before_anything_is_written(
    tmp_path: Path, layers: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        write_config_store(tmp_path / "store", APP, layers)
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("app", ["", "../escape", "a/b", " app"])
def test_bad_app_names_are_rejected(tmp_path: Path, app: str) -> None:
    with pytest.raises(ValueError, match="Invalid app name"):
        write_config_store(tmp_path, app, {"default": {}})
    assert list(tmp_path.iterdir()) == []


# -- StaticSecretsApi ----------------------------------------------------------


def static() -> StaticSecretsApi:
    return StaticSecretsApi.from_config_data(SECRETS_DATA, {"api_key": "k-123"})


def test_static_secrets_is_a_secrets_api_and_returns_mapped_values() -> None:
    api = static()
    assert isinstance(api, SecretsApi)
    assert api.get_secret("api_key", identity=IDENTITY) == "k-123"
    assert api.check_ready() is True


def test_static_secrets_records_requests_by_principal() -> None:
    api = static()
    api.get_secret("api_key", identity=IDENTITY)
    with pytest.raises(PermissionError):
        api.get_secret("api_key", identity=INTRUDER)
    with pytest.raises(KeyError):
        api.get_secret("nope", identity=IDENTITY)
    assert api.requests == (
        SecretRequest("api_key", "app", "returned"),
        SecretRequest("api_key", "intruder", "denied"),
        SecretRequest("nope", "app", "unknown"),
    )
    assert [r.granted for r in api.requests] == [True, False, False]
    assert api.requested_names == ("api_key", "api_key", "nope")
    api.clear_requests()
    assert len(api.requests) == 0


def test_authorised_but_unmapped_secret_returns_default() -> None:
    api = StaticSecretsApi.from_config_data(SECRETS_DATA)
    assert api.get_secret("api_key", identity=IDENTITY) is None
    assert api.get_secret("api_key", identity=IDENTITY, default="fallback") == "fallback"
    assert {r.outcome for r in api.requests} == {"default"}


def test_static_secrets_never_shows_values() -> None:
    api = static()
    api.get_secret("api_key", identity=IDENTITY)
    for text in (repr(api), str(api), repr(api.requests), f"{api}"):
        assert "k-123" not in text
    assert "values=<1 redacted>" in repr(api)
    assert "api_key" in repr(api)
    context = RuntimeContext(identity=IDENTITY, config=None, secrets=api)  # type: ignore[arg-type]
    assert "k-123" not in repr(context)


def test_values_for_unconfigured_names_are_rejected() -> None:
    with pytest.raises(KeyError, match="unconfigured secret name"):
        StaticSecretsApi.from_config_data(SECRETS_DATA, {"typo_key": "v"})


def test_non_string_values_are_rejected() -> None:
    with pytest.raises(TypeError, match="must be a str"):
        StaticSecretsApi.from_config_data(SECRETS_DATA, {"api_key": 3})  # type: ignore[dict-item]


def test_bad_config_data_fails_like_the_real_api() -> None:
    bad: dict[str, Any] = {
        **SECRETS_DATA,
        "stores": {"Bad-Name": {"backend": "gopass", "root": "x"}},
    }
    with pytest.raises(ValueError, match="must match pattern") as real:
        SecretsApi.from_config_data(bad)
    with pytest.raises(ValueError, match="must match pattern") as ours:
        StaticSecretsApi.from_config_data(bad)
    assert type(ours.value) is type(real.value)
    with pytest.raises(TypeError):
        StaticSecretsApi.from_config_data({"stores": {}, "refs": []})


@pytest.mark.parametrize(
    ("name", "identity", "error"),
    [
        ("unknown_name", IDENTITY, KeyError),
        ("api_key", INTRUDER, PermissionError),
        ("orphan", IDENTITY, KeyError),
        ("no_policy", IDENTITY, KeyError),
        (
            "api_key",
            RuntimeIdentity(app=APP, environment="t", machine="m", substrate="s", role="Bad-Role"),
            ValueError,
        ),
    ],
)
def test_parity_with_the_real_secrets_api(
    name: str, identity: RuntimeIdentity, error: type[Exception]
) -> None:
    """The same config data gives the same exception type and message.

    None of these paths reaches a backend, so the real API runs for real.
    """
    real = SecretsApi.from_config_data(SECRETS_DATA)
    with pytest.raises(error) as real_error:
        real.get_secret(name, identity=identity)
    with pytest.raises(error) as static_error:
        static().get_secret(name, identity=identity)
    assert type(static_error.value) is type(real_error.value)
    assert str(static_error.value) == str(real_error.value)


def test_static_secrets_from_a_container_config(tmp_path: Path) -> None:
    root = write_config_store(tmp_path, APP, {"default": minimal_runtime_config(tmp_path)})
    container = RuntimeContainer.from_identity(IDENTITY, store_root=root)
    api = static_secrets_from_config(container.config(), {TEST_SECRET: "pw"})
    assert api.get_secret(TEST_SECRET, identity=IDENTITY) == "pw"
    plain = static_secrets_from_config(minimal_runtime_config(tmp_path), {TEST_SECRET: "pw"})
    assert plain.get_secret(TEST_SECRET, identity=IDENTITY) == "pw"
    with pytest.raises(KeyError, match="mxm_secrets"):
        static_secrets_from_config({"mxm_paths": {}})


# -- override_runtime ----------------------------------------------------------


@pytest.fixture
def container(tmp_path: Path) -> RuntimeContainer:
    root = write_config_store(
        tmp_path / "store", APP, {"default": minimal_runtime_config(tmp_path)}
    )
    return RuntimeContainer.from_identity(IDENTITY, store_root=root)


def is_overridden(provider: Any) -> bool:
    return bool(provider.overridden)


OTHER_PATHS = RuntimePaths(Path("/o/data"), Path("/o/art"), Path("/o/exp"), Path("/o/log"))


def test_override_values_and_restore(container: RuntimeContainer) -> None:
    original = container.context()
    api = static()
    with override_runtime(container, secrets=api, paths=OTHER_PATHS) as ctx:
        assert ctx.secrets is api
        assert ctx.paths == OTHER_PATHS
        assert container.context() is ctx
        assert ctx.config is original.config  # untouched pieces are shared
    after = container.context()
    assert after is original
    assert after.secrets is original.secrets
    assert not is_overridden(container.secrets) and not is_overridden(container.paths)


def test_override_with_a_provider_is_called_each_resolution(container: RuntimeContainer) -> None:
    calls: list[int] = []

    def make_paths() -> RuntimePaths:
        calls.append(1)
        return OTHER_PATHS

    with override_runtime(container, paths=providers.Callable(make_paths)) as ctx:
        assert ctx.paths == OTHER_PATHS
        assert container.paths() == OTHER_PATHS
    assert len(calls) == 2


def test_overriding_config_reaches_dependents(container: RuntimeContainer, tmp_path: Path) -> None:
    other_root = write_config_store(
        tmp_path / "other",
        APP,
        {"default": minimal_runtime_config(tmp_path / "elsewhere")},
    )
    other = RuntimeContainer.from_identity(IDENTITY, store_root=other_root).config()
    original_paths = container.paths()
    with override_runtime(container, config=other) as ctx:
        assert ctx.paths is not None
        assert ctx.paths.data_root == tmp_path / "elsewhere" / "data"
    assert container.paths() is original_paths


def test_overrides_are_restored_after_an_exception(container: RuntimeContainer) -> None:
    original = container.context()
    with pytest.raises(RuntimeError, match="boom"), override_runtime(container, paths=OTHER_PATHS):
        raise RuntimeError("boom")
    assert container.context() is original
    assert not is_overridden(container.paths)


def test_a_failing_build_inside_the_override_restores(container: RuntimeContainer) -> None:
    original = container.context()
    broken: dict[str, Any] = {"mxm_paths": []}  # not an MXMConfig: materialising fails
    with pytest.raises(ConfigValueError, match="must be a mapping"):  # noqa: SIM117
        with override_runtime(container, config=broken):
            pytest.fail("the body must not run when the context cannot be built")
    assert not is_overridden(container.config)
    assert container.context() is original


def test_nested_overrides_unwind_in_order(container: RuntimeContainer) -> None:
    first = RuntimePaths(Path("/1"), Path("/1"), Path("/1"), Path("/1"))
    with override_runtime(container, paths=first):
        with override_runtime(container, paths=OTHER_PATHS) as inner:
            assert inner.paths == OTHER_PATHS
        assert container.context().paths == first
    assert container.context().paths != first


def test_unknown_provider_names_are_rejected(container: RuntimeContainer) -> None:
    original = container.context()
    with pytest.raises(TypeError, match=r"unknown provider name\(s\) 'path', 'secret'"):  # noqa: SIM117
        with override_runtime(container, paths=OTHER_PATHS, path=OTHER_PATHS, secret=None):
            pass
    assert not is_overridden(container.paths)
    assert container.context() is original
