"""Real secrets, end to end: a throwaway gopass store read through the runtime.

Uses the ``gopass_store`` fixture of :mod:`mxm.runtime.testing.gopass` (real
``gpg`` and ``gopass`` subprocesses; skipped with the reason when either is
missing) and the example config store under ``examples/config-store``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mxm.runtime import RuntimeContainer, RuntimeIdentity, build_runtime_context
from mxm.runtime.testing.gopass import GopassStore, gopass_missing_reason

pytestmark = pytest.mark.integration

STORE_ROOT = Path(__file__).resolve().parents[1] / "examples" / "config-store"
API_KEY_PATH = "mxm/red/marketdata/databento/api_key"
DB_PASSWORD_PATH = "mxm/red/dev/postgres/mxm_app"
API_KEY = "db-live-7f3a9c21e8b4"
DB_PASSWORD = "pg pass with spaces & symbols !$"


def identity(role: str = "research") -> RuntimeIdentity:
    return RuntimeIdentity(
        app="mxm-moneymachine",
        environment="dev",
        machine="bridge",
        substrate="local-process",
        role=role,
    )


@pytest.fixture
def filled_store(gopass_store: GopassStore) -> GopassStore:
    gopass_store.write(API_KEY_PATH, API_KEY)
    gopass_store.write(DB_PASSWORD_PATH, DB_PASSWORD)
    return gopass_store


# -- the fixture itself --------------------------------------------------------


def test_fixture_store_round_trips_through_gopass_show(gopass_store: GopassStore) -> None:
    gopass_store.write("team/a/b/token", "tok-Äé-123")
    assert gopass_store.show("team/a/b/token") == "tok-Äé-123"
    # Applied to os.environ: a plain subprocess (as mxm-secrets runs it) sees it.
    assert os.environ["PASSWORD_STORE_DIR"] == str(gopass_store.store_dir)
    assert os.environ["GNUPGHOME"] == str(gopass_store.key.gnupghome)
    out = subprocess.run(
        ["gopass", "show", "team/a/b/token"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "tok-Äé-123"
    assert gopass_store.secret_paths == ("team/a/b/token",)
    assert (gopass_store.store_dir / "team" / "a" / "b" / "token.gpg").is_file()


def test_fixture_rejects_paths_outside_the_store(gopass_store: GopassStore) -> None:
    for bad in ("", "/etc/passwd", "../escape", "a/../../b"):
        with pytest.raises(ValueError, match="not a gopass path"):
            gopass_store.write(bad, "x")


def test_activate_sets_and_restores_environ(
    gopass_store: GopassStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PASSWORD_STORE_DIR", "/nonexistent/before")
    monkeypatch.setenv("GPG_TTY", "/dev/pts/99")
    with gopass_store.activate() as active:
        assert os.environ["PASSWORD_STORE_DIR"] == str(active.store_dir)
        assert "GPG_TTY" not in os.environ
    assert os.environ["PASSWORD_STORE_DIR"] == "/nonexistent/before"
    assert os.environ["GPG_TTY"] == "/dev/pts/99"


def test_missing_reason_names_the_missing_commands(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    reason = gopass_missing_reason()
    assert reason is not None
    assert "gopass and gpg not found" in reason


# -- through build_runtime_context and RuntimeContainer ------------------------


def test_authorised_role_gets_the_value_via_build_runtime_context(
    filled_store: GopassStore,
) -> None:
    ident = identity("research")
    ctx = build_runtime_context(identity=ident, store_root=STORE_ROOT)
    assert ctx.secrets is not None
    assert ctx.secrets.get_secret("databento_api_key", identity=ident) == API_KEY
    assert ctx.secrets.get_secret("operational_db_password", identity=ident) == DB_PASSWORD
    assert ctx.secrets.check_ready() is True


def test_authorised_role_gets_the_value_via_container(filled_store: GopassStore) -> None:
    ident = identity("marketdata")
    container = RuntimeContainer.from_identity(ident, store_root=STORE_ROOT)
    secrets = container.secrets()
    assert secrets is container.context().secrets
    assert secrets.get_secret("databento_api_key", identity=ident) == API_KEY


@pytest.mark.parametrize("via", ["facade", "container"])
def test_unauthorised_role_gets_permission_error(filled_store: GopassStore, via: str) -> None:
    ident = identity("execution")  # not in marketdata_access
    if via == "facade":
        secrets = build_runtime_context(identity=ident, store_root=STORE_ROOT).secrets
    else:
        secrets = RuntimeContainer.from_identity(ident, store_root=STORE_ROOT).secrets()
    assert secrets is not None
    with pytest.raises(PermissionError) as info:
        secrets.get_secret("databento_api_key", identity=ident)
    assert API_KEY not in str(info.value)
    # The same role may read what its policy allows.
    assert secrets.get_secret("operational_db_password", identity=ident) == DB_PASSWORD


@pytest.mark.parametrize("via", ["facade", "container"])
def test_unknown_name_gets_key_error(filled_store: GopassStore, via: str) -> None:
    ident = identity()
    if via == "facade":
        secrets = build_runtime_context(identity=ident, store_root=STORE_ROOT).secrets
    else:
        secrets = RuntimeContainer.from_identity(ident, store_root=STORE_ROOT).secrets()
    assert secrets is not None
    with pytest.raises(KeyError, match="no_such_secret"):
        secrets.get_secret("no_such_secret", identity=ident)


def test_missing_backend_entry_returns_default(gopass_store: GopassStore) -> None:
    # slack_webhook is configured but nothing was written at mxm/green/...
    ident = identity("reporting")
    ctx = build_runtime_context(identity=ident, store_root=STORE_ROOT)
    assert ctx.secrets is not None
    assert ctx.secrets.check_ready() is True
    assert ctx.secrets.get_secret("slack_webhook", identity=ident) is None
    assert ctx.secrets.get_secret("slack_webhook", identity=ident, default="fallback") == "fallback"
    container = RuntimeContainer.from_identity(ident, store_root=STORE_ROOT)
    assert container.secrets().get_secret("slack_webhook", identity=ident, default="d") == "d"


def test_check_ready_is_false_without_the_store(
    filled_store: GopassStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ident = identity()
    container = RuntimeContainer.from_identity(ident, store_root=STORE_ROOT)
    secrets = container.secrets()
    assert secrets.check_ready() is True
    # No gopass on PATH: the backend is unavailable. (gopass 1.5's `gopass ls`
    # exits 0 even for a nonexistent PASSWORD_STORE_DIR, so an empty PATH is the
    # reliable way to take the store away.)
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    assert shutil.which("gopass") is None
    assert secrets.check_ready() is False
    assert secrets.get_secret("databento_api_key", identity=ident, default="none") == "none"


def test_check_ready_follows_the_environment_not_the_build(
    filled_store: GopassStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ident = identity()
    ctx = build_runtime_context(identity=ident, store_root=STORE_ROOT)
    assert ctx.secrets is not None
    # Another store directory without the entry: the value is not found.
    other = tmp_path / "other-store"
    other.mkdir()
    monkeypatch.setenv("PASSWORD_STORE_DIR", str(other))
    assert ctx.secrets.get_secret("databento_api_key", identity=ident, default="d") == "d"
    monkeypatch.setenv("PASSWORD_STORE_DIR", str(filled_store.store_dir))
    assert ctx.secrets.get_secret("databento_api_key", identity=ident) == API_KEY


def test_no_secret_value_in_reprs(filled_store: GopassStore) -> None:
    ident = identity()
    ctx = build_runtime_context(identity=ident, store_root=STORE_ROOT)
    assert ctx.secrets is not None
    assert ctx.secrets.get_secret("databento_api_key", identity=ident) == API_KEY
    for text in (repr(ctx), str(ctx), repr(ctx.secrets), repr(ctx.config)):
        assert API_KEY not in text
        assert DB_PASSWORD not in text
