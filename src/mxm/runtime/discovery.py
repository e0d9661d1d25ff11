"""Runtime discovery: the machine and substrate selectors of this process."""

from __future__ import annotations

import socket
from pathlib import Path

__all__ = ["DEFAULT_DOCKERENV_PATH", "discover_machine", "discover_substrate"]

DEFAULT_DOCKERENV_PATH = Path("/.dockerenv")


def discover_machine() -> str:
    """Return the machine selector: the hostname's first label, lowercased."""
    hostname = socket.gethostname().strip().rstrip(".").lower()
    return hostname.split(".", maxsplit=1)[0]


def discover_substrate(*, dockerenv_path: Path = DEFAULT_DOCKERENV_PATH) -> str:
    """Return the substrate: ``docker-container`` when the marker exists, else ``local-process``."""
    if dockerenv_path.exists():
        return "docker-container"
    return "local-process"
