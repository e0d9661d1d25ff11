"""A real, throwaway gopass store for tests.

mxm-secrets reads secrets by running the ``gopass`` command (``gopass ls`` to
check the store, ``gopass show <key>`` to read one) as a subprocess that
inherits ``os.environ``. Testing that path for real needs a password store, a
GnuPG key that can decrypt it without a passphrase, and an environment that
points both commands at them and nowhere else. This module builds exactly
that, in temporary directories:

* :func:`create_gpg_key` makes a passphrase-less key in a fresh ``GNUPGHOME``
  (a few seconds; the ``gpg_test_key`` fixture makes one per test session);
* :func:`create_gopass_store` initialises a store for that key with its own
  ``HOME`` (git identity included) and ``PASSWORD_STORE_DIR``;
* :meth:`GopassStore.write` encrypts a secret straight into the store with
  ``gpg`` (``gopass insert`` of gopass 1.5, as packaged by Debian, stores an
  empty secret when it reads from a pipe);
* :meth:`GopassStore.activate` / :meth:`GopassStore.apply` put the store's
  variables into ``os.environ`` (and take them out again).

Pytest fixtures
---------------
``gpg_test_key`` (session)
    A :class:`GpgKey` in a temporary ``GNUPGHOME``; its agent is stopped and
    the directory removed at the end of the session.
``gopass_store`` (function)
    An empty :class:`GopassStore` under ``tmp_path`` whose environment is
    applied to ``os.environ`` for the test (restored afterwards).

Both skip the test, with the reason, when ``gopass`` or ``gpg`` is not on
``PATH`` -- or fail it instead when ``MXM_RUNTIME_REQUIRE_GOPASS=1`` is set
(CI sets it, so real-secrets tests can never silently skip there).

Example
-------
::

    def test_reads_api_key(gopass_store: GopassStore) -> None:
        gopass_store.write("mxm/red/marketdata/api_key", "k-123")
        ctx = build_runtime_context(identity=identity, store_root=store_root)
        assert ctx.secrets.get_secret("api_key", identity=identity) == "k-123"
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

__all__ = [
    "REQUIRE_GOPASS_ENV",
    "GopassSetupError",
    "GopassStore",
    "GpgKey",
    "create_gopass_store",
    "create_gpg_key",
    "gopass_missing_reason",
    "gopass_store",
    "gpg_test_key",
]

REQUIRE_GOPASS_ENV = "MXM_RUNTIME_REQUIRE_GOPASS"
"""Set to ``1`` to make the fixtures fail, not skip, when gopass/gpg are missing."""

_KEY_UID = "mxm-runtime test key <mxm-runtime-test@example.invalid>"
_GIT_NAME = "mxm-runtime tests"
_GIT_EMAIL = "mxm-runtime-tests@example.invalid"
_TIMEOUT = 60.0

_UNSET_VARIABLES: tuple[str, ...] = (
    "GPG_TTY",
    "GPG_AGENT_INFO",
    "PASSWORD_STORE_KEY",
    "PASSWORD_STORE_GPG_OPTS",
    "GOPASS_CONFIG",
    "GOPASS_HOMEDIR",
    "GIT_CONFIG_GLOBAL",
)
"""Variables removed while a store is active, so host settings cannot leak in."""


class GopassSetupError(RuntimeError):
    """Raised when ``gpg`` or ``gopass`` fails while setting up a test store."""


def gopass_missing_reason() -> str | None:
    """Return why a real gopass store cannot be built here, or ``None`` if it can.

    Returns
    -------
    str or None
        A sentence naming the missing command(s), or ``None``.
    """
    missing = [command for command in ("gopass", "gpg") if shutil.which(command) is None]
    if not missing:
        return None
    return (
        f"{' and '.join(missing)} not found on PATH: real gopass secret tests need both "
        "(Debian/Ubuntu: apt-get install gopass gnupg)"
    )


def _run(
    args: list[str], *, env: Mapping[str, str], input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            args,
            env=dict(env),
            input=input_text if input_text is not None else "",
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GopassSetupError(f"{args[0]} could not be run: {exc}") from None
    if result.returncode != 0:
        # stderr of gpg/gopass carries names and paths, never the secret (which
        # is passed on stdin only).
        raise GopassSetupError(
            f"{' '.join(args[:3])} failed with exit code {result.returncode}: "
            f"{result.stderr.strip()[-2000:]}"
        )
    return result


def _base_environ() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key not in _UNSET_VARIABLES}


@dataclass(frozen=True)
class GpgKey:
    """A passphrase-less GnuPG key in its own ``GNUPGHOME``.

    Attributes
    ----------
    gnupghome:
        The key's GnuPG home directory (mode 0700).
    fingerprint:
        The key's full fingerprint.
    """

    gnupghome: Path
    fingerprint: str

    def stop_agent(self) -> None:
        """Stop the ``gpg-agent`` started for this ``GNUPGHOME`` (best effort)."""
        if shutil.which("gpgconf") is None:
            return
        env = _base_environ()
        env["GNUPGHOME"] = str(self.gnupghome)
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(
                ["gpgconf", "--kill", "all"],
                env=env,
                capture_output=True,
                timeout=_TIMEOUT,
                check=False,
            )


def create_gpg_key(gnupghome: Path) -> GpgKey:
    """Generate a passphrase-less key in a new GnuPG home directory.

    Parameters
    ----------
    gnupghome:
        Directory to create (or reuse, if empty) as ``GNUPGHOME``. Keep the
        path short: gpg-agent's socket lives in it and socket paths are
        limited to about 100 characters.

    Returns
    -------
    GpgKey
        The home directory and the new key's fingerprint.

    Raises
    ------
    GopassSetupError
        If ``gpg`` is missing or key generation fails.
    """
    if shutil.which("gpg") is None:
        raise GopassSetupError("gpg not found on PATH")
    gnupghome.mkdir(parents=True, exist_ok=True)
    gnupghome.chmod(0o700)
    env = _base_environ()
    env["GNUPGHOME"] = str(gnupghome)
    parameters = "\n".join(
        [
            "%no-protection",
            "Key-Type: eddsa",
            "Key-Curve: ed25519",
            "Key-Usage: sign",
            "Subkey-Type: ecdh",
            "Subkey-Curve: cv25519",
            "Subkey-Usage: encrypt",
            f"Name-Real: {_KEY_UID.split(' <')[0]}",
            f"Name-Email: {_KEY_UID.split('<')[1].rstrip('>')}",
            "Expire-Date: 0",
            "%commit",
            "",
        ]
    )
    _run(
        ["gpg", "--batch", "--pinentry-mode", "loopback", "--gen-key"],
        env=env,
        input_text=parameters,
    )
    listing = _run(
        ["gpg", "--batch", "--with-colons", "--list-secret-keys"], env=env
    ).stdout.splitlines()
    for line in listing:
        if line.startswith("fpr:"):
            fingerprint = line.split(":")[9]
            if fingerprint:
                return GpgKey(gnupghome=gnupghome, fingerprint=fingerprint)
    raise GopassSetupError(f"gpg generated no secret key in {gnupghome}")


@dataclass
class GopassStore:
    """A gopass password store for one key, with its own ``HOME``.

    Build one with :func:`create_gopass_store`. Nothing reaches
    ``os.environ`` until :meth:`activate` or :meth:`apply` is used.

    Attributes
    ----------
    key:
        The GnuPG key the store is encrypted for.
    store_dir:
        ``PASSWORD_STORE_DIR``.
    home:
        ``HOME`` while the store is active (holds a ``.gitconfig``).
    """

    key: GpgKey
    store_dir: Path
    home: Path
    _written: list[str] = field(default_factory=list[str], repr=False)

    @property
    def fingerprint(self) -> str:
        """Fingerprint of the key the store is encrypted for."""
        return self.key.fingerprint

    @property
    def env(self) -> dict[str, str]:
        """The variables that point ``gopass`` and ``gpg`` at this store."""
        return {
            "GNUPGHOME": str(self.key.gnupghome),
            "PASSWORD_STORE_DIR": str(self.store_dir),
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "GIT_AUTHOR_NAME": _GIT_NAME,
            "GIT_AUTHOR_EMAIL": _GIT_EMAIL,
            "GIT_COMMITTER_NAME": _GIT_NAME,
            "GIT_COMMITTER_EMAIL": _GIT_EMAIL,
        }

    @property
    def unset(self) -> tuple[str, ...]:
        """Variables removed from the environment while the store is active."""
        return _UNSET_VARIABLES

    def environ(self) -> dict[str, str]:
        """Return a copy of ``os.environ`` with this store applied (for subprocesses)."""
        env = _base_environ()
        env.update(self.env)
        return env

    @property
    def secret_paths(self) -> tuple[str, ...]:
        """gopass paths written through :meth:`write`, in order."""
        return tuple(self._written)

    def write(self, path: str, value: str) -> Path:
        """Encrypt ``value`` into the store at gopass path ``path``.

        Parameters
        ----------
        path:
            gopass path, e.g. ``mxm/red/marketdata/api_key`` (no ``.gpg``).
        value:
            The secret. It is passed to ``gpg`` on stdin only.

        Returns
        -------
        Path
            The encrypted file, ``<store_dir>/<path>.gpg``.

        Raises
        ------
        ValueError
            If ``path`` is empty, absolute or leaves the store.
        GopassSetupError
            If ``gpg`` fails.
        """
        relative = Path(path.strip("/"))
        if not path or Path(path).is_absolute() or not relative.parts or ".." in relative.parts:
            raise ValueError(f"not a gopass path inside the store: {path!r}")
        target = self.store_dir / relative.parent / f"{relative.name}.gpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        _run(
            [
                "gpg",
                "--batch",
                "--yes",
                "--quiet",
                "--trust-model",
                "always",
                "--encrypt",
                "--recipient",
                self.fingerprint,
                "--output",
                str(target),
            ],
            env=self.environ(),
            input_text=value,
        )
        self._written.append(relative.as_posix())
        return target

    def show(self, path: str) -> str:
        """Return ``gopass show <path>`` (stripped), as mxm-secrets would read it.

        Raises
        ------
        GopassSetupError
            If gopass cannot show the path.
        """
        return _run(["gopass", "show", path], env=self.environ()).stdout.strip()

    @contextlib.contextmanager
    def activate(self) -> Generator[GopassStore]:
        """Apply :attr:`env` to ``os.environ`` inside the block, then restore it.

        Not thread-safe with respect to other code changing ``os.environ``.
        """
        saved = {key: os.environ.get(key) for key in (*self.env, *self.unset)}
        try:
            for key in self.unset:
                os.environ.pop(key, None)
            os.environ.update(self.env)
            yield self
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def apply(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Apply :attr:`env` to ``os.environ`` through ``monkeypatch`` (undone by pytest)."""
        for key in self.unset:
            monkeypatch.delenv(key, raising=False)
        for key, value in self.env.items():
            monkeypatch.setenv(key, value)


def create_gopass_store(base: Path, key: GpgKey) -> GopassStore:
    """Initialise an empty gopass store for ``key`` under ``base``.

    Creates ``base/home`` (with a git identity in ``.gitconfig``) and
    ``base/store``, then runs ``gopass init <fingerprint>`` with that
    environment.

    Parameters
    ----------
    base:
        An empty (or new) directory to hold the store and its ``HOME``.
    key:
        The key to encrypt for (see :func:`create_gpg_key`).

    Returns
    -------
    GopassStore
        The initialised store, not yet applied to ``os.environ``.

    Raises
    ------
    GopassSetupError
        If ``gopass`` is missing or ``gopass init`` fails.
    """
    if shutil.which("gopass") is None:
        raise GopassSetupError("gopass not found on PATH")
    home = base / "home"
    store_dir = base / "store"
    home.mkdir(parents=True, exist_ok=True)
    (home / ".config").mkdir(exist_ok=True)
    (home / ".gitconfig").write_text(
        f"[user]\n\tname = {_GIT_NAME}\n\temail = {_GIT_EMAIL}\n[init]\n\tdefaultBranch = main\n",
        encoding="utf-8",
    )
    store = GopassStore(key=key, store_dir=store_dir, home=home)
    _run(["gopass", "init", key.fingerprint], env=store.environ())
    if not (store_dir / ".gpg-id").is_file():
        raise GopassSetupError(f"gopass init did not create {store_dir / '.gpg-id'}")
    return store


# -- pytest fixtures ------------------------------------------------------------


@pytest.fixture(scope="session")
def gpg_test_key() -> Iterator[GpgKey]:
    """A passphrase-less GnuPG key for the test session (skips without gpg/gopass)."""
    reason = gopass_missing_reason()
    if reason is not None:
        if os.environ.get(REQUIRE_GOPASS_ENV) == "1":
            pytest.fail(f"{reason}; {REQUIRE_GOPASS_ENV}=1 forbids skipping")
        pytest.skip(reason)
    # A short path under the system temp dir: gpg-agent's socket lives here.
    home = Path(tempfile.mkdtemp(prefix="mxm-gpg-"))
    try:
        key = create_gpg_key(home)
    except GopassSetupError:
        shutil.rmtree(home, ignore_errors=True)
        raise
    try:
        yield key
    finally:
        key.stop_agent()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def gopass_store(
    gpg_test_key: GpgKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> GopassStore:
    """An empty gopass store, applied to ``os.environ`` for the test.

    Write secrets with :meth:`GopassStore.write`; ``gopass show`` (and so
    mxm-secrets) reads them. Skips when ``gopass`` or ``gpg`` is missing.
    """
    store = create_gopass_store(tmp_path / "gopass", gpg_test_key)
    store.apply(monkeypatch)
    return store
