"""Identity validation rules and the MXM_* environment round-trip."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mxm.runtime import (
    RuntimeIdentity,
    RuntimeIdentityError,
    RuntimeSettingsError,
    build_runtime_identity,
    identity_from_env,
    identity_to_env,
    validate_runtime_identity_shape,
)
from mxm.runtime.identity import IDENTITY_FIELDS, identity_field_problem

GOOD = RuntimeIdentity(
    app="mxm-moneymachine",
    environment="dev",
    machine="bridge",
    substrate="local-process",
    role="research",
)

BAD_VALUES: list[tuple[str, str]] = [
    ("", "must not be empty or whitespace"),
    ("   ", "must not be empty or whitespace"),
    (" dev", "must not have leading or trailing whitespace"),
    ("dev\n", "must not have leading or trailing whitespace"),
    ("de\x00v", "must not contain control characters"),
    ("de\tv", "must not contain control characters"),
    ("de\x7fv", "must not contain control characters"),
    ("a/b", "must not contain path separators"),
    ("a\\b", "must not contain path separators"),
    ("../x", "must not contain path separators"),
    ("..", "must not contain '..'"),
    ("a..b", "must not contain '..'"),
    ("x" * 129, "must be at most 128 characters (got 129)"),
    ("caf\u00e9", "may contain only ASCII letters, digits"),
    ("a b", "may contain only ASCII letters, digits"),
    ("a:b", "may contain only ASCII letters, digits"),
    (".", "must not consist of dots only"),
]


@pytest.mark.parametrize(("value", "rule"), BAD_VALUES)
@pytest.mark.parametrize("field", IDENTITY_FIELDS)
def test_each_rule_names_field_and_rule(field: str, value: str, rule: str) -> None:
    bad = dataclasses.replace(GOOD, **{field: value})
    with pytest.raises(RuntimeIdentityError) as caught:
        validate_runtime_identity_shape(bad)
    message = str(caught.value)
    assert f"{field} {rule}" in message
    assert isinstance(caught.value, ValueError)


def test_every_bad_field_is_named_at_once() -> None:
    bad = RuntimeIdentity(app="a/b", environment="", machine="ok", substrate="..", role=" r")
    with pytest.raises(RuntimeIdentityError) as caught:
        validate_runtime_identity_shape(bad)
    message = str(caught.value)
    for field in ("app", "environment", "substrate", "role"):
        assert f"{field} must" in message
    assert "machine must" not in message


def test_non_string_value_is_rejected() -> None:
    assert identity_field_problem(3) == "must be a string, got int"


@pytest.mark.parametrize(
    "value",
    ["mxm-runtime-test", "local-process", "mxm_moneymachine", "v1.2", "A", "x" * 128],
)
def test_0_1_2_values_stay_valid(value: str) -> None:
    assert identity_field_problem(value) is None


def test_build_runtime_identity_validates_given_values() -> None:
    with pytest.raises(RuntimeIdentityError, match=r"app must not contain path separators"):
        build_runtime_identity(
            app="../x", environment="dev", role="research", machine="m", substrate="s"
        )


def test_build_runtime_identity_discovers_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MXM_MACHINE", "monolith")
    monkeypatch.setenv("MXM_SUBSTRATE", "kubernetes-pod")
    identity = build_runtime_identity(app="a", environment="dev", role="research")
    assert (identity.machine, identity.substrate) == ("monolith", "kubernetes-pod")


# -- environment round-trip -----------------------------------------------------


def test_identity_to_env_exports_every_field() -> None:
    assert identity_to_env(GOOD) == {
        "MXM_APP": "mxm-moneymachine",
        "MXM_ENVIRONMENT": "dev",
        "MXM_MACHINE": "bridge",
        "MXM_SUBSTRATE": "local-process",
        "MXM_ROLE": "research",
    }


def test_identity_to_env_with_store_root(tmp_path: Path) -> None:
    env = identity_to_env(GOOD, store_root=tmp_path)
    assert env["MXM_CONFIG_STORE_ROOT"] == str(tmp_path)
    home = identity_to_env(GOOD, store_root=Path("~/store"))["MXM_CONFIG_STORE_ROOT"]
    assert not home.startswith("~")


def test_identity_to_env_refuses_invalid_identity() -> None:
    with pytest.raises(RuntimeIdentityError, match="role must not"):
        identity_to_env(dataclasses.replace(GOOD, role="a/b"))


def test_identity_from_env_is_the_reverse() -> None:
    env = {**identity_to_env(GOOD), "PATH": "/usr/bin", "MXM_NODE_NAME": "node-a"}
    assert identity_from_env(env) == GOOD


def test_identity_from_env_lists_every_missing_variable() -> None:
    with pytest.raises(RuntimeSettingsError) as caught:
        identity_from_env({"MXM_APP": "a", "MXM_ROLE": ""})
    message = str(caught.value)
    for name in ("MXM_ENVIRONMENT", "MXM_MACHINE", "MXM_SUBSTRATE", "MXM_ROLE"):
        assert name in message
    assert "MXM_APP" not in message.split("\n")[0]


def test_identity_from_env_names_invalid_variables() -> None:
    env = {**identity_to_env(GOOD), "MXM_APP": "../x", "MXM_MACHINE": "a" * 200}
    with pytest.raises(RuntimeIdentityError) as caught:
        identity_from_env(env)
    message = str(caught.value)
    assert "MXM_APP must not contain path separators" in message
    assert "MXM_MACHINE must be at most 128 characters" in message


_VALID = st.from_regex(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,40}", fullmatch=True).filter(
    lambda value: ".." not in value
)


@given(app=_VALID, environment=_VALID, machine=_VALID, substrate=_VALID, role=_VALID)
def test_round_trip_property(
    app: str, environment: str, machine: str, substrate: str, role: str
) -> None:
    identity = RuntimeIdentity(
        app=app, environment=environment, machine=machine, substrate=substrate, role=role
    )
    validate_runtime_identity_shape(identity)
    assert identity_from_env(identity_to_env(identity)) == identity
