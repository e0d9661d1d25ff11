"""Concurrency: first resolution from many threads, and overrides while resolving.

* ``THREADS`` (64) threads released by one barrier resolve ``context`` (and,
  separately, each provider) of one fresh container: each piece is built
  exactly once (builders wrapped with counters), no thread sees an error, and
  every thread gets the same object.
* Overrides under concurrency: reader threads resolve ``context`` in a loop
  while a writer thread enters and leaves overrides of ``config`` and of
  ``identity``. Every context a reader sees must be consistent: its paths,
  database views and secret references all come from ``ctx.config``, and
  ``ctx.config`` belongs to ``ctx.identity`` (no torn context).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mxm.runtime import RuntimeContainer, RuntimeContext, RuntimeIdentity
from mxm.runtime.container import PROVIDER_NAMES
from mxm.runtime.store import load_runtime_config
from mxm.runtime.testing.store import minimal_runtime_config

THREADS = 64
OVERRIDE_READERS = 16
OVERRIDE_TOGGLES = 150
APP = "concurrent-app"
DEV = RuntimeIdentity(
    app=APP, environment="dev", machine="m1", substrate="local-process", role="app"
)
PROD = RuntimeIdentity(
    app=APP, environment="prod", machine="m1", substrate="local-process", role="app"
)


def _env_block(label: str) -> dict[str, Any]:
    return {
        "label": label,
        "mxm_paths": {"data_root": f"/data/{label}"},
        "mxm_databases": {"main": {"host": f"db-{label}.internal", "name": f"mxm_{label}"}},
        "mxm_secrets": {"refs": {"database_password": {"path": f"{label}/database/password"}}},
    }


@pytest.fixture
def store(tmp_path: Path) -> Path:
    app_dir = tmp_path / "apps" / APP
    app_dir.mkdir(parents=True)
    layers = {
        "default": minimal_runtime_config(tmp_path / "rt"),
        "environment": {"dev": _env_block("dev"), "prod": _env_block("prod")},
    }
    for name, data in layers.items():
        text: str = yaml.safe_dump(data)  # pyright: ignore[reportUnknownMemberType]
        (app_dir / f"{name}.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def count_builds(container: Any, names: tuple[str, ...]) -> Counter[str]:
    """Wrap the builders of ``names`` so each build is counted (thread-safe)."""
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    for name in names:
        provider = getattr(container, name)
        real: Callable[..., Any] = provider.builder

        def counting(
            *args: Any, _real: Callable[..., Any] = real, _name: str = name, **kw: Any
        ) -> Any:
            with lock:
                counts[_name] += 1
            return _real(*args, **kw)

        provider.rebind(counting, *provider.args, **provider.kwargs)
    return counts


def run_threads(
    threads: int, target: Callable[[], object]
) -> tuple[list[object], list[BaseException]]:
    barrier = threading.Barrier(threads)
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            barrier.wait(timeout=30)
            value = target()
            with lock:
                results.append(value)
        except BaseException as exc:  # reported by the caller
            with lock:
                errors.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in pool)
    return results, errors


def _settings_container(store: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(store)
    for name, value in {
        "MXM_APP": APP,
        "MXM_ENVIRONMENT": "dev",
        "MXM_ROLE": "app",
        "MXM_MACHINE": "m1",
        "MXM_SUBSTRATE": "local-process",
        "MXM_CONFIG_STORE_ROOT": str(store),
    }.items():
        monkeypatch.setenv(name, value)
    return RuntimeContainer()


@pytest.mark.parametrize("threads", [32, THREADS])
def test_threads_resolve_context_once(
    store: Path, monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    container = _settings_container(store, monkeypatch)
    counts = count_builds(container, PROVIDER_NAMES)
    results, errors = run_threads(threads, container.context)
    assert errors == []
    assert len(results) == threads
    assert all(ctx is results[0] for ctx in results)
    assert dict(counts) == dict.fromkeys(PROVIDER_NAMES, 1)
    ctx = results[0]
    assert isinstance(ctx, RuntimeContext)
    assert ctx.identity == DEV


@pytest.mark.parametrize("name", PROVIDER_NAMES)
def test_64_threads_resolve_each_provider_once(
    store: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    container = _settings_container(store, monkeypatch)
    counts = count_builds(container, PROVIDER_NAMES)
    results, errors = run_threads(THREADS, getattr(container, name))
    assert errors == []
    assert len(results) == THREADS
    assert all(piece is results[0] for piece in results)
    assert counts[name] == 1
    assert all(count == 1 for count in counts.values())  # dependencies built once too


def test_64_threads_from_identity_container(store: Path) -> None:
    container = RuntimeContainer.from_identity(DEV, store_root=store)
    counts = count_builds(container, tuple(n for n in PROVIDER_NAMES if n != "settings"))
    results, errors = run_threads(THREADS, container.context)
    assert errors == []
    assert all(ctx is results[0] for ctx in results)
    assert counts["config"] == 1
    assert counts["context"] == 1
    assert counts["settings"] == 0


def test_64_threads_failing_build_then_recover(tmp_path: Path) -> None:
    # All threads see the documented error, nothing is cached, then it builds.
    container = RuntimeContainer.from_identity(DEV, store_root=tmp_path / "later")
    results, errors = run_threads(THREADS, container.context)
    assert results == []
    assert len(errors) == THREADS
    assert all(isinstance(exc, FileNotFoundError) for exc in errors)
    app_dir = tmp_path / "later" / "apps" / APP
    app_dir.mkdir(parents=True)
    text: str = yaml.safe_dump(  # pyright: ignore[reportUnknownMemberType]
        minimal_runtime_config(tmp_path / "rt")
    )
    (app_dir / "default.yaml").write_text(text, encoding="utf-8")
    results, errors = run_threads(THREADS, container.context)
    assert errors == []
    assert all(ctx is results[0] for ctx in results)


# -- overrides while resolving -----------------------------------------------------------


def torn(ctx: RuntimeContext, *, identity_follows_config: bool) -> str | None:
    """Return why ``ctx`` mixes two configurations, or ``None`` if consistent.

    ``identity_follows_config``: the config was loaded for ``ctx.identity``
    (false while ``config`` itself is overridden with another identity's).
    """
    config: Any = ctx.config
    label = str(config.label)
    if identity_follows_config and ctx.identity.environment != label:
        return f"identity {ctx.identity.environment} with config {label}"
    if ctx.paths is None or str(ctx.paths.data_root) != str(config.mxm_paths.data_root):
        return f"paths {ctx.paths} with config {label}"
    db: Any = ctx.db_configs
    if db is None or str(db["main"]["host"]) != str(config.mxm_databases.main.host):
        return f"db host with config {label}"
    secrets: Any = ctx.secrets
    ref = secrets.secret_ref_registry.get("database_password")
    if str(ref.path) != str(config.mxm_secrets.refs.database_password.path):
        return f"secret ref {ref.path} with config {label}"
    return None


@pytest.mark.parametrize("target", ["config", "identity"])
def test_override_while_resolving_never_tears(store: Path, target: str) -> None:
    container = RuntimeContainer.from_identity(DEV, store_root=store)
    original = container.context()
    substitute: object = load_runtime_config(PROD, store) if target == "config" else PROD
    provider = getattr(container, target)
    done = threading.Event()
    seen: Counter[str] = Counter()
    problems: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(OVERRIDE_READERS + 1)

    def reader() -> None:
        start.wait(timeout=30)
        for _ in range(100_000):  # bounded; ends when the writer is done
            try:
                ctx = container.context()
            except BaseException as exc:  # pragma: no cover - reported
                with lock:
                    problems.append(f"{type(exc).__name__}: {exc}")
                return
            problem = torn(ctx, identity_follows_config=target == "identity")
            with lock:
                seen[str(ctx.config.label)] += 1
                if problem is not None:
                    problems.append(problem)
            if done.is_set():
                return

    def writer() -> None:
        start.wait(timeout=30)
        try:
            for _ in range(OVERRIDE_TOGGLES):
                with provider.override(substitute):
                    container.context()
                container.context()
        finally:
            done.set()

    pool = [threading.Thread(target=reader) for _ in range(OVERRIDE_READERS)]
    pool.append(threading.Thread(target=writer))
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in pool)
    assert problems == []
    # Every reader resolved at least once; which side each saw is timing.
    assert sum(seen.values()) >= OVERRIDE_READERS
    assert set(seen) <= {"dev", "prod"}
    print(f"\ncontexts seen by readers: {dict(seen)}")
    # After the last override ends the original objects are back.
    assert container.context() is original
    # The prod side was really observed by someone (writer or readers).
    with provider.override(substitute):
        assert container.context().config.label == "prod"
