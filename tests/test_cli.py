"""The real ``mxm-runtime`` command, run in a subprocess, on good and broken stores."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mxm.runtime.testing.gopass import GopassStore
from mxm.runtime.testing.store import minimal_runtime_config, write_config_store

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_FILE = ROOT / "docs" / "report-schema.json"
IDENTITY_ARGS = (
    "--app",
    "demo",
    "--environment",
    "test",
    "--role",
    "app",
    "--machine",
    "m1",
    "--substrate",
    "local-process",
)


def command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m``."""
    script = shutil.which("mxm-runtime", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "mxm.runtime.cli"]


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MXM_")}
    env.update(extra or {})
    return env


def run(
    *args: str | Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command(), *(str(a) for a in args)],
        env=dict(env) if env is not None else clean_environ(),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_all(
    calls: Sequence[Sequence[str | Path]], env: Mapping[str, str] | None = None
) -> list[subprocess.CompletedProcess[str]]:
    """Run several commands concurrently (each start imports pandas: ~1 s)."""

    def one(call: Sequence[str | Path]) -> subprocess.CompletedProcess[str]:
        return run(*call, env=env)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, calls))


def validate(definition: str, document: object) -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    root = {"$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    jsonschema.Draft202012Validator(root).validate(document)  # pyright: ignore[reportUnknownMemberType]


def check_named(report: Mapping[str, Any], name: str) -> dict[str, Any]:
    for check in report["checks"]:
        if check["name"] == name:
            found: dict[str, Any] = check
            return found
    raise AssertionError(f"no check {name!r} in {[c['name'] for c in report['checks']]}")


def good_store(tmp_path: Path, *, create: bool = True) -> Path:
    runtime = tmp_path / "rt"
    if create:
        for name in ("data", "artifacts", "exports", "logs"):
            (runtime / name).mkdir(parents=True)
    return write_config_store(
        tmp_path / "store",
        "demo",
        {"default": minimal_runtime_config(runtime), "environment": {"test": {}}},
    )


def without_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr


# -- good store ---------------------------------------------------------------------


def test_every_command_on_a_good_store(tmp_path: Path) -> None:
    store = good_store(tmp_path)
    base = (*IDENTITY_ARGS, "--store-root", store)
    check_json, check_text, show_json, show_text, identity_json, env_json, env_text = run_all(
        [
            (*base, "check", "--json"),
            (*base, "check"),
            (*base, "show", "--json"),
            (*base, "show"),
            (*base, "identity", "--json"),
            (*base, "env", "--json"),
            (*base, "env"),
        ]
    )

    report = json.loads(check_json.stdout)
    validate("report", report)
    failed = [c["name"] for c in report["checks"] if c["status"] == "fail"]
    # Only the host's gopass may be missing; the store itself is sound.
    assert set(failed) <= {"secrets.backend"}
    assert check_json.returncode == (0 if not failed else 1)
    assert check_text.returncode == check_json.returncode
    assert "paths.log_root" in check_text.stdout
    assert str(tmp_path / "rt" / "logs") in check_text.stdout

    assert show_json.returncode == 0, show_json.stderr
    description = json.loads(show_json.stdout)
    validate("context", description)
    assert description["identity"]["machine"] == "m1"
    assert description["paths"]["data_root"] == str(tmp_path / "rt" / "data")
    assert show_text.returncode == 0
    for text in ("database_password", "environment", str(tmp_path / "rt" / "exports")):
        assert text in show_text.stdout

    assert identity_json.returncode == 0
    identity = json.loads(identity_json.stdout)
    validate("identity_output", identity)
    assert identity["sources"]["app"] == "--app"
    assert identity["identity"]["substrate"] == "local-process"
    # Discovery evidence is shown even for given selectors, for comparison.
    assert set(identity["discovery"]) == {"machine", "substrate"}

    assert env_json.returncode == 0
    variables = json.loads(env_json.stdout)
    validate("env_output", variables)
    assert variables["variables"]["MXM_MACHINE"] == "m1"
    exported = dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1)
        for line in env_text.stdout.splitlines()
    )
    assert exported == variables["variables"]
    for result in (check_json, check_text, show_json, show_text, identity_json, env_text):
        without_traceback(result)


def test_settings_come_from_the_environment_and_discovery_evidence_is_shown(
    tmp_path: Path,
) -> None:
    store = good_store(tmp_path)
    env = clean_environ(
        {
            "MXM_APP": "demo",
            "MXM_ENVIRONMENT": "test",
            "MXM_ROLE": "app",
            "MXM_CONFIG_STORE_ROOT": str(store),
        }
    )
    result = run("identity", "--json", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    validate("identity_output", data)
    assert data["sources"]["app"] == "MXM_APP"
    assert data["sources"]["machine"] == "discovered"
    assert data["store_root"] == str(store)
    # Evidence comes from mxm.runtime.discovery when that version provides it.
    substrate = data["discovery"]["substrate"]
    assert substrate is None or substrate["substrate"] == data["identity"]["substrate"]


def test_check_create_paths_creates_the_directories(tmp_path: Path) -> None:
    store = good_store(tmp_path, create=False)
    first = run(*IDENTITY_ARGS, "--store-root", store, "check", "--json")
    assert first.returncode == 1
    report = json.loads(first.stdout)
    assert check_named(report, "paths.data_root")["status"] == "fail"
    assert "--create-paths" in check_named(report, "paths.data_root")["fix"]

    second = run(*IDENTITY_ARGS, "--store-root", store, "check", "--json", "--create-paths")
    created = json.loads(second.stdout)
    validate("report", created)
    assert check_named(created, "paths.data_root")["status"] == "ok"
    assert (tmp_path / "rt" / "logs").is_dir()


# -- broken stores ------------------------------------------------------------------


def break_missing_app_dir(store: Path) -> None:
    shutil.rmtree(store / "apps" / "demo")


def break_missing_section(store: Path) -> None:
    config = minimal_runtime_config(store.parent / "rt")
    del config["mxm_paths"]
    write_config_store(store, "demo", {"default": config})


def break_bad_selector(store: Path) -> None:
    config = minimal_runtime_config(store.parent / "rt")
    write_config_store(store, "demo", {"default": config, "environment": {"prod": {}}})


def break_malformed_yaml(store: Path) -> None:
    (store / "apps" / "demo" / "default.yaml").write_text("mxm_paths: [oops\n", encoding="utf-8")


def break_non_string_path(store: Path) -> None:
    config = minimal_runtime_config(store.parent / "rt", mxm_paths={"data_root": 42})
    write_config_store(store, "demo", {"default": config})


def break_unknown_secret_store(store: Path) -> None:
    config = minimal_runtime_config(
        store.parent / "rt",
        mxm_secrets={"refs": {"database_password": {"store": "nowhere"}}},
    )
    write_config_store(store, "demo", {"default": config})


BROKEN = {
    "missing app dir": (
        break_missing_app_dir,
        "store.app_dir",
        "create {store}/apps/demo/default.yaml",
    ),
    "missing section": (
        break_missing_section,
        "config.mxm_paths",
        "add a 'mxm_paths:' mapping",
    ),
    "bad selector": (
        break_bad_selector,
        "layers.environment",
        "add a top-level 'test:' block",
    ),
    "malformed yaml": (
        break_malformed_yaml,
        "layers.default",
        "fix the YAML syntax of {store}/apps/demo/default.yaml",
    ),
    "non-string path": (
        break_non_string_path,
        "config.mxm_paths",
        "set mxm_paths.data_root to a directory path string",
    ),
    "unknown secret store": (
        break_unknown_secret_store,
        "secrets.ref.database_password",
        "add store 'nowhere' under mxm_secrets.stores",
    ),
}


TEXT_CASES = frozenset({"bad selector", "unknown secret store", "malformed yaml"})


@pytest.mark.parametrize("case", list(BROKEN))
def test_check_names_the_broken_piece_and_the_fix(tmp_path: Path, case: str) -> None:
    breaker, check_name, fix_text = BROKEN[case]
    store = good_store(tmp_path)
    breaker(store)
    fix_text = fix_text.format(store=store)
    calls: list[tuple[str | Path, ...]] = [
        (*IDENTITY_ARGS, "--store-root", store, "check", "--json")
    ]
    if case in TEXT_CASES:  # the human report too (each start costs ~1 s)
        calls.append((*IDENTITY_ARGS, "--store-root", store, "check"))
    as_json, *as_text = run_all(calls)

    assert as_json.returncode == 1, as_json.stderr
    report = json.loads(as_json.stdout)
    validate("report", report)
    assert report["ok"] is False
    check = check_named(report, check_name)
    assert check["status"] == "fail"
    assert fix_text in check["fix"]
    without_traceback(as_json)

    for text in as_text:
        assert text.returncode == 1
        assert f"FAIL {check_name}: fix: " in text.stdout
        assert fix_text in text.stdout
        without_traceback(text)


def test_show_on_a_broken_store_is_one_paragraph_and_exit_1(tmp_path: Path) -> None:
    store = good_store(tmp_path)
    break_bad_selector(store)
    text, as_json, debug = run_all(
        [
            (*IDENTITY_ARGS, "--store-root", store, "show"),
            (*IDENTITY_ARGS, "--store-root", store, "show", "--json"),
            ("--debug", *IDENTITY_ARGS, "--store-root", store, "show"),
        ]
    )
    assert text.returncode == 1
    assert text.stdout == ""
    paragraph = text.stderr.strip()
    assert paragraph.startswith("mxm-runtime: error: The runtime cannot be built")
    assert "\n" not in paragraph
    assert "'test:'" in paragraph
    assert "mxm-runtime check" in paragraph
    without_traceback(text)

    assert as_json.returncode == 1
    error = json.loads(as_json.stdout)
    validate("error", error)
    assert error["error"] == "ConfigSelectorError"
    assert error["exit_code"] == 1

    assert debug.returncode == 1
    assert "Traceback" in debug.stderr  # --debug may show one


# -- usage errors -------------------------------------------------------------------


def test_usage_errors_exit_2_without_a_traceback(tmp_path: Path) -> None:
    missing, invalid, unknown_option, as_json = run_all(
        [
            ("--app", "demo", "show"),
            ("--app", "a/b", "--environment", "test", "--role", "app", "env"),
            ("check", "--no-such-option"),
            ("--app", "demo", "check", "--json"),
        ]
    )
    for result in (missing, invalid, unknown_option, as_json):
        assert result.returncode == 2, result.stderr
        without_traceback(result)
    assert "MXM_ENVIRONMENT" in missing.stderr and "--environment" in missing.stderr
    assert "path separators" in invalid.stderr
    assert "--no-such-option" in unknown_option.stderr
    error = json.loads(as_json.stdout)
    validate("error", error)
    assert error["exit_code"] == 2


def test_module_entry_point_runs_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mxm.runtime.cli", *IDENTITY_ARGS, "env"],
        env=clean_environ(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "export MXM_APP=demo" in result.stdout.splitlines()


def test_demo_script_runs_show_and_check_on_the_example_store() -> None:
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo.sh")],
        env=clean_environ(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "operational_db_password" in result.stdout  # from show
    assert "Runtime checks" in result.stdout  # from check
    without_traceback(result)


# -- the canary -------------------------------------------------------------------


CANARY = "canary-Zq8vK3-never-print-me"
LITERAL = "literal-Jw5-in-config"


def test_a_secret_in_gopass_never_appears_in_any_output(
    tmp_path: Path, gopass_store: GopassStore
) -> None:
    # The secret really is readable by the runtime, so a leak would be possible.
    gopass_store.write("mxm/test/database/password", CANARY)
    assert gopass_store.show("mxm/test/database/password") == CANARY
    config = minimal_runtime_config(
        tmp_path / "rt",
        legacy={"password": LITERAL, "dsn": f"postgresql://u:{LITERAL}@h/db"},
    )
    store = write_config_store(tmp_path / "store", "demo", {"default": config})
    for name in ("data", "artifacts", "exports", "logs"):
        (tmp_path / "rt" / name).mkdir(parents=True)
    env = {k: v for k, v in gopass_store.environ().items() if not k.startswith("MXM_")}
    base = ("--debug", *IDENTITY_ARGS, "--store-root", store)
    calls: list[tuple[str | Path, ...]] = []
    for name in ("identity", "show", "check", "env"):
        calls.append((*base, name))
        calls.append((*base, name, "--json"))
    calls.append((*base, "check", "--create-paths"))
    results = run_all(calls, env=env)

    for call, result in zip(calls, results, strict=True):
        output = result.stdout + result.stderr
        assert result.returncode == 0, (call, result.stderr)
        assert CANARY not in output, call
        assert LITERAL not in output, call
    check = json.loads(results[5].stdout)
    assert check_named(check, "secrets.backend")["status"] == "ok"
    assert check_named(check, "secrets.ref.database_password")["details"]["role_allowed"] is True
    assert "DEBUG" in results[4].stderr  # debug logging was on


def test_importing_the_library_does_not_import_the_cli_stack() -> None:
    probe = (
        "import sys, mxm.runtime, mxm.runtime.diagnostics, mxm.runtime.redaction; "
        "print(','.join(sorted(m for m in ('typer', 'rich', 'click') if m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env=clean_environ(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
