"""Tests of the settlement report, written only with ``mxm.runtime.testing``.

The idioms:

* the plugin's fixtures (``mxm_context``, ``mxm_container``, ...) give every
  test a real runtime built from a store under ``tmp_path``;
* override the input fixtures (``mxm_identity``, ``mxm_config_layers``,
  ``mxm_secret_values``) to change it for a module or a class;
* ``override_runtime(mxm_container, ...)`` changes it for one block of one
  test (configuration through ``store_root``, secrets, paths, identity).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from mxm.runtime import RuntimeContainer, RuntimeContext, RuntimeIdentity, RuntimePaths
from mxm.runtime.testing import (
    SecretRequest,
    StaticSecretsApi,
    deep_merge,
    minimal_runtime_config,
    override_runtime,
    static_secrets_from_config,
)
from mxm.runtime.testing.plugin import ConfigStoreFactory

from ..settlement_report import (
    DATABASE,
    SettlementReport,
    SettlementReportError,
    compose_settlement_report,
)

DAY = "2026-12-04"
PASSWORD_REF = "operational_db_password"
PASSWORD = "pw-for-tests"


def settlement_config(paths_root: Path, **changes: Any) -> dict[str, Any]:
    """The app's configuration: the minimal runtime config plus its database."""
    app_sections: dict[str, Any] = {
        "mxm_secrets": {
            "refs": {
                PASSWORD_REF: {
                    "store": "vault",
                    "path": "postgres/settlement",
                    "policy": "database_access",
                }
            },
            "policies": {"database_access": {"allowed_principals": ["reporting", "execution"]}},
        },
        "mxm_databases": {
            DATABASE: {
                "driver": "postgresql",
                "host": "db.internal",
                "port": 5432,
                "name": "settlement",
                "user": "settlement_app",
                "password_ref": PASSWORD_REF,
            }
        },
    }
    return deep_merge(minimal_runtime_config(paths_root, **app_sections), changes)


# -- module-wide runtime: override the plugin's input fixtures -----------------


@pytest.fixture
def mxm_identity() -> RuntimeIdentity:
    return RuntimeIdentity(
        app="settlement",
        environment="test",
        machine="test-machine",
        substrate="local-process",
        role="reporting",
    )


@pytest.fixture
def mxm_config_layers(tmp_path: Path) -> dict[str, Any]:
    return {"default": settlement_config(tmp_path / "runtime")}


@pytest.fixture
def mxm_secret_values() -> dict[str, str]:
    return {PASSWORD_REF: PASSWORD}


# -- the composition function --------------------------------------------------


def test_composes_the_job_from_paths_database_and_password(
    mxm_context: RuntimeContext, tmp_path: Path
) -> None:
    report = compose_settlement_report(mxm_context, day=DAY)
    assert report.output_file == tmp_path / "runtime" / "exports" / "settlement" / f"{DAY}.csv"
    assert report.log_file == tmp_path / "runtime" / "logs" / "settlement.log"
    assert report.connection_kwargs() == {
        "host": "db.internal",
        "port": 5432,
        "dbname": "settlement",
        "user": "settlement_app",
        "password": PASSWORD,
    }


def test_the_password_is_requested_as_the_runtime_identity(
    mxm_context: RuntimeContext, mxm_secrets: StaticSecretsApi
) -> None:
    compose_settlement_report(mxm_context, day=DAY)
    assert mxm_secrets.requests == (SecretRequest(PASSWORD_REF, "reporting", "returned"),)


def test_the_job_never_shows_the_password(mxm_context: RuntimeContext) -> None:
    report = compose_settlement_report(mxm_context, day=DAY)
    assert PASSWORD not in repr(report)
    assert PASSWORD not in str(report)
    assert PASSWORD not in repr(mxm_context)


def test_writes_the_report_under_the_export_root(mxm_context: RuntimeContext) -> None:
    report = compose_settlement_report(mxm_context, day=DAY)
    written = report.write([("ACC-1", "EUR", "12.50"), ("ACC-2", "USD", "-3")])
    assert mxm_context.paths is not None
    assert written.is_relative_to(mxm_context.paths.export_root)
    with written.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        ["account", "currency", "amount"],
        ["ACC-1", "EUR", "12.50"],
        ["ACC-2", "USD", "-3"],
    ]


# -- per test: configuration, secrets, paths -----------------------------------


def test_another_database_port_for_one_test(
    mxm_container: RuntimeContainer, mxm_store_factory: ConfigStoreFactory, tmp_path: Path
) -> None:
    store = mxm_store_factory(
        {"default": settlement_config(tmp_path, mxm_databases={DATABASE: {"port": 6543}})}
    )
    with override_runtime(mxm_container, store_root=store) as context:
        assert compose_settlement_report(context, day=DAY).port == 6543
    assert compose_settlement_report(mxm_container.context(), day=DAY).port == 5432


def test_an_environment_layer_changes_the_database(
    mxm_container: RuntimeContainer, mxm_store_factory: ConfigStoreFactory, tmp_path: Path
) -> None:
    store = mxm_store_factory(
        {
            "default": settlement_config(tmp_path),
            "environment": {"test": {"mxm_databases": {DATABASE: {"name": "settlement_test"}}}},
        }
    )
    with override_runtime(mxm_container, store_root=store) as context:
        assert compose_settlement_report(context, day=DAY).database == "settlement_test"


def test_a_missing_database_is_a_clear_error(
    mxm_container: RuntimeContainer, mxm_store_factory: ConfigStoreFactory, tmp_path: Path
) -> None:
    config = settlement_config(tmp_path)
    config["mxm_databases"] = {"reference_data": config["mxm_databases"][DATABASE]}
    store = mxm_store_factory({"default": config})
    with (
        override_runtime(mxm_container, store_root=store) as context,
        pytest.raises(SettlementReportError, match="'operational_state' is not configured"),
    ):
        compose_settlement_report(context, day=DAY)


def test_a_rotated_password(mxm_container: RuntimeContainer) -> None:
    rotated = static_secrets_from_config(mxm_container.config(), {PASSWORD_REF: "rotated"})
    with override_runtime(mxm_container, secrets=rotated) as context:
        assert compose_settlement_report(context, day=DAY).password == "rotated"
    assert rotated.requested_names == (PASSWORD_REF,)


def test_an_unavailable_password_is_a_clear_error(mxm_container: RuntimeContainer) -> None:
    empty = static_secrets_from_config(mxm_container.config())
    with (
        override_runtime(mxm_container, secrets=empty) as context,
        pytest.raises(SettlementReportError, match="password of database") as raised,
    ):
        compose_settlement_report(context, day=DAY)
    assert PASSWORD not in str(raised.value)


def test_other_paths_for_one_test(mxm_container: RuntimeContainer, tmp_path: Path) -> None:
    elsewhere = RuntimePaths(
        data_root=tmp_path / "d",
        artifact_root=tmp_path / "a",
        export_root=tmp_path / "shared-exports",
        log_root=tmp_path / "l",
    )
    with override_runtime(mxm_container, paths=elsewhere) as context:
        report = compose_settlement_report(context, day=DAY)
    assert report.output_file == tmp_path / "shared-exports" / "settlement" / f"{DAY}.csv"


# -- a forbidden principal is refused ------------------------------------------


def test_a_forbidden_principal_is_refused(
    mxm_container: RuntimeContainer, mxm_identity: RuntimeIdentity
) -> None:
    marketdata = RuntimeIdentity(
        app=mxm_identity.app,
        environment=mxm_identity.environment,
        machine=mxm_identity.machine,
        substrate=mxm_identity.substrate,
        role="marketdata",
    )
    with override_runtime(mxm_container, identity=marketdata) as context:
        with pytest.raises(PermissionError, match="principal marketdata"):
            compose_settlement_report(context, day=DAY)
        assert isinstance(context.secrets, StaticSecretsApi)
        assert [(r.principal, r.outcome) for r in context.secrets.requests] == [
            ("marketdata", "denied")
        ]


class TestAsResearch:
    """A whole class of tests running as another role: override ``mxm_identity``."""

    @pytest.fixture
    def mxm_identity(self) -> RuntimeIdentity:
        return RuntimeIdentity(
            app="settlement",
            environment="test",
            machine="test-machine",
            substrate="local-process",
            role="research",
        )

    def test_research_may_not_read_the_database_password(
        self, mxm_context: RuntimeContext, mxm_secrets: StaticSecretsApi
    ) -> None:
        with pytest.raises(PermissionError):
            compose_settlement_report(mxm_context, day=DAY)
        assert [r.outcome for r in mxm_secrets.requests] == ["denied"]


def test_report_type_is_plain_data() -> None:
    report = SettlementReport(
        output_file=Path("/r.csv"),
        log_file=Path("/r.log"),
        host="h",
        port=1,
        database="d",
        user="u",
        password="p",
    )
    assert "password" not in repr(report)
