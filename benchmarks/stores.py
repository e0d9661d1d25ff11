"""Generated configuration stores of a chosen size, for the scaling benchmarks.

A store of ``keys`` leaf keys is spread over the five layers of mxm-config
(about 40 % in ``default.yaml``, 15 % in the selected block of each of
``environment.yaml``, ``machine.yaml``, ``substrate.yaml`` and ``role.yaml``),
in groups of ten keys; one value in ten is an ``${...}`` interpolation, and
each layer overrides some keys of the layers below. ``mxm_secrets`` holds
``refs`` secret references, ``mxm_paths`` the four paths (interpolated) and
``mxm_databases`` one database per 100 refs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from benchmarks._harness import EXAMPLE_IDENTITY

__all__ = ["GROUP", "SCALES", "write_store"]

GROUP = 10
"""Leaf keys per generated group (``<section>.g<n>.k<m>``)."""

SCALES: tuple[tuple[int, int], ...] = ((100, 10), (1_000, 100), (10_000, 1_000), (50_000, 1_000))
"""(config keys, secret refs) of the generated stores."""

_SHARES = {"default": 0.40, "environment": 0.15, "machine": 0.15, "substrate": 0.15, "role": 0.15}


def _groups(layer: str, keys: int) -> dict[str, Any]:
    section: dict[str, Any] = {}
    for group in range(max(1, keys // GROUP)):
        values: dict[str, Any] = {}
        for key in range(GROUP):
            if key == 0 and group > 0:
                values[f"k{key}"] = f"${{{layer}_settings.g{group - 1}.k1}}/x"
            else:
                values[f"k{key}"] = f"{layer}-{group}-{key}"
        section[f"g{group}"] = values
    return section


def _secrets(refs: int) -> dict[str, Any]:
    principals = ["marketdata", "research", "execution", "reporting"]
    return {
        "stores": {
            "red": {"backend": "gopass", "root": "mxm/red"},
            "green": {"backend": "gopass", "root": "mxm/green"},
        },
        "refs": {
            f"secret_{index}": {
                "store": "red" if index % 2 else "green",
                "path": f"${{app.environment_label}}/service_{index}/token",
                "policy": f"policy_{index % 10}",
            }
            for index in range(refs)
        },
        "policies": {
            f"policy_{index}": {
                "allowed_principals": sorted({*principals[: 1 + index % 4], "research"})
            }
            for index in range(10)
        },
    }


def write_store(root: Path, keys: int, refs: int) -> Path:
    """Write a store of about ``keys`` config keys and ``refs`` secret refs under ``root``.

    The app and selectors are those of :data:`benchmarks._harness.EXAMPLE_IDENTITY`;
    every layer file also has a second, unselected block (as real stores do).

    Returns
    -------
    Path
        The store root (``root``), ready for ``load_config``.
    """
    identity = EXAMPLE_IDENTITY
    app_dir = root / "apps" / identity.app
    app_dir.mkdir(parents=True, exist_ok=True)
    default: dict[str, Any] = {
        "app": {"name": identity.app, "environment_label": "unset"},
        "storage": {"base": "~/mxm-bench-data", "runtime": "${storage.base}/${app.name}"},
        "mxm_paths": {
            name: f"${{storage.runtime}}/{name}"
            for name in ("data_root", "artifact_root", "export_root", "log_root")
        },
        "mxm_secrets": _secrets(refs),
        "mxm_databases": {
            f"db_{index}": {
                "driver": "postgresql",
                "host": "localhost",
                "port": 5432,
                "name": f"mxm_${{app.environment_label}}_{index}",
                "user": "mxm_app",
                "password_ref": f"secret_{index}",
            }
            for index in range(max(1, refs // 100))
        },
        "default_settings": _groups("default", int(keys * _SHARES["default"])),
    }
    _dump(app_dir / "default.yaml", default)
    selectors = {
        "environment": (identity.environment, "prod"),
        "machine": (identity.machine, "monolith"),
        "substrate": (identity.substrate, "docker-container"),
        "role": (identity.role, "reporting"),
    }
    for layer, (selected, other) in selectors.items():
        count = int(keys * _SHARES[layer])
        block: dict[str, Any] = {
            f"{layer}_settings": _groups(layer, count),
            # Override a few keys of the default layer.
            "default_settings": {"g0": {"k2": f"from-{layer}"}},
        }
        if layer == "environment":
            block["app"] = {"environment_label": selected}
        _dump(app_dir / f"{layer}.yaml", {selected: block, other: {"unused": {"k": 1}}})
    return root


def _dump(path: Path, data: dict[str, Any]) -> None:
    text = yaml.safe_dump(data, sort_keys=False)  # pyright: ignore[reportUnknownMemberType]
    path.write_text(text, encoding="utf-8")
