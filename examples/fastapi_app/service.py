"""A small MXM service on FastAPI: every handler gets its runtime by dependency.

Endpoints
---------
``GET /whoami``
    The runtime identity (``IdentityDep``).
``GET /storage``
    Where the service keeps its data (``PathsDep``).
``GET /database``
    How it reaches its operational database (the ``operational_state``
    database view, through ``database_view``); never the password.
``GET /sign?text=...``
    An HMAC-SHA256 signature of ``text`` with the ``slack_webhook`` secret
    (``SecretsDep``), as a webhook receiver would check it. The secret itself
    never leaves the process.
``GET /health/live``, ``GET /health/ready``
    Liveness and readiness (``health_router``).

The app refuses to start when the runtime cannot be built, including when
``mxm_databases.operational_state`` is not configured.

Run it against the example store (from the repository root)::

    MXM_APP=mxm-moneymachine MXM_ENVIRONMENT=dev MXM_ROLE=research \\
    MXM_MACHINE=bridge MXM_SUBSTRATE=local-process \\
    MXM_CONFIG_STORE_ROOT=examples/config-store \\
    uvicorn --factory --app-dir examples fastapi_app.service:create_app
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.concurrency import run_in_threadpool

from mxm.runtime import RuntimeContainer
from mxm.runtime.databases import DatabaseView
from mxm.runtime.fastapi import (
    IdentityDep,
    PathsDep,
    SecretsDep,
    database_view,
    health_router,
    runtime_lifespan,
)

__all__ = ["DATABASE", "SIGNING_SECRET", "create_app", "router", "signature_of"]

DATABASE = "operational_state"
"""The database view the service reads (``mxm_databases.operational_state``)."""

SIGNING_SECRET = "slack_webhook"
"""The secret the service signs with (``mxm_secrets.refs.slack_webhook``)."""

OperationalDB = Annotated[DatabaseView, Depends(database_view(DATABASE))]

router = APIRouter()


def signature_of(text: str, key: str) -> str:
    """Return ``sha256=<hex>``, the HMAC-SHA256 of ``text`` keyed by ``key``."""
    digest = hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@router.get("/whoami")
async def whoami(identity: IdentityDep) -> dict[str, str]:
    """The identity this service runs as."""
    return {"app": identity.app, "environment": identity.environment, "role": identity.role}


@router.get("/storage")
async def storage(paths: PathsDep) -> dict[str, str]:
    """The service's runtime directories."""
    return {
        "data_root": str(paths.data_root),
        "artifact_root": str(paths.artifact_root),
        "export_root": str(paths.export_root),
        "log_root": str(paths.log_root),
    }


@router.get("/database")
async def database(db: OperationalDB) -> dict[str, str | int | None]:
    """Where the operational database is (the password stays in the secret store)."""
    return {
        "view": db.view_name,
        "driver": db.driver,
        "host": db.host,
        "port": db.port,
        "name": db.name,
        "user": db.user,
        "password_ref": db.password_ref,
    }


@router.get("/sign")
async def sign(text: str, secrets: SecretsDep, identity: IdentityDep) -> dict[str, str]:
    """Sign ``text`` with the webhook secret.

    ``get_secret`` may run ``gopass`` (a subprocess), so it runs in the thread
    pool instead of blocking the event loop. Answers 403 when the role may
    not read the secret and 503 when the backend has no value for it.
    """
    try:
        key = await run_in_threadpool(secrets.get_secret, SIGNING_SECRET, identity=identity)
    except PermissionError:
        raise HTTPException(
            status_code=403, detail=f"role {identity.role!r} may not use {SIGNING_SECRET!r}"
        ) from None
    if key is None:
        raise HTTPException(status_code=503, detail=f"secret {SIGNING_SECRET!r} is not available")
    return {"text": text, "signature": signature_of(text, key)}


def create_app(container: RuntimeContainer | None = None) -> FastAPI:
    """Build the service for ``container`` (default: from ``MXM_*`` settings).

    The runtime is built when the app starts, not here.
    """
    runtime = container if container is not None else RuntimeContainer()
    app = FastAPI(title="mxm example service", lifespan=runtime_lifespan(runtime))
    app.include_router(router)
    app.include_router(health_router(runtime))
    return app
