"""check_runtime: one check per concern, fail-soft, with fixes, on real stores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mxm.runtime import RuntimeContainer, RuntimeIdentity, check_runtime
from mxm.runtime.diagnostics import CheckStatus, RuntimeReport
from mxm.runtime.testing.store import minimal_runtime_config, write_config_store

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "docs" / "report-schema.json"

IDENTITY = RuntimeIdentity(
    app="demo", environment="test", machine="m1", substrate="local-process", role="app"
)


def validate_report(document: object) -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(
        {"$defs": schema["$defs"], "$ref": "#/$defs/report"}
    )
    validator.validate(document)  # pyright: ignore[reportUnknownMemberType]


def make_store(tmp_path: Path, default: dict[str, Any], **layers: dict[str, Any]) -> Path:
    return write_config_store(tmp_path / "store", "demo", {"default": default, **layers})


def diagnose(
    tmp_path: Path,
    default: dict[str, Any] | None = None,
    *,
    identity: RuntimeIdentity = IDENTITY,
    create_paths: bool = False,
    **layers: dict[str, Any],
) -> RuntimeReport:
    config = default if default is not None else minimal_runtime_config(tmp_path / "rt")
    store = make_store(tmp_path, config, **layers)
    report = check_runtime(
        RuntimeContainer.from_identity(identity, store_root=store), create_paths=create_paths
    )
    validate_report(report.to_dict())
    return report


def status(report: RuntimeReport, name: str) -> CheckStatus:
    check = report.get(name)
    assert check is not None, f"no check {name!r} in {[c.name for c in report.checks]}"
    return check.status


def message(report: RuntimeReport, name: str) -> str:
    check = report.get(name)
    assert check is not None, f"no check {name!r}"
    return check.message


def fix(report: RuntimeReport, name: str) -> str:
    check = report.get(name)
    assert check is not None and check.fix is not None
    return check.fix


def test_a_good_store_passes_every_check(tmp_path: Path) -> None:
    for name in ("data", "artifacts", "exports", "logs"):
        (tmp_path / "rt" / name).mkdir(parents=True)
    report = diagnose(tmp_path, environment={"test": {}})

    names = [check.name for check in report.checks]
    assert names[:3] == ["identity", "store.root", "store.app_dir"]
    expected = {
        "layers.default",
        "layers.environment",
        "layers.machine",
        "layers.substrate",
        "layers.role",
        "config.load",
        "config.mxm_secrets",
        "config.mxm_databases",
        "config.mxm_paths",
        "secrets.store.vault",
        "secrets.ref.database_password",
        "secrets.backend",
        "secrets.principal",
        "paths.data_root",
        "paths.artifact_root",
        "paths.export_root",
        "paths.log_root",
        "databases.main",
        "runtime.metadata",
        "context",
    }
    assert expected <= set(names)
    failed = [(c.name, c.message) for c in report.failures]
    # secrets.backend depends on the host's gopass; everything else must pass.
    assert [name for name, _ in failed if name != "secrets.backend"] == []
    environment = report.get("layers.environment")
    assert environment is not None and environment.details["selector"] == "test"
    assert environment.details["used"] is True
    machine = report.get("layers.machine")
    assert machine is not None and machine.details["found"] is False
    assert report.to_dict()["summary"]["ok"] == len(report.checks) - len(failed) - len(
        report.warnings
    )


def test_missing_paths_fail_with_the_fix_and_create_paths_creates_them(tmp_path: Path) -> None:
    report = diagnose(tmp_path)
    for key in ("data_root", "artifact_root", "export_root", "log_root"):
        assert status(report, f"paths.{key}") is CheckStatus.FAIL
        assert "--create-paths" in fix(report, f"paths.{key}")
    assert not report.ok
    assert report.get("context") is None  # assembled only when nothing failed

    created = diagnose(tmp_path, create_paths=True)
    for key, directory in (("data_root", "data"), ("log_root", "logs")):
        assert status(created, f"paths.{key}") is CheckStatus.OK
        assert (tmp_path / "rt" / directory).is_dir()
        check = created.get(f"paths.{key}")
        assert check is not None and check.details["created"] is True


def test_a_path_that_is_a_file_fails(tmp_path: Path) -> None:
    (tmp_path / "rt").mkdir()
    (tmp_path / "rt" / "logs").write_text("not a directory", encoding="utf-8")
    report = diagnose(tmp_path, create_paths=True)
    assert status(report, "paths.log_root") is CheckStatus.FAIL
    assert "not a directory" in message(report, "paths.log_root")
    assert status(report, "paths.data_root") is CheckStatus.OK


def test_does_not_stop_at_the_first_failure(tmp_path: Path) -> None:
    default = minimal_runtime_config(
        tmp_path / "rt",
        mxm_secrets={
            "stores": {"vault": {"backend": "vaultwarden", "root": "x"}},
            "refs": {
                "database_password": {"store": "nowhere", "path": "a/b", "policy": "app_access"},
                "other": {"store": "vault", "path": "c", "policy": "nobody"},
            },
        },
        mxm_databases={"main": {"password_ref": "other"}},
    )
    report = diagnose(tmp_path, default)
    assert status(report, "secrets.store.vault") is CheckStatus.FAIL
    assert "gopass" in fix(report, "secrets.store.vault")
    assert status(report, "secrets.ref.database_password") is CheckStatus.FAIL
    assert "add store 'nowhere' under mxm_secrets.stores" in fix(
        report, "secrets.ref.database_password"
    )
    assert status(report, "secrets.ref.other") is CheckStatus.FAIL
    assert "policy 'nobody'" in fix(report, "secrets.ref.other")
    assert status(report, "paths.data_root") is CheckStatus.FAIL
    assert status(report, "runtime.metadata") is CheckStatus.OK
    assert {c.name for c in report.failures} == {
        "secrets.store.vault",
        "secrets.ref.database_password",
        "secrets.ref.other",
        "paths.data_root",
        "paths.artifact_root",
        "paths.export_root",
        "paths.log_root",
    } | ({"secrets.backend"} if status(report, "secrets.backend") is CheckStatus.FAIL else set())


def test_database_views_need_their_keys_and_a_configured_password_ref(tmp_path: Path) -> None:
    default = minimal_runtime_config(tmp_path / "rt")
    default["mxm_databases"] = {
        "main": {"driver": "postgresql", "name": "x", "host": "h", "port": 1, "user": "u"},
        "broken": {"driver": "postgresql", "name": "x", "password_ref": "nope"},
        "local": {"driver": "sqlite", "name": "local.db"},
    }
    report = diagnose(tmp_path, default)
    assert status(report, "databases.main") is CheckStatus.WARN  # no password_ref
    broken = report.get("databases.broken")
    assert broken is not None and broken.status is CheckStatus.FAIL
    assert "missing host, port, user" in broken.message
    assert "'nope' is not a configured secret" in broken.message
    assert "database_password" in (broken.fix or "")
    assert status(report, "databases.local") is CheckStatus.OK


def test_a_role_that_cannot_be_a_principal_warns(tmp_path: Path) -> None:
    identity = RuntimeIdentity(
        app="demo", environment="test", machine="m1", substrate="local-process", role="App-2"
    )
    report = diagnose(tmp_path, identity=identity)
    assert status(report, "secrets.principal") is CheckStatus.WARN
    assert "^[a-z][a-z0-9_]*$" in message(report, "secrets.principal")


@pytest.mark.parametrize(
    ("layers", "check", "fix_text"),
    [
        ({"environment": {"prod": {}}}, "layers.environment", "add a top-level 'test:' block"),
        ({"role": "app: [not, a, mapping]\n"}, "layers.role", "make 'app:' in"),
        ({"machine": "- a list\n"}, "layers.machine", "make the top level of"),
    ],
)
def test_layer_problems_name_the_layer_and_the_fix(
    tmp_path: Path, layers: dict[str, Any], check: str, fix_text: str
) -> None:
    store = make_store(tmp_path, minimal_runtime_config(tmp_path / "rt"))
    for layer, content in layers.items():
        text = content if isinstance(content, str) else json.dumps(content)
        (store / "apps" / "demo" / f"{layer}.yaml").write_text(text, encoding="utf-8")
    report = check_runtime(RuntimeContainer.from_identity(IDENTITY, store_root=store))
    validate_report(report.to_dict())
    assert status(report, check) is CheckStatus.FAIL
    assert fix_text in fix(report, check)
    assert status(report, "config.load") is CheckStatus.FAIL
    assert report.get("config.mxm_paths") is None  # not built from a config that did not load


def test_malformed_yaml_is_reported_on_its_layer(tmp_path: Path) -> None:
    store = make_store(tmp_path, minimal_runtime_config(tmp_path / "rt"))
    (store / "apps" / "demo" / "role.yaml").write_text("app: [unclosed\n", encoding="utf-8")
    report = check_runtime(RuntimeContainer.from_identity(IDENTITY, store_root=store))
    assert status(report, "layers.role") is CheckStatus.FAIL
    assert "fix the YAML syntax" in fix(report, "layers.role")
    assert status(report, "layers.default") is CheckStatus.OK
    assert status(report, "config.load") is CheckStatus.FAIL


def test_missing_store_and_app_directory(tmp_path: Path) -> None:
    missing = check_runtime(
        RuntimeContainer.from_identity(IDENTITY, store_root=tmp_path / "no-store")
    )
    assert status(missing, "store.root") is CheckStatus.FAIL
    assert status(missing, "store.app_dir") is CheckStatus.FAIL
    assert status(missing, "config.load") is CheckStatus.FAIL
    (tmp_path / "empty").mkdir()
    no_app = check_runtime(RuntimeContainer.from_identity(IDENTITY, store_root=tmp_path / "empty"))
    assert status(no_app, "store.root") is CheckStatus.OK
    assert "create" in fix(no_app, "store.app_dir")
    assert "default.yaml" in fix(no_app, "store.app_dir")


def test_identity_failure_is_a_check_not_an_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    for variable in ("MXM_APP", "MXM_ENVIRONMENT", "MXM_ROLE"):
        monkeypatch.delenv(variable, raising=False)
    report = check_runtime(RuntimeContainer())
    assert status(report, "identity") is CheckStatus.FAIL
    assert "MXM_APP" in message(report, "identity")
    assert not report.ok
    assert report.identity is None
    validate_report(report.to_dict())


def test_secrets_backend_fails_without_gopass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    report = diagnose(tmp_path)
    assert status(report, "secrets.backend") is CheckStatus.FAIL
    assert "install gopass" in fix(report, "secrets.backend")


def test_the_schema_rejects_a_failed_check_without_a_fix(tmp_path: Path) -> None:
    document = diagnose(tmp_path).to_dict()
    failed = next(check for check in document["checks"] if check["status"] == "fail")
    failed["fix"] = None
    with pytest.raises(jsonschema.ValidationError):
        validate_report(document)
    failed["fix"] = "do this"
    document["checks"][0]["status"] = "broken"
    with pytest.raises(jsonschema.ValidationError):
        validate_report(document)
