"""Propagating an identity to worker processes through ``identity_to_env``.

A parent builds a context from the example store, exports its identity with
``identity_to_env(identity, store_root=...)`` and starts a child — a plain
``subprocess`` and a ``ProcessPoolExecutor`` with the *spawn* start method
(a fresh interpreter, nothing inherited but the environment). The child
rebuilds its context from ``MXM_*`` variables alone and reports it as plain
data; the parent compares identity, paths, database views, secret names,
the whole configuration and the runtime metadata.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from mxm.config import to_config_data

from mxm.runtime import (
    RuntimeContainer,
    RuntimeContext,
    RuntimeIdentity,
    build_runtime_context,
    identity_from_env,
    identity_to_env,
)

EXAMPLE_STORE = Path(__file__).resolve().parents[1] / "examples" / "config-store"
TESTS_DIR = Path(__file__).resolve().parent

# Values no discovery on this host would produce, so a child that discovered
# instead of reading MXM_* would build a different context.
IDENTITY = RuntimeIdentity(
    app="mxm-moneymachine",
    environment="prod",
    machine="monolith",
    substrate="kubernetes-pod",
    role="execution",
)

pytestmark = pytest.mark.integration


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        mapping: Mapping[object, object] = value  # pyright: ignore[reportUnknownVariableType]
        return {str(key): _plain(item) for key, item in mapping.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def snapshot(ctx: RuntimeContext) -> dict[str, Any]:
    """The context as JSON-shaped data (no secret values: names only)."""
    assert ctx.paths is not None and ctx.db_configs is not None
    assert ctx.secrets is not None and ctx.runtime is not None
    data: dict[str, Any] = {
        "identity": asdict(ctx.identity),
        "paths": {key: str(value) for key, value in asdict(ctx.paths).items()},
        "db": _plain(ctx.db_configs),
        "secrets": sorted(ctx.secrets.secret_ref_registry.names()),
        "config": to_config_data(ctx.config),
        "runtime": [ctx.runtime.substrate, ctx.runtime.is_container],
    }
    # Round-trip through JSON so both sides compare the same representation.
    return json.loads(json.dumps(data))  # type: ignore[no-any-return]


def child_snapshot_from_settings() -> dict[str, Any]:
    """Worker body: rebuild from MXM_* variables through RuntimeSettings."""
    return snapshot(RuntimeContainer().context())


def child_identity_from_env() -> RuntimeIdentity:
    """Worker body: the strict reverse of identity_to_env."""
    return identity_from_env(os.environ)


def install_env(env: dict[str, str]) -> None:
    """Pool initializer: replace every MXM_* variable by ``env``."""
    for name in [name for name in os.environ if name.startswith("MXM_")]:
        del os.environ[name]
    os.environ.update(env)


def _child_environ(env: Mapping[str, str]) -> dict[str, str]:
    base = {name: value for name, value in os.environ.items() if not name.startswith("MXM_")}
    base["PYTHONPATH"] = os.pathsep.join([str(TESTS_DIR), *sys.path])
    return {**base, **env}


@pytest.fixture
def parent_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    return snapshot(build_runtime_context(identity=IDENTITY, store_root=EXAMPLE_STORE))


def test_parent_snapshot_reflects_identity(parent_snapshot: dict[str, Any]) -> None:
    # The comparison below is meaningful: prod/monolith/kubernetes-pod layers applied.
    assert parent_snapshot["db"]["operational_state"]["host"] == "db.prod.internal"
    assert parent_snapshot["paths"]["data_root"] == "/var/lib/mxm/mxm-moneymachine/prod/data"
    assert parent_snapshot["runtime"] == ["kubernetes-pod", True]
    assert "databento_api_key" in parent_snapshot["secrets"]


def test_subprocess_rebuilds_equal_identity_and_context(
    parent_snapshot: dict[str, Any], tmp_path: Path
) -> None:
    env = identity_to_env(IDENTITY, store_root=EXAMPLE_STORE)
    code = (
        "import json, test_propagation as t; "
        "print(json.dumps(t.child_snapshot_from_settings()))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=_child_environ(env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    child = json.loads(result.stdout.strip().splitlines()[-1])
    assert child["identity"] == asdict(IDENTITY)
    assert child == parent_snapshot


def test_subprocess_without_env_fails_with_settings_error(tmp_path: Path) -> None:
    code = "import test_propagation as t; t.child_snapshot_from_settings()"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=_child_environ({}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "RuntimeSettingsError" in result.stderr
    assert "missing MXM_APP, MXM_ENVIRONMENT, MXM_ROLE" in result.stderr


def test_spawn_pool_rebuilds_equal_identity_and_context(
    parent_snapshot: dict[str, Any],
) -> None:
    env = identity_to_env(IDENTITY, store_root=EXAMPLE_STORE)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=1, mp_context=context, initializer=install_env, initargs=(env,)
    ) as pool:
        identity = pool.submit(child_identity_from_env).result(timeout=120)
        child = pool.submit(child_snapshot_from_settings).result(timeout=120)
    assert identity == IDENTITY
    assert child == parent_snapshot


def test_kubernetes_example_env_builds_the_pod_identity(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The Deployment in examples/kubernetes sets every variable a pod needs."""
    import yaml

    manifest_path = EXAMPLE_STORE.parent / "kubernetes" / "deployment.yaml"
    manifest = yaml.safe_load(manifest_path.read_text())
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, str] = {}
    for entry in container["env"]:
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        else:
            # The Downward API: the kubelet fills this from spec.nodeName.
            assert entry["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
            env[entry["name"]] = "Monolith"
    assert set(env) == {
        "MXM_APP",
        "MXM_ENVIRONMENT",
        "MXM_ROLE",
        "MXM_SUBSTRATE",
        "MXM_NODE_NAME",
        "MXM_CONFIG_STORE_ROOT",
    }
    mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
    assert env["MXM_CONFIG_STORE_ROOT"] in mounts
    # Run it here against the example store instead of the ConfigMap mount.
    env["MXM_CONFIG_STORE_ROOT"] = str(EXAMPLE_STORE)
    monkeypatch.chdir(tmp_path)
    for name in [name for name in os.environ if name.startswith("MXM_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ctx = RuntimeContainer().context()
    assert ctx.identity == RuntimeIdentity(
        app="mxm-moneymachine",
        environment="prod",
        machine="monolith",
        substrate="kubernetes-pod",
        role="marketdata",
    )
    assert ctx.runtime is not None
    assert ctx.runtime.is_container
