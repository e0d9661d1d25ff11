"""Property-based tests (hypothesis): identity fields and config section shapes.

Properties, for every generated input:

* the only exceptions that escape a build are documented ones
  (:class:`~mxm.runtime.errors.MXMRuntimeError` subclasses);
* nothing outside the store root is opened while the configuration is loaded
  and materialised (checked with an audit hook on the ``open`` event; module
  files opened by lazy imports are the only other files allowed). Runtime
  metadata (``runtime``) is not part of this check: discovery reads ``/proc``
  and ``/.dockerenv`` by design;
* no secret value appears in any exception message, in ``str``/``repr`` of the
  context, or in a database URL's text. The secret lives in a real gopass
  store (``gopass_store`` fixture) and is fetched while building URLs.

Example counts: ``IDENTITY_EXAMPLES`` and ``SECTION_EXAMPLES`` below (run with
``--hypothesis-show-statistics`` to see them).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mxm.runtime import RuntimeContainer, RuntimeIdentity
from mxm.runtime.databases import database_url
from mxm.runtime.errors import MXMRuntimeError
from mxm.runtime.testing.gopass import GopassStore
from mxm.runtime.testing.store import minimal_runtime_config

IDENTITY_EXAMPLES = 200
SECTION_EXAMPLES = 200
SECRET = "s3cr3t-Fuzz-9c1e7b44d0"
APP = "fuzzapp"

# -- auditing file opens -------------------------------------------------------------

_recording = threading.local()
_hook_installed = False
_CODE_ROOTS = (
    *(str(Path(p).resolve()) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}),
    str(Path(__file__).resolve().parents[1] / "src"),
)
_CODE_SUFFIXES = (".py", ".pyc", ".so", ".pth", ".typed", ".json")


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event != "open":
        return
    opened: list[str] | None = getattr(_recording, "opened", None)
    if opened is None:
        return
    target = args[0] if args else None
    if isinstance(target, bytes):
        target = target.decode("utf-8", "replace")
    if isinstance(target, str):
        opened.append(target)


@contextmanager
def recording_opens() -> Generator[list[str]]:
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)  # cannot be removed; inert unless recording
        _hook_installed = True
    opened: list[str] = []
    _recording.opened = opened
    try:
        yield opened
    finally:
        _recording.opened = None


def outside_store(opened: list[str], store_root: Path) -> list[str]:
    root = store_root.resolve()
    bad: list[str] = []
    for name in opened:
        path = Path(name).resolve()
        if path.is_relative_to(root):
            continue
        if str(path).startswith(_CODE_ROOTS) and path.suffix in _CODE_SUFFIXES:
            continue  # a lazy import reading a module file
        bad.append(str(path))
    return bad


# -- stores --------------------------------------------------------------------------


def write_layers(root: Path, layers: dict[str, Any]) -> Path:
    app_dir = root / "apps" / APP
    app_dir.mkdir(parents=True, exist_ok=True)
    for child in app_dir.iterdir():
        child.unlink()
    for name, data in layers.items():
        text: str = yaml.safe_dump(  # pyright: ignore[reportUnknownMemberType]
            data, allow_unicode=True
        )
        (app_dir / f"{name}.yaml").write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def identity_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The store sits in a directory that also holds decoy files one level up,
    # so a traversal ("..") in an identity field would be caught opening them.
    outer = tmp_path_factory.mktemp("fuzz-identity")
    (outer / "apps" / "x").mkdir(parents=True)
    (outer / "apps" / "x" / "default.yaml").write_text("decoy: true\n")
    (outer / "default.yaml").write_text("decoy: true\n")
    root = outer / "store"
    return write_layers(
        root,
        {
            "default": minimal_runtime_config(root / "rt"),
            "environment": {"dev": {}, "prod": {}},
            "machine": {"m1": {}},
            "substrate": {"local-process": {}, "docker-container": {}},
            "role": {"app": {}, "research": {}},
        },
    )


def test_open_audit_sees_store_files_and_flags_others(identity_store: Path) -> None:
    identity = RuntimeIdentity(
        app=APP, environment="dev", machine="m1", substrate="local-process", role="app"
    )
    with recording_opens() as opened:
        RuntimeContainer.from_identity(identity, store_root=identity_store).config()
        Path("/etc/hostname").exists()  # not an open
        with open(identity_store.parent / "default.yaml", encoding="utf-8") as decoy:
            decoy.read()
    assert str(identity_store / "apps" / APP / "default.yaml") in opened
    assert outside_store(opened, identity_store) == [
        str((identity_store.parent / "default.yaml").resolve())
    ]


# -- identity fields -----------------------------------------------------------------

_weird = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "M", "N", "P", "S", "Z", "Cc")),
    min_size=0,
    max_size=40,
)
_tricky = st.sampled_from(
    [
        "",
        ".",
        "..",
        "../..",
        "../x",
        "/etc",
        "~",
        "~root",
        "a/b",
        "a\\b",
        "a\x00b",
        " dev",
        "dev\n",
        "${oc.env:HOME}",
        "*",
        "x" * 129,
        "x" * 128,
        "dev",
        "prod",
        "m1",
        "local-process",
        "app",
        "research",
        APP,
        "Dev",
        "déj",
        "a..b",
        "-lead",
    ]
)
_field = st.one_of(_tricky, _weird)


@settings(
    max_examples=IDENTITY_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    app=st.one_of(st.just(APP), _field),
    environment=st.one_of(st.sampled_from(["dev", "prod"]), _field),
    machine=st.one_of(st.just("m1"), _field),
    substrate=st.one_of(st.sampled_from(["local-process", "docker-container"]), _field),
    role=st.one_of(st.sampled_from(["app", "research"]), _field),
)
def test_fuzz_identity_fields(
    identity_store: Path,
    app: str,
    environment: str,
    machine: str,
    substrate: str,
    role: str,
) -> None:
    identity = RuntimeIdentity(
        app=app, environment=environment, machine=machine, substrate=substrate, role=role
    )
    with recording_opens() as opened:
        try:
            container = RuntimeContainer.from_identity(identity, store_root=identity_store)
            container.config()
            container.secrets()
            container.paths()
            container.db_configs()
        except MXMRuntimeError as exc:
            str(exc)  # renders
        except Exception as exc:  # pragma: no cover - the property under test
            pytest.fail(f"undocumented {type(exc).__name__} escaped: {exc}")
    assert outside_store(opened, identity_store) == []


# -- config section shapes -----------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(
        [
            "${mxm_paths.data_root}",
            "${nope.nothing}",
            "${",
            "${mxm_databases}",
            "~/x",
            "../../etc/passwd",
            "/etc/shadow",
            "postgresql",
            "sqlite",
            ":memory:",
            "localhost",
            "database_password",
            "app",
            "vault",
            "gopass",
            "5432",
        ]
    ),
)
_keys = st.one_of(
    st.sampled_from(
        [
            "driver",
            "host",
            "port",
            "name",
            "user",
            "password_ref",
            "path",
            "query",
            "stores",
            "refs",
            "policies",
            "backend",
            "root",
            "store",
            "policy",
            "allowed_principals",
            "data_root",
            "log_root",
        ]
    ),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8),
)
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(_keys, children, max_size=4),
    ),
    max_leaves=10,
)


@st.composite
def section_shapes(draw: st.DrawFn, root: Path) -> dict[str, Any]:
    """A valid default layer with sections or single values replaced by fuzz."""
    config = minimal_runtime_config(root / "rt")
    for section in ("mxm_paths", "mxm_secrets", "mxm_databases"):
        how = draw(st.sampled_from(["keep", "replace", "mutate", "drop", "extra"]))
        if how == "replace":
            config[section] = draw(_values)
        elif how == "drop":
            del config[section]
        elif how in ("mutate", "extra"):
            body: dict[str, Any] = config[section]
            target: dict[str, Any] = body
            if section != "mxm_paths" and how == "mutate":
                # one level down: a store / ref / policy or a database entry
                inner = draw(st.sampled_from(sorted(body)))
                if isinstance(body[inner], dict) and section == "mxm_secrets":
                    name = draw(st.sampled_from(sorted(body[inner])))
                    target = body[inner][name]
                elif isinstance(body[inner], dict):
                    target = body[inner]
            key = draw(st.sampled_from(sorted(target)) if how == "mutate" else _keys)
            target[key] = draw(_values)
    if draw(st.booleans()):
        config[draw(_keys)] = draw(_values)
    return config


def _check_no_secret(text: str) -> None:
    assert SECRET not in text


@pytest.mark.integration
def test_fuzz_config_section_shapes(gopass_store: GopassStore, tmp_path: Path) -> None:
    gopass_store.write("mxm/test/database/password", SECRET)
    root = tmp_path / "store"
    identity = RuntimeIdentity(
        app=APP, environment="dev", machine="m1", substrate="local-process", role="app"
    )
    outcomes = {"built": 0, "documented_error": 0, "url_built": 0}

    @settings(
        max_examples=SECTION_EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        layers = {"default": data.draw(section_shapes(root))}
        write_layers(root, layers)
        container = RuntimeContainer.from_identity(identity, store_root=root)
        with recording_opens() as opened:
            try:
                pieces = [
                    container.config(),
                    container.secrets(),
                    container.paths(),
                    container.db_configs(),
                ]
            except MXMRuntimeError as exc:
                outcomes["documented_error"] += 1
                _check_no_secret(str(exc))
                _check_no_secret(repr(exc))
                pieces = []
            except Exception as exc:  # pragma: no cover - the property under test
                pytest.fail(f"undocumented {type(exc).__name__} escaped: {exc}")
        assert outside_store(opened, root) == []
        if not pieces:
            return
        outcomes["built"] += 1
        for piece in pieces:
            _check_no_secret(repr(piece))
        ctx = container.context()
        views = container.db_configs()
        _check_no_secret(repr(ctx))
        _check_no_secret(str(ctx))
        for name in list(views):
            try:
                url = database_url(ctx, name)
            except MXMRuntimeError as exc:
                _check_no_secret(str(exc))
                continue
            except Exception as exc:  # pragma: no cover - the property under test
                pytest.fail(f"undocumented {type(exc).__name__} from database_url: {exc}")
            outcomes["url_built"] += 1
            _check_no_secret(str(url))
            _check_no_secret(repr(url))

    check()
    # Both branches were exercised (valid shapes build, broken ones fail documented).
    assert outcomes["built"] > 0
    assert outcomes["documented_error"] > 0
    print(f"\nsection fuzz outcomes: {outcomes}")
