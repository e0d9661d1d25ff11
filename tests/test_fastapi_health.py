"""mxm.runtime.fastapi.health_router: liveness and readiness, good and broken.

The readiness endpoint runs the real ``check_runtime``; the body-shaping tests
at the end substitute a report to pin redaction down exactly.
"""

import json
from pathlib import Path
from typing import cast

import httpx
import pytest
from dependency_injector import providers
from fastapi import FastAPI
from fastapi.testclient import TestClient
from mxm.types import RuntimeIdentity

from mxm.runtime import RuntimeContainer, RuntimePaths, diagnostics
from mxm.runtime.diagnostics import Check, CheckStatus, RuntimeReport
from mxm.runtime.fastapi import health_router, runtime_lifespan
from mxm.runtime.testing import (
    TEST_PRINCIPAL,
    TEST_SECRET,
    minimal_runtime_config,
    static_secrets_from_config,
    write_config_store,
)
from mxm.runtime.testing.gopass import GopassStore

APP = "svc"
SECRET_VALUE = "pw-do-not-leak-7781"
SECRET_LOCATION = "mxm/test/database/password"  # store root mxm/test + ref path


def _get(client: TestClient, url: str) -> httpx.Response:
    """``client.get`` typed (starlette types TestClient against httpx2)."""
    return cast(httpx.Response, client.get(url))  # pyright: ignore[reportUnknownMemberType]


def _identity() -> RuntimeIdentity:
    return RuntimeIdentity(
        app=APP, environment="test", machine="box", substrate="local-process", role=TEST_PRINCIPAL
    )


def _container(tmp_path: Path, *, create_paths: bool) -> RuntimeContainer:
    runtime_root = tmp_path / "rt"
    if create_paths:
        for name in ("data", "artifacts", "exports", "logs"):
            (runtime_root / name).mkdir(parents=True)
    root = write_config_store(
        tmp_path / "store", APP, {"default": minimal_runtime_config(runtime_root)}
    )
    return RuntimeContainer.from_identity(_identity(), store_root=root)


def _app(container: RuntimeContainer, *, bind: bool = True) -> FastAPI:
    app = FastAPI(lifespan=runtime_lifespan(container))
    app.include_router(health_router(container if bind else None))
    return app


def _static_secrets(container: RuntimeContainer) -> None:
    secrets = static_secrets_from_config(container.config(), {TEST_SECRET: SECRET_VALUE})
    container.secrets.override(providers.Object(secrets))


def _assert_no_leak(text: str, container: RuntimeContainer) -> None:
    assert SECRET_VALUE not in text
    assert SECRET_LOCATION not in text
    assert "mxm/test" not in text
    assert str(container.store_root()) not in text


def test_liveness_answers_while_serving(tmp_path: Path) -> None:
    container = _container(tmp_path, create_paths=False)
    with TestClient(_app(container)) as client:
        response = _get(client, "/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


def test_readiness_is_200_when_every_check_passes(tmp_path: Path) -> None:
    container = _container(tmp_path, create_paths=True)
    _static_secrets(container)
    with TestClient(_app(container)) as client:
        response = _get(client, "/health/ready")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ready"
    assert body["failures"] == []
    names = {check["name"] for check in body["checks"]}
    assert {"config.load", "secrets.backend", "paths.data_root", "paths.log_root"} <= names
    assert all(check["status"] in {"ok", "warn"} for check in body["checks"])
    _assert_no_leak(response.text, container)


def test_readiness_is_503_naming_each_failing_check(tmp_path: Path) -> None:
    container = _container(tmp_path, create_paths=False)  # the four paths are missing
    _static_secrets(container)
    with TestClient(_app(container, bind=False)) as client:  # container found on app.state
        assert _get(client, "/health/live").status_code == 200  # alive, though not ready
        response = _get(client, "/health/ready")
    body = response.json()
    assert response.status_code == 503, body
    assert body["status"] == "not ready"
    failing = {failure["name"] for failure in body["failures"]}
    assert failing == {
        "paths.data_root",
        "paths.artifact_root",
        "paths.export_root",
        "paths.log_root",
    }
    assert all(failure["message"] for failure in body["failures"])
    statuses = {check["name"]: check["status"] for check in body["checks"]}
    assert statuses["paths.data_root"] == "fail"
    assert statuses["config.load"] == "ok"
    assert set(body) == {"status", "checks", "failures"}  # no fix hints, no details
    _assert_no_leak(response.text, container)


def test_readiness_follows_overrides_and_recovers(tmp_path: Path) -> None:
    container = _container(tmp_path, create_paths=True)
    _static_secrets(container)
    missing = tmp_path / "gone"
    broken = RuntimePaths(missing / "d", missing / "a", missing / "e", missing / "l")
    with TestClient(_app(container)) as client:
        assert _get(client, "/health/ready").status_code == 200
        with container.paths.override(providers.Object(broken)):
            response = _get(client, "/health/ready")
            assert response.status_code == 503
            assert {f["name"] for f in response.json()["failures"]} >= {"paths.data_root"}
        assert _get(client, "/health/ready").status_code == 200


def test_readiness_hides_the_store_root_when_the_store_breaks_after_start_up(
    tmp_path: Path,
) -> None:
    container = _container(tmp_path, create_paths=True)
    _static_secrets(container)
    with TestClient(_app(container)) as client:
        default = container.store_root() / "apps" / APP / "default.yaml"
        default.unlink()  # the running app keeps its config; a restart would fail
        response = _get(client, "/health/ready")
    assert response.status_code == 503
    assert response.json()["failures"]  # the store checks fail
    _assert_no_leak(response.text, container)


@pytest.mark.integration
def test_readiness_with_a_real_gopass_backend(tmp_path: Path, gopass_store: GopassStore) -> None:
    gopass_store.write(SECRET_LOCATION, SECRET_VALUE)
    container = _container(tmp_path, create_paths=True)  # real SecretsApi, real gopass
    with TestClient(_app(container)) as client:
        ready = _get(client, "/health/ready")
    assert ready.status_code == 200, ready.json()
    statuses = {check["name"]: check["status"] for check in ready.json()["checks"]}
    assert statuses["secrets.backend"] == "ok"
    _assert_no_leak(ready.text, container)


# -- body shaping (substituted report) ---------------------------------------------


def test_readiness_body_redacts_backend_locations_in_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = _container(tmp_path, create_paths=True)
    _static_secrets(container)
    store_root = container.store_root()

    def fake_check_runtime(target: RuntimeContainer) -> RuntimeReport:
        assert target is container
        return RuntimeReport(
            (
                Check("config.load", CheckStatus.OK, "loaded"),
                Check(
                    "secrets.ref.database_password",
                    CheckStatus.FAIL,
                    f"cannot read {SECRET_LOCATION} (store root mxm/test) from {store_root}",
                    fix=f"gopass insert {SECRET_LOCATION}",
                    details={"path": SECRET_LOCATION},
                ),
                Check("paths.log_root", CheckStatus.WARN, "nearly full"),
            )
        )

    monkeypatch.setattr(diagnostics, "check_runtime", fake_check_runtime)
    with TestClient(_app(container)) as client:
        response = _get(client, "/health/ready")
    assert response.status_code == 503
    assert response.json() == {
        "status": "not ready",
        "checks": [
            {"name": "config.load", "status": "ok"},
            {"name": "secrets.ref.database_password", "status": "fail"},
            {"name": "paths.log_root", "status": "warn"},
        ],
        "failures": [
            {
                "name": "secrets.ref.database_password",
                "message": "cannot read <redacted> (store root <redacted>) from <redacted>",
            }
        ],
    }
    _assert_no_leak(json.dumps(response.json()), container)


def test_warnings_alone_keep_the_service_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = _container(tmp_path, create_paths=True)
    _static_secrets(container)
    report = RuntimeReport((Check("databases", CheckStatus.WARN, "no database declared"),))

    def fake_check_runtime(target: RuntimeContainer) -> RuntimeReport:
        return report

    monkeypatch.setattr(diagnostics, "check_runtime", fake_check_runtime)
    app = FastAPI(lifespan=runtime_lifespan(container))
    app.include_router(health_router(container, prefix="/ops", readiness_path="/readyz"))
    with TestClient(app) as client:
        response = _get(client, "/ops/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"
