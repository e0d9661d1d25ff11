"""Tests of the example service with FastAPI's TestClient.

Idioms shown:

* the plugin's ``mxm_container`` is a real runtime per test; ``conftest.py``
  overrides ``mxm_config_layers`` and ``mxm_secret_values`` for the package;
* parametrizing ``mxm_secret_values`` or ``mxm_config_layers`` changes the
  secrets or the configuration for one test;
* ``override_runtime(mxm_container, ...)`` changes them for one block, while
  the app keeps running: the dependencies resolve on every request.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi.testclient import TestClient

from mxm.runtime import ConfigSectionError, RuntimeContainer, RuntimeIdentity
from mxm.runtime.testing import override_runtime, static_secrets_from_config, write_config_store

from ..service import DATABASE, SIGNING_SECRET, create_app, signature_of
from .conftest import DATABASE_VIEW, SIGNING_KEY, service_config


def _get(client: TestClient, url: str) -> httpx.Response:
    """``client.get`` typed (starlette types TestClient against httpx2)."""
    return cast(httpx.Response, client.get(url))  # pyright: ignore[reportUnknownMemberType]


@pytest.fixture
def client(mxm_container: RuntimeContainer) -> Iterator[TestClient]:
    with TestClient(create_app(mxm_container)) as test_client:
        yield test_client


def test_whoami_reads_the_identity(client: TestClient, mxm_identity: RuntimeIdentity) -> None:
    assert _get(client, "/whoami").json() == {
        "app": mxm_identity.app,
        "environment": "test",
        "role": mxm_identity.role,
    }


def test_storage_reads_the_paths(client: TestClient, tmp_path: Path) -> None:
    runtime = tmp_path / "runtime"
    assert _get(client, "/storage").json() == {
        "data_root": str(runtime / "data"),
        "artifact_root": str(runtime / "artifacts"),
        "export_root": str(runtime / "exports"),
        "log_root": str(runtime / "logs"),
    }


def test_database_reads_the_view_but_never_a_password(client: TestClient) -> None:
    response = _get(client, "/database")
    assert response.json() == {"view": DATABASE, **DATABASE_VIEW}


def test_sign_uses_the_secret(client: TestClient) -> None:
    response = _get(client, "/sign?text=hello")
    assert response.status_code == 200
    assert response.json() == {"text": "hello", "signature": signature_of("hello", SIGNING_KEY)}
    assert SIGNING_KEY not in response.text


@pytest.mark.parametrize("mxm_secret_values", [{SIGNING_SECRET: "another-key"}])
def test_secrets_overridden_for_one_test(client: TestClient) -> None:
    assert _get(client, "/sign?text=x").json()["signature"] == signature_of("x", "another-key")


@pytest.mark.parametrize("mxm_secret_values", [{}])
def test_a_missing_secret_is_a_503(client: TestClient) -> None:
    response = _get(client, "/sign?text=x")
    assert response.status_code == 503
    assert response.json() == {"detail": f"secret {SIGNING_SECRET!r} is not available"}


def test_secrets_and_identity_overridden_while_the_app_runs(
    client: TestClient, mxm_container: RuntimeContainer, mxm_identity: RuntimeIdentity
) -> None:
    rotated = static_secrets_from_config(mxm_container.config(), {SIGNING_SECRET: "rotated"})
    with override_runtime(mxm_container, secrets=rotated):
        assert _get(client, "/sign?text=a").json()["signature"] == signature_of("a", "rotated")
        assert rotated.requested_names == (SIGNING_SECRET,)
    outsider = RuntimeIdentity(
        app=mxm_identity.app,
        environment="test",
        machine=mxm_identity.machine,
        substrate=mxm_identity.substrate,
        role="reporting",
    )
    with override_runtime(mxm_container, identity=outsider):
        response = _get(client, "/sign?text=a")
        assert response.status_code == 403
        assert _get(client, "/whoami").json()["role"] == "reporting"
    assert _get(client, "/sign?text=a").json()["signature"] == signature_of("a", SIGNING_KEY)


def _with_port(tmp_path: Path, port: int) -> dict[str, Any]:
    config = service_config(tmp_path / "runtime")
    config["mxm_databases"][DATABASE]["port"] = port
    return {"default": config}


@pytest.mark.parametrize("port", [6432, 15432])
def test_config_overridden_for_one_test(
    port: int, tmp_path: Path, mxm_container: RuntimeContainer
) -> None:
    # A fresh store for this test only, swapped in through the config provider.
    app_name = mxm_container.identity().app
    root = write_config_store(tmp_path / "other", app_name, _with_port(tmp_path, port))
    other = RuntimeContainer.from_identity(mxm_container.identity(), store_root=root).config()
    with TestClient(create_app(mxm_container)) as client:
        assert _get(client, "/database").json()["port"] == 5432
        with override_runtime(mxm_container, config=other):
            assert _get(client, "/database").json()["port"] == port
        assert _get(client, "/database").json()["port"] == 5432


@pytest.mark.parametrize(
    "mxm_config_layers",
    [{"default": service_config(Path("/srv/never-created"), mxm_databases={})}],
)
def test_the_app_refuses_to_start_without_its_database(mxm_container: RuntimeContainer) -> None:
    app = create_app(mxm_container)
    with pytest.raises(ConfigSectionError) as caught, TestClient(app):
        pytest.fail("the app must not start")  # pragma: no cover
    assert f"mxm_databases.{DATABASE}" in str(caught.value)


def test_ready_when_the_runtime_is_healthy(client: TestClient) -> None:
    response = _get(client, "/health/ready")
    assert response.status_code == 200, response.json()
    assert SIGNING_KEY not in response.text
