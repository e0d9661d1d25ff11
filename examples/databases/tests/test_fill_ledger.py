"""Tests of the fill ledger, written with the ``mxm.runtime.testing`` plugin.

The idioms:

* override ``mxm_config_layers`` to point the ``operational_state`` view at an
  embedded SQLite file under the test's data root: a real database, no server;
* the ``mxm_container`` fixture shuts its resources (the engines) down at
  teardown; tests that call :func:`main` check it does so itself;
* override the container's ``engines`` provider to hand the app a different
  engine registry, exactly like any other provider.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from mxm.runtime import ConfigSectionError, RuntimeContainer, RuntimeContext, RuntimeIdentity
from mxm.runtime.databases import DatabaseEngines, DatabaseView, DatabaseViews
from mxm.runtime.testing import minimal_runtime_config
from mxm.runtime.testing.plugin import ConfigStoreFactory

from ..fill_ledger import DATABASE, FillLedger, compose_fill_ledger, main


@pytest.fixture
def mxm_config_layers(tmp_path: Path) -> dict[str, Any]:
    config = minimal_runtime_config(tmp_path / "runtime")
    config["mxm_databases"] = {
        DATABASE: {"driver": "sqlite", "path": "${mxm_paths.data_root}/ledger.sqlite"}
    }
    return {"default": config}


def test_ledger_nets_fills_in_the_configured_sqlite_file(
    mxm_container: RuntimeContainer, mxm_context: RuntimeContext
) -> None:
    ledger = compose_fill_ledger(mxm_container)
    ledger.record("AAPL", 100)
    ledger.record("AAPL", Decimal("-40.5"))
    ledger.record("MSFT", 10)
    ledger.record("MSFT", -10)
    assert ledger.net_positions() == {"AAPL": Decimal("59.5")}
    assert mxm_context.paths is not None
    assert (mxm_context.paths.data_root / "ledger.sqlite").is_file()
    with pytest.raises(ValueError, match="symbol"):
        ledger.record(" ", 1)


def test_main_records_prints_and_disposes_the_engines(
    mxm_container: RuntimeContainer, capsys: pytest.CaptureFixture[str]
) -> None:
    engines = mxm_container.engines()
    assert main(["AAPL:100", "AAPL:-40", "MSFT:10"], container=mxm_container) == 0
    assert capsys.readouterr().out.splitlines() == ["AAPL 60", "MSFT 10"]
    assert engines.closed  # main shut the container's resources down
    # The data is in the file: a second run (new engines) sees it.
    assert main(["MSFT:-10"], container=mxm_container) == 0
    assert capsys.readouterr().out.splitlines() == ["AAPL 60"]


def test_main_rejects_a_malformed_fill(
    mxm_container: RuntimeContainer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["AAPL:lots"], container=mxm_container) == 2
    assert "SYMBOL:QUANTITY" in capsys.readouterr().err


def test_engines_provider_can_be_overridden(
    mxm_container: RuntimeContainer, mxm_identity: RuntimeIdentity, mxm_context: RuntimeContext
) -> None:
    in_memory = DatabaseEngines(
        DatabaseViews({DATABASE: DatabaseView(DATABASE, "sqlite", path=":memory:")}),
        None,
        mxm_identity,
    )
    with mxm_container.engines.override(providers.Object(in_memory)):  # pyright: ignore[reportUnknownMemberType]
        ledger = compose_fill_ledger(mxm_container)
        ledger.record("EURUSD", 1_000_000)
        assert ledger.net_positions() == {"EURUSD": Decimal(1_000_000)}
    in_memory.dispose()
    assert mxm_context.paths is not None
    assert not (mxm_context.paths.data_root / "ledger.sqlite").exists()


def test_missing_view_is_a_configuration_error(
    mxm_store_factory: ConfigStoreFactory, mxm_identity: RuntimeIdentity, tmp_path: Path
) -> None:
    config = minimal_runtime_config(tmp_path / "other")  # declares only "main"
    root = mxm_store_factory({"default": config})
    container = RuntimeContainer.from_identity(mxm_identity, store_root=root)
    try:
        with pytest.raises(ConfigSectionError, match=r"mxm_databases\.operational_state"):
            compose_fill_ledger(container)
    finally:
        container.shutdown_resources()


def test_ledger_works_on_any_engine(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{tmp_path / 'plain.sqlite'}")
    try:
        ledger = FillLedger(engine)
        ledger.create_schema()
        ledger.record("BTC", Decimal("0.25"))
        assert ledger.net_positions() == {"BTC": Decimal("0.25")}
    finally:
        engine.dispose()


def test_runs_as_a_program_from_mxm_settings(
    mxm_store_root: Path, mxm_identity: RuntimeIdentity, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[3]
    env = {key: value for key, value in os.environ.items() if not key.startswith("MXM_")}
    env.update(
        {
            "MXM_APP": mxm_identity.app,
            "MXM_ENVIRONMENT": mxm_identity.environment,
            "MXM_ROLE": mxm_identity.role,
            "MXM_MACHINE": mxm_identity.machine,
            "MXM_SUBSTRATE": mxm_identity.substrate,
            "MXM_CONFIG_STORE_ROOT": str(mxm_store_root),
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "examples.databases.fill_ledger", "ETH:2", "ETH:-0.5"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["ETH 1.5"]
