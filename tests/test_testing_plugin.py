"""The pytest plugin: fixtures, isolation between tests, use from an external project."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from mxm.runtime import RuntimeContainer, RuntimeContext, RuntimeIdentity, RuntimePaths
from mxm.runtime.testing import (
    TEST_DATABASE,
    TEST_PRINCIPAL,
    TEST_SECRET,
    StaticSecretsApi,
    minimal_runtime_config,
    override_runtime,
)
from mxm.runtime.testing.plugin import TEST_IDENTITY, ConfigStoreFactory

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
OTHER_PATHS = RuntimePaths(Path("/x/data"), Path("/x/art"), Path("/x/exp"), Path("/x/log"))


def is_overridden(provider: Any) -> bool:
    return bool(provider.overridden)


# -- what the fixtures provide -------------------------------------------------


def test_context_uses_the_fixed_identity_and_tmp_path(
    mxm_context: RuntimeContext, mxm_identity: RuntimeIdentity, tmp_path: Path
) -> None:
    assert mxm_identity == TEST_IDENTITY
    assert mxm_context.identity == TEST_IDENTITY
    assert (mxm_context.identity.machine, mxm_context.identity.substrate) == (
        "test-machine",
        "local-process",
    )
    assert mxm_context.paths is not None
    assert mxm_context.paths.data_root == tmp_path / "runtime" / "data"
    assert mxm_context.runtime is not None
    assert mxm_context.runtime.substrate == "local-process"
    assert mxm_context.runtime.is_container is False  # declared, not probed (/.dockerenv exists)


def test_the_store_is_under_tmp_path(mxm_store_root: Path, tmp_path: Path) -> None:
    assert mxm_store_root.is_relative_to(tmp_path)
    assert (mxm_store_root / "apps" / TEST_IDENTITY.app / "default.yaml").is_file()


def test_secrets_are_static_and_never_reach_gopass(
    mxm_context: RuntimeContext, mxm_secrets: StaticSecretsApi
) -> None:
    assert mxm_context.secrets is mxm_secrets
    assert mxm_secrets.check_ready() is True
    # Authorised, no value mapped by default: the default, not a gopass call.
    assert mxm_secrets.get_secret(TEST_SECRET, identity=mxm_context.identity) is None
    assert [r.outcome for r in mxm_secrets.requests] == ["default"]


def test_store_factory_writes_fresh_stores(mxm_store_factory: ConfigStoreFactory) -> None:
    first = mxm_store_factory()
    second = mxm_store_factory({"default": {"x": 1}}, app="other-app")
    assert first != second
    assert (first / "apps" / TEST_IDENTITY.app / "default.yaml").is_file()
    assert (second / "apps" / "other-app" / "default.yaml").is_file()
    assert mxm_store_factory.roots == [first, second]


class TestFixtureOverrides:
    """Overriding the input fixtures changes the runtime (the documented idiom)."""

    @pytest.fixture
    def mxm_secret_values(self) -> dict[str, str]:
        return {TEST_SECRET: "s3cret"}

    @pytest.fixture
    def mxm_config_layers(self, tmp_path: Path) -> dict[str, Any]:
        return {
            "default": minimal_runtime_config(
                tmp_path, mxm_databases={TEST_DATABASE: {"port": 6543}}
            )
        }

    @pytest.fixture
    def mxm_identity(self) -> RuntimeIdentity:
        return RuntimeIdentity(
            app="custom-app",
            environment="ci",
            machine="ci-box",
            substrate="docker-container",
            role=TEST_PRINCIPAL,
        )

    def test_overridden_inputs(self, mxm_context: RuntimeContext) -> None:
        assert mxm_context.identity.app == "custom-app"
        assert mxm_context.db_configs is not None
        assert mxm_context.db_configs[TEST_DATABASE]["port"] == 6543
        assert mxm_context.secrets is not None
        secret = mxm_context.secrets.get_secret(TEST_SECRET, identity=mxm_context.identity)
        assert secret == "s3cret"
        assert mxm_context.runtime is not None and mxm_context.runtime.is_container is True


# -- isolation: the leak check -------------------------------------------------
# These three tests run in file order. The first overrides the container and
# deliberately never removes its override; the next ones must not see it.

_SEEN: dict[str, Any] = {}


def test_leak_1_overrides_and_does_not_clean_up(mxm_container: RuntimeContainer) -> None:
    _SEEN["container"] = mxm_container
    _SEEN["context"] = mxm_container.context()
    mxm_container.paths.override(providers.Object(OTHER_PATHS))  # never reset here
    mxm_container.config.override(providers.Object({"not": "a config"}))
    assert mxm_container.paths() == OTHER_PATHS


def test_leak_2_next_test_sees_a_fresh_unaffected_runtime(
    mxm_container: RuntimeContainer, mxm_context: RuntimeContext, tmp_path: Path
) -> None:
    previous: RuntimeContainer = _SEEN["container"]
    assert mxm_container is not previous
    assert mxm_context is not _SEEN["context"]
    assert mxm_context.paths is not None
    assert mxm_context.paths.data_root == tmp_path / "runtime" / "data"
    # The previous test's teardown removed its overrides as well.
    assert not is_overridden(previous.paths) and not is_overridden(previous.config)
    assert not any(is_overridden(getattr(RuntimeContainer, name)) for name in ("paths", "config"))
    _SEEN["secrets"] = mxm_container.secrets()


def test_leak_3_override_runtime_inside_a_test(mxm_container: RuntimeContainer) -> None:
    assert mxm_container.secrets() is not _SEEN["secrets"]  # fresh singletons
    with override_runtime(mxm_container, paths=OTHER_PATHS) as ctx:
        assert ctx.paths == OTHER_PATHS
    assert mxm_container.context().paths != OTHER_PATHS


# -- the plugin as an external project sees it ----------------------------------

EXTERNAL_TESTS = """
    from __future__ import annotations

    from pathlib import Path

    import pytest

    from mxm.runtime import RuntimeContainer, RuntimeContext, RuntimePaths
    from mxm.runtime.testing import StaticSecretsApi, override_runtime

    OTHER = RuntimePaths(Path("/o/d"), Path("/o/a"), Path("/o/e"), Path("/o/l"))


    @pytest.fixture
    def mxm_secret_values() -> dict[str, str]:
        return {"database_password": "pw"}


    def test_a_overrides(mxm_container: RuntimeContainer) -> None:
        mxm_container.paths.override(OTHER)  # left in place on purpose
        with override_runtime(mxm_container, paths=OTHER) as ctx:
            assert ctx.paths == OTHER


    def test_b_is_clean(mxm_context: RuntimeContext, tmp_path: Path) -> None:
        assert mxm_context.paths is not None
        assert mxm_context.paths.data_root.is_relative_to(tmp_path)
        assert mxm_context.paths != OTHER


    def test_c_secret(mxm_context: RuntimeContext, mxm_secrets: StaticSecretsApi) -> None:
        assert mxm_context.secrets is not None
        value = mxm_context.secrets.get_secret("database_password", identity=mxm_context.identity)
        assert value == "pw"
        assert mxm_secrets.requested_names == ("database_password",)
"""


def test_fixtures_work_in_an_external_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_external=textwrap.dedent(EXTERNAL_TESTS))
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3)


@pytest.mark.integration
def test_entry_point_loads_the_plugin_in_a_fresh_process(pytester: pytest.Pytester) -> None:
    """A new interpreter finds the plugin through the installed ``pytest11`` entry point."""
    pytester.makepyfile(test_external=textwrap.dedent(EXTERNAL_TESTS))
    result = pytester.runpytest_subprocess("--trace-config", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*mxm.runtime.testing.plugin*"])


@pytest.mark.integration
def test_external_tests_using_the_fixtures_pass_mypy_strict(tmp_path: Path) -> None:
    source = tmp_path / "test_external.py"
    source.write_text(textwrap.dedent(EXTERNAL_TESTS), encoding="utf-8")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--follow-untyped-imports",
            str(source),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Success" in completed.stdout
