"""Fault matrix: every bad store, file, value and setting gets a documented error.

For each fault the test checks:

* the error is the documented :mod:`mxm.runtime.errors` type *and* the
  built-in type 0.1.2 raised (``except KeyError:`` keeps working);
* the message names the file / key / field and carries a ``fix:`` line;
* no context comes out (the call raises; nothing partial is cached): the
  *same* container, once the store is repaired, builds a context from the
  repaired store;
* the process stays usable: a correct build right after succeeds.

Unreadable files: the suite runs as root in CI, where ``chmod 000`` does not
block reads, so the permission case runs in a subprocess that drops to uid
65534 after importing (skipped when not root and not able to chmod-block).
Directories, FIFOs and invalid UTF-8 in place of a layer file are the other
"cannot be read" cases.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mxm.runtime import RuntimeContainer, RuntimeIdentity, RuntimeSettings, build_runtime_context
from mxm.runtime.errors import (
    ConfigFileError,
    ConfigInterpolationError,
    ConfigSectionError,
    ConfigSelectorError,
    ConfigStoreNotFoundError,
    ConfigValueError,
    MXMRuntimeError,
    RuntimeSettingsError,
    SecretsConfigError,
)
from mxm.runtime.store import MAX_YAML_NODES_ENV, load_runtime_config
from mxm.runtime.testing.store import minimal_runtime_config

APP = "faultapp"
IDENTITY = RuntimeIdentity(
    app=APP, environment="dev", machine="m1", substrate="local-process", role="app"
)
PATH_KEYS = ("data_root", "artifact_root", "export_root", "log_root")
SECTIONS = ("mxm_secrets", "mxm_databases", "mxm_paths")


# -- helpers ---------------------------------------------------------------------


def good_default(root: Path) -> dict[str, Any]:
    return minimal_runtime_config(root / "runtime")


def dump(data: dict[str, Any]) -> str:
    text: str = yaml.safe_dump(data)  # pyright: ignore[reportUnknownMemberType]
    return text


def write_store(root: Path, files: dict[str, str | bytes | dict[str, Any]]) -> Path:
    """Write ``apps/<APP>/<name>.yaml`` files (text, bytes or a mapping)."""
    app_dir = root / "apps" / APP
    app_dir.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        target = app_dir / f"{name}.yaml"
        if isinstance(content, bytes):
            target.write_bytes(content)
        elif isinstance(content, str):
            target.write_text(content, encoding="utf-8")
        else:
            target.write_text(dump(content), encoding="utf-8")
    return root


def good_store(root: Path) -> Path:
    return write_store(
        root,
        {
            "default": good_default(root),
            "environment": {"dev": {"label": "dev"}, "prod": {"label": "prod"}},
        },
    )


def repair(root: Path) -> None:
    """Replace whatever is at the store root with a correct store."""
    app_dir = root / "apps" / APP
    if app_dir.exists():
        for child in app_dir.iterdir():
            if child.is_dir() and not child.is_symlink():
                child.rmdir()
            else:
                child.unlink()
    good_store(root)


def assert_documented(
    exc: BaseException, mxm_type: type[MXMRuntimeError], builtin: type[BaseException]
) -> str:
    assert isinstance(exc, mxm_type), f"{type(exc).__name__}: {exc}"
    assert isinstance(exc, builtin)
    assert isinstance(exc, MXMRuntimeError)
    message = str(exc)
    assert "fix:" in message, message
    assert exc.hint
    assert exc.__cause__ is None or isinstance(exc.__cause__, MXMRuntimeError)
    assert "Traceback" not in message
    return message


def assert_recovers(root: Path, container: RuntimeContainer, *, loaded: bool = False) -> None:
    """The same container and a fresh build both succeed once the store is fixed.

    ``loaded``: the configuration itself loaded fine and the failure came from
    a materialiser. The container keeps that (correctly loaded) configuration
    cached, so until ``container.config.reset()`` it fails the same way again
    (never with a half-built context); after the reset it reloads.
    """
    repair(root)
    if loaded:
        with pytest.raises(MXMRuntimeError):
            container.context()
        container.config.reset()
    ctx = container.context()
    assert ctx.config.label == "dev"
    assert ctx.paths is not None
    assert ctx.paths.data_root == root / "runtime" / "data"
    fresh = build_runtime_context(identity=IDENTITY, store_root=root)
    assert fresh.config.label == "dev"


Fault = Callable[[Path], None]


def _with_default(change: Callable[[dict[str, Any]], None]) -> Fault:
    def apply(root: Path) -> None:
        data = good_default(root)
        change(data)
        write_store(root, {"default": data})

    return apply


def _files(**files: str | bytes) -> Fault:
    def apply(root: Path) -> None:
        good_store(root)
        write_store(root, dict(files))

    return apply


# -- store layout ------------------------------------------------------------------


def test_store_root_missing(tmp_path: Path) -> None:
    root = tmp_path / "no-store"
    container = RuntimeContainer.from_identity(IDENTITY, store_root=root)
    with pytest.raises(ConfigStoreNotFoundError) as info:
        container.context()
    message = assert_documented(info.value, ConfigStoreNotFoundError, FileNotFoundError)
    assert str(root) in message
    assert "MXM_CONFIG_STORE_ROOT" in message
    root.mkdir()
    assert_recovers(root, container)


def test_app_dir_missing(tmp_path: Path) -> None:
    (tmp_path / "apps").mkdir()
    container = RuntimeContainer.from_identity(IDENTITY, store_root=tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        container.context()
    message = assert_documented(info.value, ConfigStoreNotFoundError, FileNotFoundError)
    assert f"apps/{APP}" in message
    assert_recovers(tmp_path, container)


def test_default_yaml_missing(tmp_path: Path) -> None:
    write_store(tmp_path, {"environment": {"dev": {}}})
    container = RuntimeContainer.from_identity(IDENTITY, store_root=tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        container.context()
    message = assert_documented(info.value, ConfigStoreNotFoundError, FileNotFoundError)
    assert "default.yaml" in message
    assert "mxm_secrets, mxm_databases and mxm_paths" in message
    assert_recovers(tmp_path, container)


# -- files that cannot be read -----------------------------------------------------


def _directory_default(root: Path) -> None:
    (root / "apps" / APP / "default.yaml").mkdir(parents=True)


def _directory_layer(root: Path) -> None:
    good_store(root)
    (root / "apps" / APP / "environment.yaml").unlink()
    (root / "apps" / APP / "environment.yaml").mkdir()


def _fifo_layer(root: Path) -> None:
    good_store(root)
    (root / "apps" / APP / "machine.yaml").unlink(missing_ok=True)
    os.mkfifo(root / "apps" / APP / "machine.yaml")


UNREADABLE: dict[str, tuple[Fault, str, str]] = {
    "default.yaml is a directory": (_directory_default, "default.yaml", "a directory"),
    "layer is a directory": (_directory_layer, "environment.yaml", "a directory"),
    "layer is a FIFO (would block)": (_fifo_layer, "machine.yaml", "not a regular file"),
    "invalid UTF-8": (
        _files(default=b"mxm_paths:\n  data_root: /d\xff\xfe\n"),
        "default.yaml",
        "not UTF-8",
    ),
    "UTF-16 file": (
        _files(role="app: {}\n".encode("utf-16")),
        "role.yaml",
        "not UTF-8",
    ),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_unreadable_files(tmp_path: Path, case: str) -> None:
    fault, file_name, phrase = UNREADABLE[case]
    fault(tmp_path)
    container = RuntimeContainer.from_identity(IDENTITY, store_root=tmp_path)
    with pytest.raises(ConfigFileError) as info:
        container.context()
    message = assert_documented(info.value, ConfigFileError, ValueError)
    assert file_name in message
    assert phrase in message
    assert info.value.file is not None and info.value.file.name == file_name
    assert_recovers(tmp_path, container)


_PERMISSION_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, tempfile
    from pathlib import Path
    from mxm.runtime import RuntimeIdentity, build_runtime_context
    from mxm.runtime.errors import ConfigFileError
    from mxm.runtime.testing.store import minimal_runtime_config
    import yaml

    identity = RuntimeIdentity(app="faultapp", environment="dev", machine="m1",
                               substrate="local-process", role="app")
    root = Path(tempfile.mkdtemp(prefix="mxm-perm-"))
    root.chmod(0o755)
    app = root / "apps" / "faultapp"
    app.mkdir(parents=True)
    for d in (root / "apps", app):
        d.chmod(0o755)
    (app / "default.yaml").write_text(yaml.safe_dump(minimal_runtime_config(root / "rt")))
    (app / "default.yaml").chmod(0o644)
    layer = app / "environment.yaml"
    layer.write_text("dev: {}\\n")
    layer.chmod(0o000)
    if os.geteuid() == 0:
        os.setgid(65534)
        os.setuid(65534)
    result = {}
    try:
        build_runtime_context(identity=identity, store_root=root)
        result["error"] = None
    except ConfigFileError as exc:
        result.update(error=type(exc).__name__, value_error=isinstance(exc, ValueError),
                      message=str(exc), file=str(exc.file))
    if os.geteuid() != 0 and os.access(root, os.W_OK):
        layer.chmod(0o644)
        result["recovered"] = build_runtime_context(identity=identity, store_root=root) is not None
    print(json.dumps(result))
    """
)


@pytest.mark.integration
def test_unreadable_file_permissions() -> None:
    if os.geteuid() != 0 and os.access("/", os.W_OK):  # pragma: no cover - odd sandboxes
        pytest.skip("cannot make a file unreadable here")
    out = subprocess.run(
        [sys.executable, "-c", _PERMISSION_SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["error"] == "ConfigFileError", result
    assert result["value_error"] is True
    assert "cannot be read" in result["message"]
    assert "Permission denied" in result["message"]
    assert result["file"].endswith("environment.yaml")
    assert "fix: make" in result["message"] and "readable" in result["message"]


# -- YAML content ------------------------------------------------------------------

YAML_FAULTS: dict[str, tuple[Fault, type[MXMRuntimeError], type[BaseException], list[str]]] = {
    "malformed YAML (unclosed flow)": (
        _files(default="mxm_paths: [a, b\n"),
        ConfigFileError,
        ValueError,
        ["default.yaml", "not valid YAML", "line 2"],
    ),
    "malformed YAML (tab indent)": (
        _files(environment="dev:\n\tlabel: dev\n"),
        ConfigFileError,
        ValueError,
        ["environment.yaml", "not valid YAML", "line 2, column 1"],
    ),
    "duplicate key": (
        _files(default="a: 1\na: 2\n"),
        ConfigFileError,
        ValueError,
        ["default.yaml", "duplicate key a"],
    ),
    "python tag": (
        _files(default="a: !!python/object/apply:os.system ['true']\n"),
        ConfigFileError,
        ValueError,
        ["default.yaml", "python/object/apply:os.system"],
    ),
    "NUL byte": (
        _files(default="a: \x00\n"),
        ConfigFileError,
        ValueError,
        ["default.yaml", "control characters"],
    ),
    "recursive alias": (
        _files(default="a: &x [*x]\n"),
        ConfigFileError,
        ValueError,
        ["default.yaml", "recursive aliases"],
    ),
    "deep nesting": (
        _files(default="a: " + "[" * 3000 + "]" * 3000 + "\n"),
        ConfigFileError,
        ValueError,
        ["default.yaml", "nesting depth"],
    ),
    "default root is a list": (
        _files(default="- mxm_paths\n- mxm_secrets\n"),
        ConfigValueError,
        TypeError,
        ["default.yaml", "must contain a mapping"],
    ),
    "layer root is a list": (
        _files(substrate="- local-process\n"),
        ConfigValueError,
        TypeError,
        ["substrate.yaml", "must contain a mapping"],
    ),
    "selected block is a scalar": (
        _files(environment="dev: 3\n"),
        ConfigValueError,
        TypeError,
        ["environment.yaml", "must be a mapping"],
    ),
    "layer without the selector": (
        _files(environment="prod: {label: prod}\nstaging: {}\n"),
        ConfigSelectorError,
        KeyError,
        ["environment.yaml", "'dev'", "Available selectors: prod, staging", "add a top-level"],
    ),
    "layers disagree on a key's shape": (
        _files(environment="dev:\n  mxm_paths: [a, b]\n"),
        ConfigValueError,
        TypeError,
        ["mapping in one layer", "same kind of value"],
    ),
    "interpolation to a missing key": (
        _with_default(lambda d: d["mxm_paths"].update(log_root="${storage.nowhere}/logs")),
        ConfigInterpolationError,
        ValueError,
        [
            "storage.nowhere",
            "key: mxm_paths.log_root",
            "default.yaml",
            "point the ${...} reference",
        ],
    ),
    "interpolation to a missing key in a layer file": (
        _files(environment="dev:\n  label: dev\n  mxm_paths:\n    log_root: ${nowhere.logs}\n"),
        ConfigInterpolationError,
        ValueError,
        ["nowhere.logs", "key: mxm_paths.log_root", "environment.yaml"],
    ),
    "interpolation cycle": (
        _with_default(
            lambda d: d.update(a={"x": "${b.y}"}, b={"y": "${a.x}"}),
        ),
        ConfigInterpolationError,
        ValueError,
        ["Interpolation cycle", "default.yaml", "break the cycle"],
    ),
    "malformed interpolation": (
        _with_default(lambda d: d["mxm_paths"].update(data_root="${mxm_paths.log_root")),
        ConfigInterpolationError,
        ValueError,
        ["malformed", "key: mxm_paths.data_root", "default.yaml", "close every"],
    ),
    "interpolation to a missing env var": (
        _with_default(lambda d: d.update(token="${oc.env:MXM_FAULT_NOT_SET_ANYWHERE}")),
        ConfigInterpolationError,
        ValueError,
        ["MXM_FAULT_NOT_SET_ANYWHERE", "key: token", "default.yaml"],
    ),
}


@pytest.mark.parametrize("case", list(YAML_FAULTS))
def test_yaml_and_layer_faults(tmp_path: Path, case: str) -> None:
    fault, mxm_type, builtin, phrases = YAML_FAULTS[case]
    fault(tmp_path)
    container = RuntimeContainer.from_identity(IDENTITY, store_root=tmp_path)
    with pytest.raises(MXMRuntimeError) as info:
        container.context()
    message = assert_documented(info.value, mxm_type, builtin)
    for phrase in phrases:
        assert phrase in message, (phrase, message)
    assert str(tmp_path) in message  # store root (and usually the file) named
    # The same fault through the 0.1.2 facade: same type.
    with pytest.raises(mxm_type):
        build_runtime_context(identity=IDENTITY, store_root=tmp_path)
    assert_recovers(tmp_path, container)


# -- sections and fields -------------------------------------------------------------


@pytest.mark.parametrize("section", SECTIONS)
def test_each_missing_section(tmp_path: Path, section: str) -> None:
    _with_default(lambda d: d.pop(section))(tmp_path)
    container = RuntimeContainer.from_identity(IDENTITY, store_root=tmp_path)
    with pytest.raises(ConfigSectionError) as info:
        container.context()
    message = assert_documented(info.value, ConfigSectionError, KeyError)
    assert repr(section) in message
    assert "default.yaml" in message
    assert info.value.key == section
    assert_recovers(tmp_path, container, loaded=True)


@pytest.mark.parametrize("section", SECTIONS)
def test_each_section_of_the_wrong_type(tmp_path: Path, section: str) -> None:
    _with_default(lambda d: d.update({section: ["not", "a", "mapping"]}))(tmp_path)
    container = RuntimeContainer.from_identity(IDENTITY, store_root=tmp_path)
    with pytest.raises(TypeError) as info:
        container.context()
    message = assert_documented(info.value, ConfigValueError, TypeError)
    assert section in message
    assert_recovers(tmp_path, container, loaded=True)


@pytest.mark.parametrize("key", PATH_KEYS)
def test_each_missing_path_key(tmp_path: Path, key: str) -> None:
    _with_default(lambda d: d["mxm_paths"].pop(key))(tmp_path)
    container = RuntimeContainer.from_identity(IDENTITY, store_root=tmp_path)
    with pytest.raises(KeyError) as info:
        container.paths()
    message = assert_documented(info.value, ConfigSectionError, KeyError)
    assert f"mxm_paths.{key}" in message
    assert_recovers(tmp_path, container, loaded=True)


WRONG_PATH_VALUES: dict[str, object] = {
    "int": 42,
    "float": 1.5,
    "bool": True,
    "list": ["/a", "/b"],
    "mapping": {"path": "/a"},
    "empty": "",
    "blank": "   ",
}


@pytest.mark.parametrize("key", PATH_KEYS)
@pytest.mark.parametrize("kind", list(WRONG_PATH_VALUES))
def test_wrong_type_in_each_path_field(tmp_path: Path, key: str, kind: str) -> None:
    value = WRONG_PATH_VALUES[kind]
    _with_default(lambda d: d["mxm_paths"].update({key: value}))(tmp_path)
    container = RuntimeContainer.from_identity(IDENTITY, store_root=tmp_path)
    with pytest.raises(ConfigValueError) as info:
        container.context()
    message = assert_documented(info.value, ConfigValueError, TypeError)
    assert f"mxm_paths.{key}" in message
    assert info.value.key == f"mxm_paths.{key}"
    assert_recovers(tmp_path, container, loaded=True)


DB_FIELD_FAULTS: dict[str, tuple[str, object, type[MXMRuntimeError], str]] = {
    "driver int": ("driver", 5, ConfigValueError, "driver"),
    "driver unknown": ("driver", "oracle9i", ConfigValueError, "driver"),
    "host list": ("host", ["a", "b"], ConfigValueError, "host"),
    "host empty": ("host", "", ConfigValueError, "host"),
    "port text": ("port", "fivefourthreetwo", ConfigValueError, "port"),
    "port float": ("port", 5432.5, ConfigValueError, "port"),
    "port bool": ("port", True, ConfigValueError, "port"),
    "port out of range": ("port", 70000, ConfigValueError, "port"),
    "name int": ("name", 7, ConfigValueError, "name"),
    "user mapping": ("user", {"u": 1}, ConfigValueError, "user"),
    "password_ref int": ("password_ref", 3, ConfigValueError, "password_ref"),
    "password_ref unknown": ("password_ref", "no_such_ref", ConfigSectionError, "password_ref"),
    "unknown key": ("passwd", "hunter2", ConfigValueError, "passwd"),
}


@pytest.mark.parametrize("case", list(DB_FIELD_FAULTS))
def test_wrong_database_fields(tmp_path: Path, case: str) -> None:
    field, value, mxm_type, named = DB_FIELD_FAULTS[case]
    _with_default(lambda d: d["mxm_databases"]["main"].update({field: value}))(tmp_path)
    container = RuntimeContainer.from_identity(IDENTITY, store_root=tmp_path)
    with pytest.raises(MXMRuntimeError) as info:
        container.context()
    builtin = KeyError if mxm_type is ConfigSectionError else TypeError
    message = assert_documented(info.value, mxm_type, builtin)
    assert f"mxm_databases.main.{named}" in message
    assert "hunter2" not in message
    assert_recovers(tmp_path, container, loaded=True)


@pytest.mark.parametrize("field", ["driver", "host", "name", "user"])
def test_missing_database_fields(tmp_path: Path, field: str) -> None:
    _with_default(lambda d: d["mxm_databases"]["main"].pop(field))(tmp_path)
    container = RuntimeContainer.from_identity(IDENTITY, store_root=tmp_path)
    with pytest.raises(KeyError) as info:
        container.db_configs()
    message = assert_documented(info.value, ConfigSectionError, KeyError)
    assert f"mxm_databases.main.{field}" in message
    assert_recovers(tmp_path, container, loaded=True)


SECRETS_FAULTS: dict[str, tuple[Callable[[dict[str, Any]], None], type[MXMRuntimeError]]] = {
    "bad principal name": (
        lambda s: s["policies"]["app_access"].update(allowed_principals=["Bad-Name"]),
        SecretsConfigError,
    ),
    "empty ref path": (
        lambda s: s["refs"]["database_password"].update(path=""),
        SecretsConfigError,
    ),
    "bad store name": (
        lambda s: s["stores"].update({"Bad-Store": {"backend": "gopass", "root": "r"}}),
        SecretsConfigError,
    ),
    "stores is a list": (lambda s: s.update(stores=["vault"]), ConfigValueError),
}


@pytest.mark.parametrize("case", list(SECRETS_FAULTS))
def test_secrets_section_faults(tmp_path: Path, case: str) -> None:
    change, mxm_type = SECRETS_FAULTS[case]
    _with_default(lambda d: change(d["mxm_secrets"]))(tmp_path)
    container = RuntimeContainer.from_identity(IDENTITY, store_root=tmp_path)
    with pytest.raises(MXMRuntimeError) as info:
        container.context()
    builtin = TypeError if mxm_type is ConfigValueError else ValueError
    message = assert_documented(info.value, mxm_type, builtin)
    assert "mxm_secrets" in message
    assert_recovers(tmp_path, container, loaded=True)


# -- YAML node limit: alias bomb vs a legitimately large file --------------------------


def billion_laughs(levels: int = 9, width: int = 10) -> str:
    lines = ["lol0: &lol0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        refs = ", ".join([f"*lol{level - 1}"] * width)
        lines.append(f"lol{level}: &lol{level} [{refs}]")
    return "\n".join(lines) + "\n"


def large_document(entries: int) -> str:
    return "bulk:\n" + "".join(f"  key_{i}: value {i}\n" for i in range(entries))


_BOMB_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys, tempfile
    from pathlib import Path
    import yaml
    from mxm.runtime import RuntimeIdentity, RuntimeContainer
    from mxm.runtime.errors import ConfigFileError
    from mxm.runtime.testing.store import minimal_runtime_config

    identity = RuntimeIdentity(app="faultapp", environment="dev", machine="m1",
                               substrate="local-process", role="app")
    root = Path(tempfile.mkdtemp(prefix="mxm-bomb-"))
    app = root / "apps" / "faultapp"
    app.mkdir(parents=True)
    (app / "default.yaml").write_text(
        yaml.safe_dump(minimal_runtime_config(root / "rt")) + sys.argv[1])
    limit = int(sys.argv[2]) if sys.argv[2] != "-" else None
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {"before_kib": before}
    try:
        RuntimeContainer.from_identity(identity, store_root=root, max_yaml_nodes=limit).context()
        result["error"] = None
    except ConfigFileError as exc:
        result.update(error=type(exc).__name__, message=str(exc))
    result["after_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result))
    """
)

BOMB_MEMORY_BUDGET_KIB = 64 * 1024
"""Extra peak RSS a refused alias bomb may cost (expanded, it would need ~GBs)."""


@pytest.mark.integration
@pytest.mark.parametrize("limit", ["-", "1000000"], ids=["default-limit", "raised-limit"])
def test_alias_bomb_fails_fast_in_bounded_memory(limit: str) -> None:
    # 10**9 leaves once expanded; refused before expansion even with a raised limit
    # (OmegaConf's 100x expansion-ratio guard stays on for any positive limit).
    out = subprocess.run(
        [sys.executable, "-c", _BOMB_SCRIPT, billion_laughs(), limit],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["error"] == "ConfigFileError"
    assert "alias bomb" in result["message"]
    assert "default.yaml" in result["message"]
    assert "do not raise it" in result["message"]
    assert result["after_kib"] - result["before_kib"] < BOMB_MEMORY_BUDGET_KIB, result


def test_large_file_is_distinguished_from_a_bomb(tmp_path: Path) -> None:
    default = dump(good_default(tmp_path)) + large_document(6_000)
    write_store(tmp_path, {"default": default, "environment": {"dev": {"label": "dev"}}})
    container = RuntimeContainer.from_identity(IDENTITY, store_root=tmp_path)
    with pytest.raises(ConfigFileError) as info:
        container.context()
    message = assert_documented(info.value, ConfigFileError, ValueError)
    size = (tmp_path / "apps" / APP / "default.yaml").stat().st_size
    assert "too large" in message
    assert "not an alias bomb" in message
    assert "alias bomb (billion laughs)" not in message
    assert f"{size:,} bytes" in message
    assert "10,000" in message
    assert "default.yaml" in message
    assert "MXM_CONFIG_MAX_YAML_NODES=" in message
    assert "max_yaml_nodes=" in message
    # The documented remedy works: a raised limit for this trusted store.
    ctx = RuntimeContainer.from_identity(
        IDENTITY, store_root=tmp_path, max_yaml_nodes=50_000
    ).context()
    assert len(ctx.config.bulk) == 6_000
    assert MAX_YAML_NODES_ENV not in os.environ  # the scoped change was undone
    # The default still applies afterwards (nothing leaked into the process).
    with pytest.raises(ConfigFileError):
        load_runtime_config(IDENTITY, tmp_path)


def test_node_limit_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = dump(good_default(tmp_path)) + large_document(6_000)
    write_store(tmp_path, {"default": default})
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "MXM_APP": APP,
        "MXM_ENVIRONMENT": "dev",
        "MXM_ROLE": "app",
        "MXM_MACHINE": "m1",
        "MXM_SUBSTRATE": "local-process",
        "MXM_CONFIG_STORE_ROOT": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MXM_CONFIG_MAX_YAML_NODES", raising=False)
    with pytest.raises(ConfigFileError, match="too large"):
        RuntimeContainer().context()
    monkeypatch.setenv("MXM_CONFIG_MAX_YAML_NODES", "40000")
    assert RuntimeSettings().config_max_yaml_nodes == 40_000
    assert len(RuntimeContainer().context().config.bulk) == 6_000
    assert MAX_YAML_NODES_ENV not in os.environ


@pytest.mark.parametrize("bad", [0, -1, True, 2.5])
def test_invalid_node_limit_argument(tmp_path: Path, bad: Any) -> None:
    good_store(tmp_path)
    with pytest.raises(RuntimeSettingsError) as info:
        load_runtime_config(IDENTITY, tmp_path, max_yaml_nodes=bad)
    message = assert_documented(info.value, RuntimeSettingsError, ValueError)
    assert "max_yaml_nodes must be a positive integer" in message


@pytest.mark.parametrize("bad", ["0", "-5", "lots"])
def test_invalid_omegaconf_node_limit_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    good_store(tmp_path)
    monkeypatch.setenv(MAX_YAML_NODES_ENV, bad)
    container = RuntimeContainer.from_identity(IDENTITY, store_root=tmp_path)
    with pytest.raises(RuntimeSettingsError) as info:
        container.context()
    message = assert_documented(info.value, RuntimeSettingsError, ValueError)
    assert MAX_YAML_NODES_ENV in message
    monkeypatch.delenv(MAX_YAML_NODES_ENV)
    assert container.context().config.label == "dev"


# -- bootstrap settings ----------------------------------------------------------------

INVALID_SETTINGS: dict[str, tuple[dict[str, str], str]] = {
    "app with a slash": ({"MXM_APP": "../etc"}, "MXM_APP"),
    "role with spaces": ({"MXM_ROLE": "data team"}, "MXM_ROLE"),
    "machine too long": ({"MXM_MACHINE": "m" * 300}, "MXM_MACHINE"),
    "substrate with NUL-like junk": ({"MXM_SUBSTRATE": "docker$(id)"}, "MXM_SUBSTRATE"),
    "blank store root": ({"MXM_CONFIG_STORE_ROOT": "   "}, "MXM_CONFIG_STORE_ROOT"),
    "node limit not a number": ({"MXM_CONFIG_MAX_YAML_NODES": "many"}, "MXM_CONFIG_MAX_YAML_NODES"),
    "node limit negative": ({"MXM_CONFIG_MAX_YAML_NODES": "-1"}, "MXM_CONFIG_MAX_YAML_NODES"),
}


def _set_good_env(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    for name, value in {
        "MXM_APP": APP,
        "MXM_ENVIRONMENT": "dev",
        "MXM_ROLE": "app",
        "MXM_MACHINE": "m1",
        "MXM_SUBSTRATE": "local-process",
        "MXM_CONFIG_STORE_ROOT": str(root),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MXM_CONFIG_MAX_YAML_NODES", raising=False)


@pytest.mark.parametrize("case", list(INVALID_SETTINGS))
def test_invalid_mxm_environment_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    bad, named = INVALID_SETTINGS[case]
    store = good_store(tmp_path / "store")
    monkeypatch.chdir(tmp_path)
    _set_good_env(monkeypatch, store)
    for name, value in bad.items():
        monkeypatch.setenv(name, value)
    container = RuntimeContainer()
    with pytest.raises(RuntimeSettingsError) as info:
        container.context()
    message = assert_documented(info.value, RuntimeSettingsError, ValueError)
    assert named in message
    _set_good_env(monkeypatch, store)
    assert container.context().config.label == "dev"  # same container, fixed env


@pytest.mark.parametrize("kind", ["invalid UTF-8", "directory"])
def test_unreadable_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    store = good_store(tmp_path / "store")
    monkeypatch.chdir(tmp_path)
    _set_good_env(monkeypatch, store)
    monkeypatch.delenv("MXM_ROLE")
    env_file = tmp_path / ".env"
    if kind == "directory":
        env_file.mkdir()
    else:
        env_file.write_bytes(b"MXM_ROLE=app\nMXM_NOTE=\xff\xfe\n")
    container = RuntimeContainer()
    with pytest.raises(RuntimeSettingsError) as info:
        container.context()
    message = assert_documented(info.value, RuntimeSettingsError, ValueError)
    assert ".env" in message
    if env_file.is_dir():
        env_file.rmdir()
    else:
        env_file.unlink()
    env_file.write_text("MXM_ROLE=app\n", encoding="utf-8")
    assert container.context().identity.role == "app"
