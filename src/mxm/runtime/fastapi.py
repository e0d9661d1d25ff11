"""FastAPI integration: start-up lifespan, typed dependencies, health endpoints.

Why
---
An MXM service should get its runtime from the :class:`RuntimeContainer`
with no boilerplate, refuse to start when the runtime cannot be built (rather
than fail at the first request), and pay next to nothing per request for it.

Install the optional extra: ``pip install "mxm-runtime[fastapi]"``. This
module is never imported by ``import mxm.runtime``.

Usage
-----
::

    from fastapi import FastAPI
    from mxm.runtime import RuntimeContainer
    from mxm.runtime.fastapi import (
        ContextDep, PathsDep, health_router, runtime_lifespan,
    )

    container = RuntimeContainer()              # reads MXM_* settings
    app = FastAPI(lifespan=runtime_lifespan(container))
    app.include_router(health_router(container))

    @app.get("/paths")
    async def paths(paths: PathsDep) -> dict[str, str]:
        return {"data_root": str(paths.data_root)}

How the pieces fit
------------------
* :func:`runtime_lifespan` builds ``container.context()`` at start-up (a broken
  store, a missing section or an invalid identity raises the runtime's own
  error and the server exits before it serves), checks every database view
  the routes ask for, runs ``container.init_resources()``, stores the
  container on ``app.state`` and, on exit, runs
  ``container.shutdown_resources()``. It wraps an optional lifespan of the
  application's own.
* The typed dependencies (:data:`ContextDep`, :data:`SecretsDep`,
  :data:`PathsDep`, :data:`IdentityDep`, :data:`ConfigDep`,
  :data:`ContainerDep` and :func:`database_view`) are ``async`` functions that
  read the container from ``request.app.state`` and resolve the provider on
  every request, so provider overrides (in tests) take effect at once, without
  restarting the app. Being ``async`` they never hop to FastAPI's thread pool.
* :class:`RuntimeDeps` binds the same dependencies to one container directly
  (for sub-applications, or apps that do not use the lifespan).
* The dependency-injector idiom (``@inject`` with
  ``Depends(Provide[RuntimeContainer.context])`` after
  ``container.wire(modules=[...])``) works too; FastAPI runs those sync
  markers in its thread pool, which costs a thread hop per dependency.
* :func:`health_router` serves a liveness and a readiness endpoint; readiness
  runs :func:`mxm.runtime.diagnostics.check_runtime`.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any, overload

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from mxm.config import MXMConfig
from mxm.secrets import SecretsApi
from mxm.types import RuntimeIdentity
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from mxm.runtime import diagnostics
from mxm.runtime.container import RuntimeContainer
from mxm.runtime.context import RuntimeContext, RuntimePaths
from mxm.runtime.databases import DatabaseView, DatabaseViews
from mxm.runtime.errors import ConfigSectionError, MXMRuntimeError

__all__ = [
    "STATE_ATTRIBUTE",
    "ConfigDep",
    "ContainerDep",
    "ContextDep",
    "IdentityDep",
    "PathsDep",
    "RuntimeDeps",
    "RuntimeNotStartedError",
    "SecretsDep",
    "database_view",
    "get_config",
    "get_container",
    "get_container_dependency",
    "get_context",
    "get_identity",
    "get_paths",
    "get_secrets",
    "health_router",
    "runtime_lifespan",
]

logger = logging.getLogger("mxm.runtime.fastapi")

STATE_ATTRIBUTE = "mxm_runtime_container"
"""Name of the ``app.state`` attribute holding the running container."""

_DATABASE_VIEW_MARK = "__mxm_database_view__"

AppLifespan = Callable[[Any], AbstractAsyncContextManager[Any]]
"""An application's own lifespan: ``app -> async context manager``."""


class RuntimeNotStartedError(MXMRuntimeError, RuntimeError):
    """Raised when a runtime dependency is used on an app without the runtime lifespan."""


# -- finding the container ----------------------------------------------------


def get_container(app: Starlette) -> RuntimeContainer:
    """Return the container that :func:`runtime_lifespan` stored on ``app``.

    Parameters
    ----------
    app:
        The running FastAPI (or Starlette) application.

    Raises
    ------
    RuntimeNotStartedError
        (``RuntimeError``) the app was not started with
        :func:`runtime_lifespan`, or it has shut down.
    """
    container: RuntimeContainer | None = getattr(app.state, STATE_ATTRIBUTE, None)
    if container is None:
        raise RuntimeNotStartedError(
            "No runtime container on app.state: the app was not started with "
            "runtime_lifespan (or it has shut down)",
            hint=(
                "create the app with FastAPI(lifespan=runtime_lifespan(container)) and "
                "serve it (or enter 'with TestClient(app):'), or use RuntimeDeps(container)"
            ),
        )
    return container


def _container(request: Request) -> RuntimeContainer:
    container: RuntimeContainer | None = getattr(request.app.state, STATE_ATTRIBUTE, None)
    if container is None:
        return get_container(request.app)  # raises the documented error
    return container


# -- typed dependencies (async: no thread-pool hop) ---------------------------


async def get_container_dependency(request: Request) -> RuntimeContainer:
    """Dependency: the running :class:`RuntimeContainer`.

    Raises
    ------
    RuntimeNotStartedError
        The app was not started with :func:`runtime_lifespan`.
    """
    return _container(request)


async def get_context(request: Request) -> RuntimeContext:
    """Dependency: ``container.context()`` of the running app.

    Raises
    ------
    RuntimeNotStartedError
        The app was not started with :func:`runtime_lifespan`.
    MXMRuntimeError
        An overridden piece cannot be built (the runtime's own error).
    """
    return _container(request).context()


async def get_secrets(request: Request) -> SecretsApi:
    """Dependency: ``container.secrets()`` (the configured ``SecretsApi``).

    Raises
    ------
    RuntimeNotStartedError
        The app was not started with :func:`runtime_lifespan`.
    MXMRuntimeError
        An overridden piece cannot be built (the runtime's own error).
    """
    return _container(request).secrets()


async def get_paths(request: Request) -> RuntimePaths:
    """Dependency: ``container.paths()``.

    Raises
    ------
    RuntimeNotStartedError
        The app was not started with :func:`runtime_lifespan`.
    MXMRuntimeError
        An overridden piece cannot be built (the runtime's own error).
    """
    return _container(request).paths()


async def get_identity(request: Request) -> RuntimeIdentity:
    """Dependency: ``container.identity()``.

    Raises
    ------
    RuntimeNotStartedError
        The app was not started with :func:`runtime_lifespan`.
    MXMRuntimeError
        An overridden piece cannot be built (the runtime's own error).
    """
    return _container(request).identity()


async def get_config(request: Request) -> MXMConfig:
    """Dependency: ``container.config()`` (the read-only merged configuration).

    Raises
    ------
    RuntimeNotStartedError
        The app was not started with :func:`runtime_lifespan`.
    MXMRuntimeError
        An overridden piece cannot be built (the runtime's own error).
    """
    return _container(request).config()


ContainerDep = Annotated[RuntimeContainer, Depends(get_container_dependency)]
"""The running :class:`RuntimeContainer` (for providers of your own)."""

ContextDep = Annotated[RuntimeContext, Depends(get_context)]
"""The :class:`RuntimeContext` of the running app."""

SecretsDep = Annotated[SecretsApi, Depends(get_secrets)]
"""The configured ``SecretsApi``; call ``get_secret(name, identity=...)``."""

PathsDep = Annotated[RuntimePaths, Depends(get_paths)]
"""The :class:`RuntimePaths` of the running app."""

IdentityDep = Annotated[RuntimeIdentity, Depends(get_identity)]
"""The ``RuntimeIdentity`` of the running app."""

ConfigDep = Annotated[MXMConfig, Depends(get_config)]
"""The read-only merged configuration of the running app."""


def _missing_view(name: str, views: DatabaseViews) -> ConfigSectionError:
    available = ", ".join(sorted(views)) or "none"
    return ConfigSectionError(
        f"Database view {name!r} is not configured under mxm_databases",
        key=f"mxm_databases.{name}",
        hint=f"add '{name}:' under mxm_databases (configured: {available})",
    )


def _view(container: RuntimeContainer, name: str) -> DatabaseView:
    views = container.db_configs()
    try:
        return views[name]
    except KeyError:
        raise _missing_view(name, views) from None


def database_view(name: str) -> Callable[[Request], Awaitable[DatabaseView]]:
    """Return a dependency resolving the typed database view ``mxm_databases.<name>``.

    Use it in a type alias::

        OperationalDB = Annotated[DatabaseView, Depends(database_view("operational_state"))]

    :func:`runtime_lifespan` checks at start-up that every view the app's
    routes depend on is configured.

    Parameters
    ----------
    name:
        The logical database name (a key of ``mxm_databases``).

    Returns
    -------
    Callable
        An ``async`` dependency; it raises :class:`ConfigSectionError`
        (``KeyError``) naming ``mxm_databases.<name>`` when the view is
        missing, and :class:`RuntimeNotStartedError` without the lifespan.
    """

    async def dependency(request: Request) -> DatabaseView:
        return _view(_container(request), name)

    dependency.__name__ = dependency.__qualname__ = f"database_view_{name}"
    setattr(dependency, _DATABASE_VIEW_MARK, name)
    return dependency


class RuntimeDeps:
    """Dependencies bound to one container (no ``app.state`` lookup).

    Use it when the app is mounted as a sub-application, or is not started
    with :func:`runtime_lifespan`::

        deps = RuntimeDeps(container)

        @app.get("/who")
        async def who(identity: Annotated[RuntimeIdentity, Depends(deps.identity)]) -> str:
            return identity.app

    Every method is ``async`` and resolves the provider on each call, so
    overrides take effect at once. Errors are the runtime's own
    (:class:`MXMRuntimeError` subclasses) when a piece cannot be built.
    """

    __slots__ = ("container",)

    def __init__(self, container: RuntimeContainer) -> None:
        self.container = container

    async def context(self) -> RuntimeContext:
        """Dependency: ``container.context()``."""
        return self.container.context()

    async def secrets(self) -> SecretsApi:
        """Dependency: ``container.secrets()``."""
        return self.container.secrets()

    async def paths(self) -> RuntimePaths:
        """Dependency: ``container.paths()``."""
        return self.container.paths()

    async def identity(self) -> RuntimeIdentity:
        """Dependency: ``container.identity()``."""
        return self.container.identity()

    async def config(self) -> MXMConfig:
        """Dependency: ``container.config()``."""
        return self.container.config()

    def database(self, name: str) -> Callable[[], Awaitable[DatabaseView]]:
        """Return a dependency resolving ``mxm_databases.<name>`` of this container.

        The dependency raises :class:`ConfigSectionError` (``KeyError``)
        naming ``mxm_databases.<name>`` when the view is missing.
        """
        container = self.container

        async def dependency() -> DatabaseView:
            return _view(container, name)

        dependency.__name__ = dependency.__qualname__ = f"database_view_{name}"
        setattr(dependency, _DATABASE_VIEW_MARK, name)
        return dependency


# -- lifespan -----------------------------------------------------------------


def _route_dependants(routes: Iterable[BaseRoute]) -> list[Any]:
    """The dependency trees of ``routes``, included routers expanded."""
    dependants: list[Any] = []
    for route in routes:
        # FastAPI >= 0.16x keeps included routers as one route that expands lazily.
        contexts: Callable[[], Iterable[Any]] | None = getattr(
            route, "effective_route_contexts", None
        )
        if contexts is not None:
            dependants.extend(getattr(context, "dependant", None) for context in contexts())
        else:
            dependants.append(getattr(route, "dependant", None))
    return dependants


def _declared_database_views(routes: Iterable[BaseRoute]) -> set[str]:
    """Names of every :func:`database_view` the routes depend on."""
    names: set[str] = set()
    pending: list[Any] = _route_dependants(routes)
    while pending:
        dependant = pending.pop()
        if dependant is None:
            continue
        name = getattr(dependant.call, _DATABASE_VIEW_MARK, None)
        if isinstance(name, str):
            names.add(name)
        pending.extend(dependant.dependencies)
    return names


async def _maybe_await(result: object) -> None:
    if inspect.isawaitable(result):
        await result


@asynccontextmanager
async def _runtime_running(
    container: RuntimeContainer, app: Starlette, lifespan: AppLifespan | None
) -> AsyncGenerator[Mapping[str, Any] | None]:
    try:
        container.context()
        for name in sorted(_declared_database_views(app.router.routes)):
            _view(container, name)
    except MXMRuntimeError as error:
        logger.error("mxm-runtime: the runtime cannot be built; the app will not start:\n%s", error)
        raise
    try:
        await _maybe_await(container.init_resources())
    except BaseException as error:
        if isinstance(error, MXMRuntimeError):
            logger.error(
                "mxm-runtime: a container resource failed; the app will not start:\n%s", error
            )
        await _maybe_await(container.shutdown_resources())  # those that did start
        raise
    setattr(app.state, STATE_ATTRIBUTE, container)
    try:
        if lifespan is None:
            yield None
        else:
            async with lifespan(app) as state:
                yield state
    finally:
        if getattr(app.state, STATE_ATTRIBUTE, None) is container:
            delattr(app.state, STATE_ATTRIBUTE)
        await _maybe_await(container.shutdown_resources())


@overload
def runtime_lifespan(
    container: RuntimeContainer, lifespan: None = None
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]: ...


@overload
def runtime_lifespan(
    container: RuntimeContainer, lifespan: Callable[[Any], AbstractAsyncContextManager[None]]
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]: ...


@overload
def runtime_lifespan(
    container: RuntimeContainer,
    lifespan: Callable[[Any], AbstractAsyncContextManager[Mapping[str, Any]]],
) -> Callable[[Starlette], AbstractAsyncContextManager[Mapping[str, Any]]]: ...


def runtime_lifespan(
    container: RuntimeContainer, lifespan: AppLifespan | None = None
) -> Callable[[Starlette], AbstractAsyncContextManager[Any]]:
    """Return a FastAPI lifespan that runs ``container`` for the app's lifetime.

    On start-up, in order: build ``container.context()`` (every piece), check
    that each :func:`database_view` used by the app's routes exists, run
    ``container.init_resources()``, store the container on ``app.state``, then
    enter ``lifespan`` (the application's own, optional). On shut-down the
    application's lifespan exits first, then ``container.shutdown_resources()``
    runs (also when the application's lifespan raised).

    Use it as ``FastAPI(lifespan=runtime_lifespan(container))``, or
    ``runtime_lifespan(container, my_lifespan)`` to wrap your own; inside your
    lifespan :func:`get_container` returns the running container. It also
    composes the other way round: ``async with runtime_lifespan(container)(app):``
    inside a lifespan of yours.

    Parameters
    ----------
    container:
        The runtime to run (``RuntimeContainer()`` or ``from_identity``).
    lifespan:
        The application's own lifespan; whatever state it yields is passed on.

    Returns
    -------
    Callable
        ``app -> async context manager``, as ``FastAPI(lifespan=...)`` expects.

    Raises
    ------
    MXMRuntimeError
        At start-up (when the returned context manager is entered): the
        runtime's own error (``ConfigStoreNotFoundError``,
        ``ConfigSectionError``, ``RuntimeIdentityError``,
        ``RuntimeSettingsError``...), logged on ``mxm.runtime.fastapi`` and
        re-raised, so the server stops before it serves. An error raised by
        ``init_resources()`` propagates the same way, after the resources
        that did start are shut down.
    """

    def start(app: Starlette) -> AbstractAsyncContextManager[Any]:
        return _runtime_running(container, app, lifespan)

    return start


# -- health -------------------------------------------------------------------

_REDACTED = "<redacted>"


def _backend_locations(container: RuntimeContainer) -> list[str]:
    """Backend locations known to ``container``, to keep them out of response bodies.

    The configuration store root, and every secret store root, secret path
    and resolved secret location (``mxm/red/marketdata/api_key``).
    """
    locations: set[str] = set()
    try:
        store_root = str(container.store_root())
    except Exception:  # the readiness checks report it
        store_root = ""
    if store_root.strip("/"):
        locations.add(store_root)
    try:
        api = container.secrets()
    except Exception:  # the readiness checks report it; no secret locations known then
        return sorted(locations, key=len, reverse=True)
    refs = getattr(api, "secret_ref_registry", None)
    stores = getattr(api, "secret_store_registry", None)
    try:
        if stores is not None:
            for store_name in stores.names():
                locations.add(str(stores.get(store_name).root))
        if refs is not None:
            for ref_name in refs.names():
                ref = refs.get(ref_name)
                locations.add(str(ref.path))
                if stores is not None and stores.contains(ref.store):
                    locations.add(str(stores.get(ref.store).resolve_path(ref.path)))
    except Exception:  # a fake SecretsApi with other registries: redact what we found
        pass
    return sorted((loc for loc in locations if loc), key=len, reverse=True)


def _redact(text: str, locations: list[str]) -> str:
    for location in locations:
        text = text.replace(location, _REDACTED)
    return text


def health_router(
    container: RuntimeContainer | None = None,
    *,
    prefix: str = "/health",
    liveness_path: str = "/live",
    readiness_path: str = "/ready",
) -> APIRouter:
    """Return a router with a liveness and a readiness endpoint.

    ``GET {prefix}{liveness_path}`` answers 200 ``{"status": "alive"}`` while
    the process serves. ``GET {prefix}{readiness_path}`` runs
    :func:`mxm.runtime.diagnostics.check_runtime` (in a worker thread: it may
    call the secrets backend) and answers 200 ``{"status": "ready", ...}`` when
    no check failed, else 503 ``{"status": "not ready", ...}``. Both bodies
    list every check by ``name`` and ``status``, and ``failures`` names each
    failed check with its message. No secret value and no backend path (the
    configuration store root, secret store roots and secret paths are
    replaced by ``<redacted>``), no fix hint and no check details are put in
    the body.

    Parameters
    ----------
    container:
        The runtime to diagnose; ``None`` uses the container that
        :func:`runtime_lifespan` stored on the app.
    prefix, liveness_path, readiness_path:
        Where the endpoints are served.

    Returns
    -------
    APIRouter
        Include it with ``app.include_router(...)``.

    Raises
    ------
    RuntimeNotStartedError
        (at request time, as a 500) ``container`` is ``None`` and the app was
        not started with :func:`runtime_lifespan`.
    """
    router = APIRouter(prefix=prefix, tags=["health"])

    @router.get(liveness_path, summary="Liveness: the process serves requests")
    async def liveness() -> dict[str, str]:
        return {"status": "alive"}

    @router.get(
        readiness_path,
        summary="Readiness: the runtime diagnosis passes",
        responses={503: {"description": "A runtime check failed"}},
    )
    async def readiness(request: Request) -> JSONResponse:
        target = container if container is not None else _container(request)
        report = await anyio.to_thread.run_sync(diagnostics.check_runtime, target)
        failures = report.failures
        locations = await anyio.to_thread.run_sync(_backend_locations, target) if failures else []
        body: dict[str, Any] = {
            "status": "not ready" if failures else "ready",
            "checks": [
                {"name": check.name, "status": diagnostics.CheckStatus(check.status).value}
                for check in report.checks
            ],
            "failures": [
                {"name": check.name, "message": _redact(check.message, locations)}
                for check in failures
            ],
        }
        return JSONResponse(body, status_code=503 if failures else 200)

    return router
