"""The example service served for real: uvicorn on 127.0.0.1, concurrent clients.

uvicorn runs in a thread on a socket this test binds to a free loopback port
(so there is no race for the port). 16 concurrent HTTP connections send
2,400 requests over every endpoint; every response's status and body is
checked. Then the server is asked to exit and must stop, running the
runtime's shut-down, within a bounded time.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from dependency_injector import providers

from mxm.runtime import RuntimeContainer, RuntimeIdentity
from mxm.runtime.fastapi import STATE_ATTRIBUTE

from ..service import DATABASE, create_app, signature_of
from .conftest import DATABASE_VIEW, SIGNING_KEY

CLIENTS = 16
ROUNDS = 480  # x 5 endpoints = 2,400 requests
START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0


@dataclass
class Served:
    base_url: str
    server: uvicorn.Server
    thread: threading.Thread
    events: list[str]


@pytest.fixture
def served(mxm_container: RuntimeContainer) -> Iterator[Served]:
    events: list[str] = []

    def lifetime() -> Iterator[None]:  # a resource, to see the shut-down happen
        events.append("resources up")
        yield
        events.append("resources down")

    mxm_container.set_provider("lifetime_probe", providers.Resource(lifetime))  # pyright: ignore[reportUnknownMemberType]
    app = create_app(mxm_container)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        assert server.started, "uvicorn did not start"
        assert getattr(app.state, STATE_ATTRIBUTE) is mxm_container
        yield Served(f"http://127.0.0.1:{port}", server, thread, events)
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT)
        sock.close()


def _expected(identity: RuntimeIdentity, paths: dict[str, str]) -> dict[str, Any]:
    return {
        "/whoami": {"app": identity.app, "environment": "test", "role": identity.role},
        "/storage": paths,
        "/database": {"view": DATABASE, **DATABASE_VIEW},
        "/health/live": {"status": "alive"},
    }


async def _hammer(base_url: str, expected: dict[str, Any]) -> list[str]:
    """Send every request; return a description of each wrong response."""
    problems: list[str] = []
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    gate = asyncio.Semaphore(CLIENTS)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0) as client:

        async def one(url: str, body: Any) -> None:
            async with gate:
                response = await client.get(url)
            if response.status_code != 200 or response.json() != body:
                problems.append(f"{url}: {response.status_code} {response.text[:200]}")

        jobs: list[Coroutine[Any, Any, None]] = []
        for index in range(ROUNDS):
            text = f"message-{index}"
            jobs.append(
                one(
                    f"/sign?text={text}",
                    {"text": text, "signature": signature_of(text, SIGNING_KEY)},
                )
            )
            jobs.extend(one(url, body) for url, body in expected.items())
        await asyncio.gather(*jobs)
        assert len(jobs) >= 2_000
    return problems


@pytest.mark.integration
def test_uvicorn_serves_2400_concurrent_requests_and_stops_cleanly(
    served: Served, mxm_container: RuntimeContainer
) -> None:
    paths = mxm_container.paths()
    expected = _expected(
        mxm_container.identity(),
        {
            "data_root": str(paths.data_root),
            "artifact_root": str(paths.artifact_root),
            "export_root": str(paths.export_root),
            "log_root": str(paths.log_root),
        },
    )
    problems = asyncio.run(_hammer(served.base_url, expected))
    assert problems == []
    assert served.events == ["resources up"]

    ready = httpx.get(f"{served.base_url}/health/ready", timeout=30.0)
    assert ready.status_code == 200, ready.text

    served.server.should_exit = True
    served.thread.join(STOP_TIMEOUT)
    assert not served.thread.is_alive(), f"uvicorn did not stop within {STOP_TIMEOUT} s"
    assert served.events == ["resources up", "resources down"]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{served.base_url}/health/live", timeout=2.0)
