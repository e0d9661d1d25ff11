"""Redaction: secret-looking values never reach a description of a runtime."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mxm.runtime import RuntimeContainer, RuntimeIdentity
from mxm.runtime.redaction import MASK, describe_context, is_secret_key, redact_config, redact_text
from mxm.runtime.testing.store import minimal_runtime_config, write_config_store

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "docs" / "report-schema.json"


def validate(definition: str, document: object) -> None:
    """Validate ``document`` against ``$defs/<definition>`` of docs/report-schema.json."""
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(
        {"$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    )
    validator.validate(document)  # pyright: ignore[reportUnknownMemberType]


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "db_password",
        "PASSWORD",
        "passwd",
        "passphrase",
        "secret",
        "client_secret",
        "token",
        "auth-token",
        "api_key",
        "apiKey",
        "API-KEY",
        "credentials",
        "private_key",
        "private key",
        "aws_access_key",
    ],
)
def test_secret_looking_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key", ["password_ref", "token_refs", "host", "user", "name", "path", "policy", "store", 3]
)
def test_ordinary_keys_and_references(key: object) -> None:
    assert not is_secret_key(key)


def test_redact_config_masks_values_under_secret_keys_at_any_depth() -> None:
    data: dict[str, Any] = {
        "service": {
            "user": "svc",
            "password": "hunter2",
            "credentials": {"user": "u", "key": "k-1"},
            "tokens": ["t-1", "t-2"],
            "api_key": None,
            "port": 8080,
        },
        "mxm_databases": {"main": {"password_ref": "db_password", "password": 1234}},
    }
    redacted = redact_config(data)
    assert redacted["service"]["user"] == "svc"
    assert redacted["service"]["password"] == MASK
    assert redacted["service"]["credentials"] == {"user": MASK, "key": MASK}
    assert redacted["service"]["tokens"] == [MASK, MASK]
    assert redacted["service"]["api_key"] is None  # nothing to hide
    assert redacted["service"]["port"] == 8080
    assert redacted["mxm_databases"]["main"] == {"password_ref": "db_password", "password": MASK}
    text = json.dumps(redacted)
    for secret in ("hunter2", "k-1", "t-1", "t-2", "1234"):
        assert secret not in text
    assert data["service"]["password"] == "hunter2"  # the input is not modified


def test_redact_config_keeps_the_mxm_secrets_structure_readable() -> None:
    section = minimal_runtime_config()["mxm_secrets"]
    section["refs"]["api_token"] = {"store": "vault", "path": "x/token", "policy": "app_access"}
    section["password"] = "literal"  # not part of mxm-secrets' structure: masked
    redacted = redact_config({"mxm_secrets": section})["mxm_secrets"]
    assert redacted["refs"]["api_token"] == {
        "store": "vault",
        "path": "x/token",
        "policy": "app_access",
    }
    assert redacted["stores"]["vault"]["backend"] == "gopass"
    assert redacted["password"] == MASK


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("postgresql://app:s3cr3t@db:5432/x", f"postgresql://app:{MASK}@db:5432/x"),
        ("redis://:pw@cache/0", f"redis://:{MASK}@cache/0"),
        ("https://example.org/a:b@c", "https://example.org/a:b@c"),
        ("https://user@example.org/", "https://user@example.org/"),
        ("plain text", "plain text"),
        ("-----BEGIN PRIVATE KEY-----\nMIIB...\n-----END PRIVATE KEY-----", MASK),
    ],
)
def test_redact_text(value: str, expected: str) -> None:
    assert redact_text(value) == expected


def test_urls_with_passwords_are_masked_under_any_key() -> None:
    redacted = redact_config({"broker": {"url": "amqp://guest:guest-pw@rabbit:5672/"}})
    assert redacted == {"broker": {"url": f"amqp://guest:{MASK}@rabbit:5672/"}}


def test_describe_context_is_redacted_json_matching_the_schema(tmp_path: Path) -> None:
    identity = RuntimeIdentity(
        app="demo", environment="test", machine="m1", substrate="local-process", role="app"
    )
    default = minimal_runtime_config(
        tmp_path / "runtime",
        legacy={"password": "literal-db-pw"},
        broker={"url": "amqp://bot:literal-url-pw@mq/", "api_token": "literal-token"},
    )
    store = write_config_store(
        tmp_path / "store", "demo", {"default": default, "machine": {"m1": {}}}
    )
    context = RuntimeContainer.from_identity(identity, store_root=store).context()

    description = describe_context(context, store_root=store)

    validate("context", description)
    text = json.dumps(description)
    for literal in ("literal-db-pw", "literal-url-pw", "literal-token"):
        assert literal not in text
    assert description["config"]["legacy"]["password"] == MASK
    assert description["config"]["broker"]["url"] == f"amqp://bot:{MASK}@mq/"
    assert description["databases"]["main"]["password_ref"] == "database_password"
    assert description["secrets"]["refs"] == {
        "database_password": {"store": "vault", "policy": "app_access"}
    }
    assert description["paths"]["log_root"] == str(tmp_path / "runtime" / "logs")
    layers = {layer["layer"]: layer for layer in description["layers"]}
    assert layers["machine"]["found"] and layers["machine"]["used"]
    assert layers["machine"]["selector"] == "m1"
    assert not layers["role"]["found"] and not layers["role"]["used"]
    assert description["runtime"]["substrate"] == "local-process"
