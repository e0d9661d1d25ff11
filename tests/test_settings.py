"""RuntimeSettings: source precedence, errors, and RuntimeContainer() from MXM_* variables."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mxm.runtime import (
    RuntimeContainer,
    RuntimeIdentity,
    RuntimeSettings,
    RuntimeSettingsError,
)
from mxm.runtime.settings import identity_from_settings, store_root_from_settings
from mxm.runtime.store import default_store_root

EXAMPLE_STORE = Path(__file__).resolve().parents[1] / "examples" / "config-store"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No MXM_* variable from the outside, and a working directory without .env."""
    for name in list(os.environ):
        if name.startswith("MXM_"):
            monkeypatch.delenv(name)
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return workdir


def _required_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MXM_APP", "env-app")
    monkeypatch.setenv("MXM_ENVIRONMENT", "env-environment")
    monkeypatch.setenv("MXM_ROLE", "env-role")


# -- precedence ----------------------------------------------------------------


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    _required_env(monkeypatch)
    settings = RuntimeSettings()
    assert settings.machine is None
    assert settings.substrate is None
    assert settings.config_store_root == default_store_root()
    assert default_store_root() == Path("~/mxm-config-store").expanduser()


def test_dotenv_beats_defaults(clean_env: Path) -> None:
    (clean_env / ".env").write_text(
        "MXM_APP=dotenv-app\nMXM_ENVIRONMENT=dotenv-env\nMXM_ROLE=dotenv-role\n"
        "MXM_MACHINE=dotenv-machine\nMXM_CONFIG_STORE_ROOT=/from/dotenv\nOTHER=ignored\n"
    )
    settings = RuntimeSettings()
    assert settings.app == "dotenv-app"
    assert settings.machine == "dotenv-machine"
    assert settings.substrate is None  # default
    assert settings.config_store_root == Path("/from/dotenv")


def test_env_beats_dotenv(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / ".env").write_text("MXM_APP=dotenv-app\nMXM_MACHINE=dotenv-machine\n")
    _required_env(monkeypatch)
    monkeypatch.setenv("MXM_MACHINE", "env-machine")
    settings = RuntimeSettings()
    assert (settings.app, settings.machine) == ("env-app", "env-machine")
    assert settings.role == "env-role"


def test_kwargs_beat_env_and_dotenv(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / ".env").write_text("MXM_APP=dotenv-app\nMXM_SUBSTRATE=dotenv-substrate\n")
    _required_env(monkeypatch)
    monkeypatch.setenv("MXM_SUBSTRATE", "env-substrate")
    settings = RuntimeSettings(app="kw-app", substrate="kw-substrate", config_store_root="/kw")
    assert (settings.app, settings.substrate) == ("kw-app", "kw-substrate")
    assert settings.environment == "env-environment"
    assert settings.config_store_root == Path("/kw")


def test_explicit_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "worker.env"
    env_file.write_text("MXM_APP=a\nMXM_ENVIRONMENT=dev\nMXM_ROLE=research\n")
    assert RuntimeSettings(_env_file=env_file).app == "a"  # pyright: ignore[reportCallIssue]


def test_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    _required_env(monkeypatch)
    monkeypatch.setenv("MXM_MACHINE", "")
    assert RuntimeSettings().machine is None
    monkeypatch.setenv("MXM_APP", "")
    with pytest.raises(RuntimeSettingsError, match="missing MXM_APP"):
        RuntimeSettings()


def test_store_root_expands_home(monkeypatch: pytest.MonkeyPatch) -> None:
    _required_env(monkeypatch)
    monkeypatch.setenv("MXM_CONFIG_STORE_ROOT", "~/stores/mxm")
    root = store_root_from_settings(RuntimeSettings())
    assert root == Path.home() / "stores" / "mxm"


# -- errors ----------------------------------------------------------------------


def test_missing_variables_listed_in_one_error() -> None:
    with pytest.raises(RuntimeSettingsError) as caught:
        RuntimeSettings()
    error = caught.value
    first_line = str(error).splitlines()[0]
    assert "missing MXM_APP, MXM_ENVIRONMENT, MXM_ROLE" in first_line
    assert isinstance(error, ValueError)
    # not a pydantic traceback: no chained ValidationError, no pydantic URL
    assert error.__cause__ is None
    assert error.__suppress_context__
    assert "pydantic" not in str(error)
    assert "MXM_APP=" in (error.hint or "")


def test_only_missing_variables_are_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MXM_APP", "a")
    with pytest.raises(RuntimeSettingsError) as caught:
        RuntimeSettings()
    first_line = str(caught.value).splitlines()[0]
    assert "MXM_ENVIRONMENT, MXM_ROLE" in first_line
    assert "MXM_APP" not in first_line


def test_invalid_app_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    _required_env(monkeypatch)
    monkeypatch.setenv("MXM_APP", "../x")
    with pytest.raises(RuntimeSettingsError) as caught:
        RuntimeSettings()
    message = str(caught.value)
    assert "MXM_APP must not contain path separators" in message
    assert "Value error" not in message


def test_missing_and_invalid_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MXM_APP", "a..b")
    monkeypatch.setenv("MXM_MACHINE", "x" * 129)
    monkeypatch.setenv("MXM_CONFIG_STORE_ROOT", "   ")
    with pytest.raises(RuntimeSettingsError) as caught:
        RuntimeSettings()
    message = str(caught.value)
    assert "missing MXM_ENVIRONMENT, MXM_ROLE" in message
    assert "MXM_APP must not contain '..'" in message
    assert "MXM_MACHINE must be at most 128 characters" in message
    assert "MXM_CONFIG_STORE_ROOT must not be empty" in message


def test_invalid_keyword_argument_is_named_by_variable() -> None:
    with pytest.raises(RuntimeSettingsError, match=r"MXM_ROLE must not have leading"):
        RuntimeSettings(app="a", environment="dev", role=" research")


def test_undecodable_dotenv_is_a_documented_error(clean_env: Path) -> None:
    # Tests run as root, so chmod cannot make .env unreadable; invalid UTF-8
    # exercises the same path (a read that fails inside pydantic-settings).
    (clean_env / ".env").write_bytes(b"MXM_APP=\xff\xfe\x00bad\n")
    with pytest.raises(RuntimeSettingsError) as caught:
        RuntimeSettings()
    error = caught.value
    assert "Cannot read the settings file .env" in str(error)
    assert error.file == Path(".env")
    assert error.__cause__ is None
    assert "\\xff" not in str(error)


def test_dotenv_directory_is_ignored(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / ".env").mkdir()
    _required_env(monkeypatch)
    assert RuntimeSettings().app == "env-app"


def test_settings_error_pickles() -> None:
    import pickle

    with pytest.raises(RuntimeSettingsError) as caught:
        RuntimeSettings()
    clone = pickle.loads(pickle.dumps(caught.value))
    assert isinstance(clone, RuntimeSettingsError)
    assert str(clone) == str(caught.value)


# -- identity and container from settings ------------------------------------------


def test_identity_from_settings_uses_node_name(monkeypatch: pytest.MonkeyPatch) -> None:
    _required_env(monkeypatch)
    monkeypatch.setenv("MXM_NODE_NAME", "Node-A.cluster.local")
    monkeypatch.setenv("MXM_SUBSTRATE", "kubernetes-pod")
    identity = identity_from_settings(RuntimeSettings())
    assert identity == RuntimeIdentity(
        app="env-app",
        environment="env-environment",
        machine="node-a",
        substrate="kubernetes-pod",
        role="env-role",
    )


def _example_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MXM_APP", "mxm-moneymachine")
    monkeypatch.setenv("MXM_ENVIRONMENT", "dev")
    monkeypatch.setenv("MXM_ROLE", "research")
    monkeypatch.setenv("MXM_MACHINE", "bridge")
    monkeypatch.setenv("MXM_SUBSTRATE", "local-process")
    monkeypatch.setenv("MXM_CONFIG_STORE_ROOT", str(EXAMPLE_STORE))


def test_runtime_container_builds_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    _example_env(monkeypatch)
    ctx = RuntimeContainer().context()
    expected_identity = RuntimeIdentity(
        app="mxm-moneymachine",
        environment="dev",
        machine="bridge",
        substrate="local-process",
        role="research",
    )
    assert ctx.identity == expected_identity
    reference = RuntimeContainer.from_identity(expected_identity, store_root=EXAMPLE_STORE)
    assert ctx.paths == reference.paths()
    assert ctx.paths is not None
    assert ctx.paths.data_root == Path.home() / "mxm-data/mxm-moneymachine/dev/data"
    assert ctx.db_configs is not None
    assert dict(ctx.db_configs) == dict(reference.db_configs())
    assert ctx.db_configs["operational_state"]["host"] == "localhost"
    assert ctx.runtime is not None
    assert (ctx.runtime.substrate, ctx.runtime.is_container) == ("local-process", False)
    # Process facts and discovery evidence are filled, whatever this host is.
    assert ctx.runtime.pid == os.getpid()
    assert ctx.runtime.evidence is not None
    assert ctx.runtime.discovered_substrate == ctx.runtime.evidence.substrate.substrate
    assert ctx.runtime.python_version.startswith("3.")


def test_runtime_container_missing_env_is_settings_error() -> None:
    container = RuntimeContainer()
    with pytest.raises(RuntimeSettingsError, match="missing MXM_APP, MXM_ENVIRONMENT, MXM_ROLE"):
        container.context()


def test_runtime_container_reads_dotenv(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / ".env").write_text(
        "MXM_APP=mxm-moneymachine\nMXM_ENVIRONMENT=prod\nMXM_ROLE=research\n"
        f"MXM_MACHINE=monolith\nMXM_SUBSTRATE=local-process\nMXM_CONFIG_STORE_ROOT={EXAMPLE_STORE}\n"
    )
    ctx = RuntimeContainer().context()
    assert (ctx.identity.environment, ctx.identity.machine) == ("prod", "monolith")
    assert ctx.db_configs is not None
    assert ctx.db_configs["operational_state"].host == "db.prod.internal"
