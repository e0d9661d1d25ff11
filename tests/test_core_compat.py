"""The mxm-runtime 0.1.2 contract: names, signatures and behaviour."""

from __future__ import annotations

import importlib.util
import inspect
import shutil
from pathlib import Path

import pytest
from mxm.config import MXMConfig
from mxm.secrets import SecretsApi

import mxm.runtime as runtime
from mxm.runtime import (
    RuntimeContext,
    RuntimeIdentity,
    RuntimeIdentityError,
    RuntimeMetadata,
    RuntimePaths,
    build_runtime_context,
    build_runtime_identity,
    validate_runtime_identity_shape,
)
from mxm.runtime.attestation import RuntimeIdentityAttestationError, attest_runtime_identity
from mxm.runtime.discovery import discover_machine, discover_substrate

EXAMPLE_STORE = Path(__file__).resolve().parents[1] / "examples" / "config-store"
APP = "mxm-moneymachine"


def example_identity(**changes: str) -> RuntimeIdentity:
    fields = {
        "app": APP,
        "environment": "dev",
        "machine": "bridge",
        "substrate": "local-process",
        "role": "research",
    }
    fields.update(changes)
    return RuntimeIdentity(**fields)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A private copy of the example store that a test may break."""
    root = tmp_path / "store"
    shutil.copytree(EXAMPLE_STORE, root)
    return root


def app_dir(store: Path) -> Path:
    return store / "apps" / APP


def test_012_names_are_exported() -> None:
    for name in [
        "RuntimeContext",
        "RuntimeIdentity",
        "RuntimeIdentityError",
        "RuntimeMetadata",
        "RuntimePaths",
        "build_runtime_context",
        "build_runtime_identity",
        "validate_runtime_identity_shape",
    ]:
        assert name in runtime.__all__
        assert getattr(runtime, name) is not None
    import mxm.types

    from mxm.runtime import validation

    assert validation.RuntimeIdentityError is RuntimeIdentityError
    assert RuntimeIdentity is mxm.types.RuntimeIdentity


def test_012_signatures_are_kept() -> None:
    sig = inspect.signature(build_runtime_identity)
    assert list(sig.parameters) == ["app", "environment", "role", "machine", "substrate"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in sig.parameters.values())
    assert sig.parameters["machine"].default is None
    sig = inspect.signature(build_runtime_context)
    assert list(sig.parameters) == ["identity", "store_root"]
    assert sig.parameters["store_root"].default is None
    sig = inspect.signature(discover_substrate)
    assert sig.parameters["dockerenv_path"].kind is inspect.Parameter.KEYWORD_ONLY
    assert list(inspect.signature(RuntimeContext).parameters) == [
        "identity",
        "config",
        "secrets",
        "db_configs",
        "paths",
        "runtime",
    ]
    assert list(inspect.signature(RuntimePaths).parameters) == [
        "data_root",
        "artifact_root",
        "export_root",
        "log_root",
    ]


def test_errors_keep_012_builtin_bases() -> None:
    assert issubclass(RuntimeIdentityError, ValueError)
    assert issubclass(RuntimeIdentityAttestationError, RuntimeError)
    assert issubclass(runtime.ConfigStoreNotFoundError, FileNotFoundError)
    assert issubclass(runtime.ConfigSectionError, KeyError)
    assert issubclass(runtime.ConfigSelectorError, KeyError)
    assert issubclass(runtime.ConfigValueError, TypeError)
    assert issubclass(runtime.SecretsConfigError, ValueError)


def test_build_runtime_identity_keeps_explicit_values() -> None:
    identity = build_runtime_identity(
        app="mxm-runtime-test",
        environment="dev",
        role="research",
        machine="bridge",
        substrate="local-process",
    )
    assert identity == RuntimeIdentity(
        app="mxm-runtime-test",
        environment="dev",
        machine="bridge",
        substrate="local-process",
        role="research",
    )


def test_build_runtime_identity_discovers_missing_selectors() -> None:
    identity = build_runtime_identity(app="mxm_moneymachine", environment="dev", role="research")
    assert identity.machine == discover_machine()
    assert identity.substrate == discover_substrate()
    assert identity.machine and identity.substrate


def test_validate_names_every_bad_field() -> None:
    bad = RuntimeIdentity(app="", environment=" ", machine="ok", substrate="ok", role="")
    with pytest.raises(RuntimeIdentityError) as info:
        validate_runtime_identity_shape(bad)
    message = str(info.value)
    for field in ("app", "environment", "role"):
        assert field in message
    assert "machine" not in message.split("fix:")[0]


def test_attestation_reports_mismatched_claims(monkeypatch: pytest.MonkeyPatch) -> None:
    good = example_identity(
        machine=discover_machine(use_overrides=False),
        substrate=discover_substrate(use_overrides=False),
    )
    attest_runtime_identity(good)
    with pytest.raises(RuntimeIdentityAttestationError) as info:
        attest_runtime_identity(example_identity(machine="not-this-host", substrate="elsewhere"))
    assert "identity.machine='not-this-host'" in str(info.value)
    assert "identity.substrate='elsewhere'" in str(info.value)
    # MXM_* overrides are claims: they cannot make a false identity pass.
    monkeypatch.setenv("MXM_MACHINE", "not-this-host")
    monkeypatch.setenv("MXM_SUBSTRATE", "elsewhere")
    with pytest.raises(RuntimeIdentityAttestationError):
        attest_runtime_identity(example_identity(machine="not-this-host", substrate="elsewhere"))


def test_discover_substrate_uses_the_marker_path(tmp_path: Path) -> None:
    marker = tmp_path / ".dockerenv"
    assert discover_substrate(dockerenv_path=marker) != "docker-container" or marker.exists()
    marker.write_text("")
    assert discover_substrate(dockerenv_path=marker) == "docker-container"


def test_build_runtime_context_fills_every_field(store: Path) -> None:
    ctx = build_runtime_context(identity=example_identity(), store_root=store)
    assert isinstance(ctx, RuntimeContext)
    assert ctx.identity == example_identity()
    assert isinstance(ctx.config, MXMConfig)
    assert isinstance(ctx.secrets, SecretsApi)
    assert ctx.secrets.secret_ref_registry.names() == (
        "databento_api_key",
        "operational_db_password",
        "slack_webhook",
    )
    assert ctx.paths == RuntimePaths(
        data_root=Path("~/mxm-data/mxm-moneymachine/dev/data").expanduser(),
        artifact_root=Path("~/mxm-data/mxm-moneymachine/dev/artifacts").expanduser(),
        export_root=Path("~/mxm-data/mxm-moneymachine/dev/exports").expanduser(),
        log_root=Path("~/mxm-data/mxm-moneymachine/dev/logs").expanduser(),
    )
    assert ctx.db_configs is not None
    db = ctx.db_configs["operational_state"]
    assert (db["host"], db["port"], db["name"], db["user"]) == (
        "localhost",
        5432,
        "mxm_dev",
        "mxm_dev_app",
    )
    assert ctx.db_configs.operational_state.password_ref == "operational_db_password"
    assert isinstance(ctx.runtime, RuntimeMetadata)
    assert ctx.runtime.substrate == "local-process"
    assert ctx.runtime.is_container is False


def test_layers_merge_in_order(store: Path) -> None:
    ctx = build_runtime_context(
        identity=example_identity(
            environment="prod", machine="monolith", substrate="docker-container"
        ),
        store_root=store,
    )
    assert ctx.paths is not None and ctx.db_configs is not None and ctx.runtime is not None
    assert ctx.paths.data_root == Path("/srv/mxm/mxm-moneymachine/prod/data")
    # environment sets a host, the substrate layer (later) wins
    assert ctx.db_configs["operational_state"]["host"] == "host.docker.internal"
    assert ctx.runtime.is_container is True


def test_context_is_frozen(store: Path) -> None:
    ctx = build_runtime_context(identity=example_identity(), store_root=store)
    with pytest.raises(AttributeError):
        ctx.identity = example_identity(role="marketdata")  # type: ignore[misc]
    assert ctx.paths is not None
    with pytest.raises(AttributeError):
        ctx.paths.data_root = Path("/elsewhere")  # type: ignore[misc]


def test_config_is_resolved_and_read_only(store: Path) -> None:
    ctx = build_runtime_context(identity=example_identity(), store_root=store)
    assert ctx.config.mxm_paths.data_root == "~/mxm-data/mxm-moneymachine/dev/data"
    with pytest.raises(Exception, match="read-only"):
        ctx.config.mxm_paths.data_root = "/tmp/x"


def test_missing_store_root_is_file_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError) as info:
        build_runtime_context(identity=example_identity(), store_root=missing)
    assert str(missing) in str(info.value)
    assert "MXM_CONFIG_STORE_ROOT" in str(info.value)


def test_missing_app_dir_names_expected_path(store: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        build_runtime_context(identity=example_identity(app="other-app"), store_root=store)
    assert f"{store}/apps/other-app/" in str(info.value)
    assert "<store>/apps/other-app/" in str(info.value)


def test_missing_default_yaml_is_file_not_found(store: Path) -> None:
    (app_dir(store) / "default.yaml").unlink()
    with pytest.raises(FileNotFoundError) as info:
        build_runtime_context(identity=example_identity(), store_root=store)
    assert "default.yaml" in str(info.value)


def test_missing_selector_is_key_error_naming_file(store: Path) -> None:
    with pytest.raises(KeyError) as info:
        build_runtime_context(identity=example_identity(machine="wildling"), store_root=store)
    message = str(info.value)
    assert "machine.yaml" in message
    assert "'wildling'" in message
    assert "bridge" in message  # the available selectors are listed
    assert not message.startswith("'")  # readable, not the quoted KeyError form


@pytest.mark.parametrize("section", ["mxm_secrets", "mxm_databases", "mxm_paths"])
def test_missing_section_is_key_error_naming_it(store: Path, section: str) -> None:
    default = app_dir(store) / "default.yaml"
    text = default.read_text()
    start = text.index(f"\n{section}:")
    end = text.find("\n\n", start + 1)
    default.write_text(text[:start] + (text[end:] if end != -1 else "\n"))
    with pytest.raises(KeyError) as info:
        build_runtime_context(identity=example_identity(), store_root=store)
    assert section in str(info.value)
    assert "fix:" in str(info.value)


def test_missing_path_key_names_it(store: Path) -> None:
    default = app_dir(store) / "default.yaml"
    default.write_text(default.read_text().replace("  log_root: ${storage.runtime}/logs\n", ""))
    with pytest.raises(KeyError) as info:
        build_runtime_context(identity=example_identity(), store_root=store)
    assert "mxm_paths.log_root" in str(info.value)


def test_non_string_path_is_type_error_naming_field(store: Path) -> None:
    default = app_dir(store) / "default.yaml"
    default.write_text(
        default.read_text().replace(
            "  export_root: ${storage.runtime}/exports", "  export_root: 42"
        )
    )
    with pytest.raises(TypeError) as info:
        build_runtime_context(identity=example_identity(), store_root=store)
    assert "mxm_paths.export_root" in str(info.value)
    assert "int" in str(info.value)


def test_invalid_secrets_config_is_value_error(store: Path) -> None:
    default = app_dir(store) / "default.yaml"
    default.write_text(
        default.read_text().replace(
            "backend: gopass, root: mxm/red", "backend: Gopass!, root: mxm/red"
        )
    )
    with pytest.raises(ValueError, match="mxm_secrets"):
        build_runtime_context(identity=example_identity(), store_root=store)


def test_failed_build_leaves_no_partial_context_and_recovers(store: Path) -> None:
    default = app_dir(store) / "default.yaml"
    original = default.read_text()
    default.write_text(original.replace("  log_root: ${storage.runtime}/logs\n", ""))
    with pytest.raises(KeyError):
        build_runtime_context(identity=example_identity(), store_root=store)
    default.write_text(original)
    ctx = build_runtime_context(identity=example_identity(), store_root=store)
    assert ctx.paths is not None
    assert ctx.paths.log_root.name == "logs"


def test_context_repr_never_prints_config_values(store: Path) -> None:
    default = app_dir(store) / "default.yaml"
    default.write_text(default.read_text() + "\nlegacy:\n  smtp_password: hunter2-canary\n")
    ctx = build_runtime_context(identity=example_identity(), store_root=store)
    assert ctx.config.legacy.smtp_password == "hunter2-canary"
    text = repr(ctx)
    assert "hunter2-canary" not in text
    keys = "app, storage, mxm_paths, mxm_secrets, mxm_databases, legacy"
    assert f"config=<config keys: {keys}>" in text
    assert "secrets: databento_api_key, operational_db_password, slack_webhook" in text
    assert "substrate='local-process'" in text
    hand_built = RuntimeContext(identity=example_identity(), config=ctx.config)
    assert "secrets=None" in repr(hand_built)
    assert "hunter2-canary" not in repr(hand_built)


def test_show_context_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    path = Path(__file__).resolve().parents[1] / "examples" / "show_context.py"
    spec = importlib.util.spec_from_file_location("mxm_example_show_context", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--environment", "prod", "--machine", "monolith"]) == 0
    out = capsys.readouterr().out
    assert "paths.data_root      /srv/mxm/mxm-moneymachine/prod/data" in out
    assert "postgresql://mxm_prod_app@db.prod.internal:5432/mxm_prod" in out
    assert "runtime    substrate=local-process is_container=False" in out
