"""Configuration of the example service's test runtime (the plugin's fixtures, overridden).

The ``mxm_runtime`` pytest plugin builds a real runtime per test from
``mxm_config_layers`` and answers secrets from ``mxm_secret_values``; these
overrides give it what the service reads: the ``operational_state`` database
and the ``slack_webhook`` secret, with existing runtime directories.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mxm.runtime.testing import TEST_PRINCIPAL, minimal_runtime_config

from ..service import DATABASE, SIGNING_SECRET

SIGNING_KEY = "k-test-signing-1"

DATABASE_VIEW: dict[str, Any] = {
    "driver": "postgresql",
    "host": "db.internal",
    "port": 5432,
    "name": "ops",
    "user": "ops_app",
    "password_ref": "database_password",
}
"""The service's database view, as configured (and as ``/database`` must answer it)."""


def service_config(runtime_root: Path, **changes: Any) -> dict[str, Any]:
    """The service's configuration under ``runtime_root``, with ``changes`` set (pure)."""
    config = minimal_runtime_config(
        runtime_root,
        mxm_secrets={
            "stores": {"notify": {"backend": "gopass", "root": "mxm/notify"}},
            "refs": {
                SIGNING_SECRET: {
                    "store": "notify",
                    "path": "slack/webhook",
                    "policy": "notifications",
                }
            },
            "policies": {"notifications": {"allowed_principals": [TEST_PRINCIPAL]}},
        },
        mxm_databases={DATABASE: dict(DATABASE_VIEW)},
    )
    for section, value in changes.items():
        config[section] = value
    return config


@pytest.fixture
def mxm_config_layers(tmp_path: Path) -> dict[str, Any]:
    """The store the service runs on in every test of this package (directories made)."""
    runtime_root = tmp_path / "runtime"
    for name in ("data", "artifacts", "exports", "logs"):
        (runtime_root / name).mkdir(parents=True, exist_ok=True)
    return {"default": service_config(runtime_root)}


@pytest.fixture
def mxm_secret_values() -> dict[str, str]:
    """The signing key the service's StaticSecretsApi answers with."""
    return {SIGNING_SECRET: SIGNING_KEY}
