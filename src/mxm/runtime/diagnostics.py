"""Fail-soft diagnosis of a runtime: ``check_runtime`` and ``RuntimeReport``.

When a process cannot build its runtime, :func:`check_runtime` tells an
operator what it would get, why, and what is wrong. It resolves each piece
of a :class:`~mxm.runtime.container.RuntimeContainer` in turn, records one
:class:`Check` per concern and never stops at the first failure:

==============================  ==============================================
check name                      concern
==============================  ==============================================
``identity``                    the identity resolves and is valid
``store.root``                  the configuration store root is a directory
``store.app_dir``               ``<store>/apps/<app>/`` is a directory
``layers.<layer>``              each layer file: found? selector present?
``config.load``                 mxm-config loads, merges and resolves the tree
``config.<section>``            ``mxm_secrets``, ``mxm_databases``, ``mxm_paths``
                                materialise
``secrets.store.<name>``        each secret store uses a supported backend
``secrets.ref.<name>``          each secret reference names a configured store
                                and policy
``secrets.backend``             ``SecretsApi.check_ready()`` (gopass usable)
``secrets.principal``           the role can act as a secrets principal
``paths.<key>``                 each runtime path exists, is a directory and is
                                writable
``databases.<name>``            each database view has its required keys and a
                                ``password_ref`` naming a configured secret
``runtime.metadata``            runtime metadata
``context``                     the whole context assembles (only when nothing
                                else failed)
==============================  ==============================================

A check's status is ``ok``, ``warn`` or ``fail``; a failed check carries the
fix. :meth:`RuntimeReport.to_dict` gives the stable JSON form documented in
``docs/report-schema.json`` (``kind: "mxm-runtime.report"``, ``version: 1``).
No secret value is ever read: secrets are checked by name only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml
from mxm.config import to_config_data

from mxm.runtime.errors import MXMRuntimeError
from mxm.runtime.materialise import PATH_KEYS
from mxm.runtime.store import LAYER_NAMES, app_root

if TYPE_CHECKING:
    from mxm.config import MXMConfig
    from mxm.secrets import SecretsApi
    from mxm.types import RuntimeIdentity

    from mxm.runtime.container import RuntimeContainer

__all__ = [
    "PRINCIPAL_PATTERN",
    "REPORT_KIND",
    "REPORT_VERSION",
    "SUPPORTED_SECRET_BACKENDS",
    "Check",
    "CheckStatus",
    "LayerInfo",
    "RuntimeReport",
    "check_runtime",
    "inspect_layers",
]

REPORT_KIND = "mxm-runtime.report"
"""Value of ``kind`` in a serialised report."""

REPORT_VERSION = 1
"""Version of the serialised report schema (``docs/report-schema.json``)."""

PRINCIPAL_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
"""What mxm-secrets accepts as a principal name (the identity's role)."""

SUPPORTED_SECRET_BACKENDS: frozenset[str] = frozenset({"gopass"})
"""Secret backends mxm-secrets can read from."""

DATABASE_REQUIRED_KEYS: tuple[str, ...] = ("driver", "name")
"""Keys every ``mxm_databases`` entry needs."""

NETWORK_DATABASE_KEYS: tuple[str, ...] = ("host", "port", "user")
"""Further keys a server database (any driver but SQLite) needs."""

_FILE_DATABASE_DRIVERS = frozenset({"sqlite", "sqlite3"})
_SECTIONS: tuple[str, ...] = ("mxm_secrets", "mxm_databases", "mxm_paths")

T = TypeVar("T")


class CheckStatus(StrEnum):
    """Outcome of one check."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Check:
    """One diagnosed concern.

    Attributes
    ----------
    name:
        Stable dotted name, e.g. ``"paths.data_root"`` (see the module table).
    status:
        ``ok``, ``warn`` or ``fail``.
    message:
        What was found, in one sentence.
    fix:
        What to change, for ``fail`` (and some ``warn``) checks.
    details:
        JSON-safe facts behind the message (file, key, selector...). Never a
        secret value.
    """

    name: str
    status: CheckStatus
    message: str
    fix: str | None = None
    details: dict[str, Any] = field(default_factory=dict[str, Any])

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of the check (see ``docs/report-schema.json``)."""
        return {
            "name": self.name,
            "status": self.status.value,
            "message": self.message,
            "fix": self.fix,
            "details": _json_safe(self.details),
        }


@dataclass(frozen=True, slots=True)
class RuntimeReport:
    """Every check of a runtime, in order.

    Attributes
    ----------
    checks:
        The checks, in the order they ran.
    identity:
        The identity diagnosed, when it could be resolved.
    store_root:
        The configuration store root, when it could be resolved.
    """

    checks: tuple[Check, ...]
    identity: RuntimeIdentity | None = None
    store_root: Path | None = None

    @property
    def ok(self) -> bool:
        """True when no check failed (warnings allowed)."""
        return all(check.status is not CheckStatus.FAIL for check in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        """The failed checks."""
        return tuple(c for c in self.checks if c.status is CheckStatus.FAIL)

    @property
    def warnings(self) -> tuple[Check, ...]:
        """The checks that passed with a warning."""
        return tuple(c for c in self.checks if c.status is CheckStatus.WARN)

    def get(self, name: str) -> Check | None:
        """Return the check called ``name``, or ``None`` when it did not run."""
        return next((c for c in self.checks if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-safe data.

        The shape is stable and documented by ``docs/report-schema.json``
        (``$defs/report``): ``kind``, ``version``, ``ok``, ``identity``,
        ``store_root``, ``summary`` (counts per status) and ``checks``.
        """
        counts = {status.value: 0 for status in CheckStatus}
        for check in self.checks:
            counts[check.status.value] += 1
        return {
            "kind": REPORT_KIND,
            "version": REPORT_VERSION,
            "ok": self.ok,
            "identity": identity_dict(self.identity) if self.identity is not None else None,
            "store_root": str(self.store_root) if self.store_root is not None else None,
            "summary": counts,
            "checks": [check.to_dict() for check in self.checks],
        }


def identity_dict(identity: RuntimeIdentity) -> dict[str, str]:
    """Return the five identity fields as a plain mapping."""
    return {
        "app": identity.app,
        "environment": identity.environment,
        "machine": identity.machine,
        "substrate": identity.substrate,
        "role": identity.role,
    }


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        items: Mapping[Any, Any] = value  # pyright: ignore[reportUnknownVariableType]
        return {str(k): _json_safe(v) for k, v in items.items()}
    if isinstance(value, list | tuple | set | frozenset):
        elements: Any = value  # pyright: ignore[reportUnknownVariableType]
        return [_json_safe(v) for v in elements]
    return str(value)


# -- layers ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LayerInfo:
    """What one layer file of an app contributes for an identity.

    Attributes
    ----------
    layer:
        ``default``, ``environment``, ``machine``, ``substrate`` or ``role``.
    file:
        ``<store>/apps/<app>/<layer>.yaml``.
    found:
        Whether the file exists.
    selector:
        The identity value that selects a block (``None`` for ``default``).
    used:
        Whether the layer takes part in the merge.
    problem:
        Why the layer cannot be used, or ``None``.
    fix:
        What to change, when there is a problem.
    selectors:
        The top-level keys of the file (the selectors it offers).
    """

    layer: str
    file: Path
    found: bool
    selector: str | None
    used: bool
    problem: str | None = None
    fix: str | None = None
    selectors: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (``$defs/layer`` in ``docs/report-schema.json``)."""
        return {
            "layer": self.layer,
            "file": str(self.file),
            "found": self.found,
            "selector": self.selector,
            "used": self.used,
            "problem": self.problem,
        }


def inspect_layers(identity: RuntimeIdentity, store_root: Path) -> tuple[LayerInfo, ...]:
    """Report, per layer file, whether it exists and selects a block for ``identity``.

    Reads the files independently of mxm-config (which stops at the first
    problem), so every layer is described even when one is broken.

    Parameters
    ----------
    identity:
        The identity whose selectors are looked up.
    store_root:
        The configuration store root.

    Returns
    -------
    tuple[LayerInfo, ...]
        One entry per layer, in merge order. Raises nothing: unreadable or
        malformed files are described by ``problem``.
    """
    directory = app_root(store_root, identity.app)
    infos: list[LayerInfo] = []
    for layer in LAYER_NAMES:
        path = directory / f"{layer}.yaml"
        selector = None if layer == "default" else str(getattr(identity, layer))
        infos.append(_inspect_layer(layer, path, selector))
    return tuple(infos)


def _inspect_layer(layer: str, path: Path, selector: str | None) -> LayerInfo:
    def unusable(problem: str, fix: str, selectors: tuple[str, ...] = ()) -> LayerInfo:
        return LayerInfo(
            layer,
            path,
            found=True,
            selector=selector,
            used=False,
            problem=problem,
            fix=fix,
            selectors=selectors,
        )

    if not path.is_file():
        if selector is None:
            return LayerInfo(
                layer,
                path,
                found=False,
                selector=None,
                used=False,
                problem=f"required file {path.name} not found",
                fix=f"create {path} with the mxm_secrets, mxm_databases and mxm_paths sections",
            )
        return LayerInfo(layer, path, found=False, selector=selector, used=False)
    try:
        text = path.read_text(encoding="utf-8")
        data: object = yaml.safe_load(text)
    except OSError as exc:
        return unusable(
            f"cannot be read ({exc.strerror or type(exc).__name__})",
            "make the store files readable by this process",
        )
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return unusable(f"is not valid YAML{where}", f"fix the YAML syntax of {path}{where}")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return unusable(
            f"top level is a {type(data).__name__}, not a mapping",
            f"make the top level of {path} a YAML mapping",
        )
    keys = tuple(str(k) for k in data)  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    if selector is None:
        return LayerInfo(layer, path, found=True, selector=None, used=True, selectors=keys)
    if selector not in keys:
        offered = ", ".join(keys) if keys else "none"
        return unusable(
            f"has no block for {layer} {selector!r} (it has: {offered})",
            f"add a top-level '{selector}:' block to {path}, or use one of the "
            f"{layer} values it has ({offered})",
            keys,
        )
    block: object = data[selector]  # pyright: ignore[reportUnknownVariableType]
    if block is not None and not isinstance(block, dict):
        return unusable(
            f"block {selector!r} is a {_type_name(block)}, not a mapping",  # pyright: ignore[reportUnknownArgumentType]
            f"make '{selector}:' in {path} a mapping (use {{}} for an empty block)",
            keys,
        )
    return LayerInfo(layer, path, found=True, selector=selector, used=True, selectors=keys)


def _type_name(value: object) -> str:
    return type(value).__name__


# -- check_runtime -----------------------------------------------------------------


class _Recorder:
    """Collects checks; turns build errors into failed checks."""

    def __init__(self) -> None:
        self.checks: list[Check] = []

    def add(
        self,
        name: str,
        status: CheckStatus,
        message: str,
        fix: str | None = None,
        /,
        **details: Any,
    ) -> None:
        self.checks.append(Check(name, status, message, fix, dict(details)))

    def build(self, name: str, builder: Callable[[], T], ok_message: str) -> T | None:
        """Run ``builder``; record ok, or a failure explaining the error."""
        try:
            value = builder()
        except MXMRuntimeError as exc:
            self.add(
                name,
                CheckStatus.FAIL,
                exc.problem,
                exc.hint or "see the message",
                error=type(exc).__name__,
                file=str(exc.file) if exc.file is not None else None,
                key=exc.key,
            )
            return None
        except Exception as exc:  # a dependency's undocumented error: still report it
            self.add(
                name,
                CheckStatus.FAIL,
                f"unexpected {type(exc).__name__} while building: {_first_line(exc)}",
                "run with --debug for the traceback and report it",
                error=type(exc).__name__,
            )
            return None
        self.add(name, CheckStatus.OK, ok_message)
        return value


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def check_runtime(container: RuntimeContainer, *, create_paths: bool = False) -> RuntimeReport:
    """Diagnose every piece of ``container`` without stopping at the first failure.

    Parameters
    ----------
    container:
        The container to diagnose. Pieces are resolved through its providers
        (so overrides apply); pieces that build are cached as usual.
    create_paths:
        Create missing runtime directories (``mkdir -p``) instead of failing
        their ``paths.<key>`` checks.

    Returns
    -------
    RuntimeReport
        One :class:`Check` per concern (see the module table). Checks that
        depend on a failed piece (e.g. layers when the identity is invalid)
        are not run; the failed piece's check says why.

    Notes
    -----
    Raises nothing for a broken runtime: every build error becomes a failed
    check carrying the error's problem and hint. Secret values are never
    read; ``secrets.backend`` runs ``SecretsApi.check_ready()`` (``gopass ls``).
    """
    rec = _Recorder()
    identity = rec.build("identity", container.identity, "")
    if identity is not None:
        rec.checks[-1] = Check(
            "identity",
            CheckStatus.OK,
            "identity is valid",
            details=identity_dict(identity),
        )
    store_root: Path | None = None
    try:
        store_root = container.store_root()
    except Exception as exc:
        rec.add(
            "store.root",
            CheckStatus.FAIL,
            f"store root cannot be determined: {_first_line(exc)}",
            "set MXM_CONFIG_STORE_ROOT or pass --store-root",
        )
    if store_root is not None:
        if store_root.is_dir():
            rec.add(
                "store.root", CheckStatus.OK, f"store root {store_root} exists", path=store_root
            )
        else:
            rec.add(
                "store.root",
                CheckStatus.FAIL,
                f"store root {store_root} is not a directory",
                "create the store, or point MXM_CONFIG_STORE_ROOT / --store-root at an "
                "existing one",
                path=store_root,
            )
    if identity is None or store_root is None:
        return RuntimeReport(tuple(rec.checks), identity, store_root)

    _check_store(rec, identity, store_root)
    config = rec.build("config.load", container.config, "configuration loaded and resolved")
    if config is not None:
        _check_sections(rec, container, config, identity, create_paths=create_paths)
    metadata = rec.build("runtime.metadata", container.runtime, "")
    if metadata is not None:
        rec.checks[-1] = Check(
            "runtime.metadata",
            CheckStatus.OK,
            f"substrate {metadata.substrate} (container: {str(metadata.is_container).lower()})",
            details={"substrate": metadata.substrate, "is_container": metadata.is_container},
        )
    if all(c.status is not CheckStatus.FAIL for c in rec.checks):
        rec.build("context", container.context, "runtime context assembled")
    return RuntimeReport(tuple(rec.checks), identity, store_root)


def _check_store(rec: _Recorder, identity: RuntimeIdentity, store_root: Path) -> None:
    app_dir = app_root(store_root, identity.app)
    if not app_dir.is_dir():
        rec.add(
            "store.app_dir",
            CheckStatus.FAIL,
            f"application directory {app_dir}/ not found",
            f"create {app_dir}/default.yaml, or check the app name {identity.app!r}",
            path=app_dir,
        )
        return
    rec.add(
        "store.app_dir", CheckStatus.OK, f"application directory {app_dir}/ exists", path=app_dir
    )
    for info in inspect_layers(identity, store_root):
        name = f"layers.{info.layer}"
        details = {
            "file": info.file,
            "found": info.found,
            "selector": info.selector,
            "used": info.used,
        }
        if info.problem is not None:
            rec.add(name, CheckStatus.FAIL, f"{info.file.name} {info.problem}", info.fix, **details)
        elif not info.found:
            rec.add(
                name, CheckStatus.OK, f"{info.file.name} not present (optional; skipped)", **details
            )
        elif info.selector is None:
            rec.add(name, CheckStatus.OK, f"{info.file.name} found", **details)
        else:
            rec.add(
                name,
                CheckStatus.OK,
                f"{info.file.name} found; block {info.selector!r} selected",
                **details,
            )


def _check_sections(
    rec: _Recorder,
    container: RuntimeContainer,
    config: MXMConfig,
    identity: RuntimeIdentity,
    *,
    create_paths: bool,
) -> None:
    secrets = rec.build("config.mxm_secrets", container.secrets, "mxm_secrets builds a SecretsApi")
    rec.build("config.mxm_databases", container.db_configs, "mxm_databases builds the views")
    paths = rec.build("config.mxm_paths", container.paths, "mxm_paths has the four paths")
    if secrets is not None:
        _check_secrets(rec, secrets, identity)
    if paths is not None:
        for key in PATH_KEYS:
            _check_path(rec, key, getattr(paths, key), create=create_paths)
    # Each database entry is checked on the raw section, so every entry is
    # diagnosed even when the views cannot be built.
    try:
        section = to_config_data(config).get("mxm_databases")
    except Exception:
        section = None
    if isinstance(section, Mapping):
        _check_databases(rec, section, secrets)  # pyright: ignore[reportUnknownArgumentType]


def _check_secrets(rec: _Recorder, secrets: SecretsApi, identity: RuntimeIdentity) -> None:
    stores = secrets.secret_store_registry
    policies = secrets.secret_policy_registry
    refs = secrets.secret_ref_registry
    for name in stores.names():
        store = stores.get(name)
        if store.backend in SUPPORTED_SECRET_BACKENDS:
            rec.add(
                f"secrets.store.{name}",
                CheckStatus.OK,
                f"store {name!r} uses backend {store.backend}",
                backend=store.backend,
            )
        else:
            supported = ", ".join(sorted(SUPPORTED_SECRET_BACKENDS))
            rec.add(
                f"secrets.store.{name}",
                CheckStatus.FAIL,
                f"store {name!r} uses unsupported backend {store.backend!r}",
                f"set mxm_secrets.stores.{name}.backend to one of: {supported}",
                backend=store.backend,
            )
    principal_ok = bool(PRINCIPAL_PATTERN.fullmatch(identity.role))
    for name in refs.names():
        ref = refs.get(name)
        problems: list[str] = []
        fixes: list[str] = []
        if not stores.contains(ref.store):
            known = ", ".join(stores.names()) or "none"
            problems.append(f"names unknown secret store {ref.store!r} (configured: {known})")
            fixes.append(
                f"add store {ref.store!r} under mxm_secrets.stores, or set "
                f"mxm_secrets.refs.{name}.store to one of: {known}"
            )
        allowed: bool | None = None
        if not policies.contains(ref.policy):
            known = ", ".join(policies.names()) or "none"
            problems.append(f"names unknown policy {ref.policy!r} (configured: {known})")
            fixes.append(
                f"add policy {ref.policy!r} under mxm_secrets.policies, or set "
                f"mxm_secrets.refs.{name}.policy to one of: {known}"
            )
        else:
            allowed = identity.role in policies.get(ref.policy).allowed_principals
        details = {"store": ref.store, "policy": ref.policy, "role_allowed": allowed}
        if problems:
            rec.add(
                f"secrets.ref.{name}",
                CheckStatus.FAIL,
                f"secret {name!r} " + "; ".join(problems),
                "; ".join(fixes),
                **details,
            )
        else:
            access = "may" if allowed and principal_ok else "may not"
            rec.add(
                f"secrets.ref.{name}",
                CheckStatus.OK,
                f"secret {name!r} in store {ref.store!r}, policy {ref.policy!r} "
                f"(role {identity.role!r} {access} read it)",
                **details,
            )
    if not refs.names():
        rec.add("secrets.backend", CheckStatus.OK, "no secrets configured; backend not needed")
    else:
        try:
            ready = secrets.check_ready()
        except Exception as exc:
            rec.add(
                "secrets.backend",
                CheckStatus.FAIL,
                f"secrets backend check raised {type(exc).__name__}",
                "install gopass and initialise its store (gopass setup / gopass init)",
            )
        else:
            if ready:
                rec.add(
                    "secrets.backend", CheckStatus.OK, "gopass is installed and its store answers"
                )
            else:
                rec.add(
                    "secrets.backend",
                    CheckStatus.FAIL,
                    "gopass is not installed or its store cannot be listed (gopass ls failed)",
                    "install gopass (apt-get install gopass) and initialise the store for this "
                    "user (gopass setup, or gopass init <gpg-key>)",
                )
    if principal_ok:
        rec.add(
            "secrets.principal",
            CheckStatus.OK,
            f"role {identity.role!r} is a valid secrets principal",
        )
    else:
        rec.add(
            "secrets.principal",
            CheckStatus.WARN,
            f"role {identity.role!r} cannot be a secrets principal "
            "(mxm-secrets requires ^[a-z][a-z0-9_]*$); get_secret will raise ValueError",
            "use a role of lowercase letters, digits and '_' starting with a letter, "
            "e.g. 'research'",
        )


def _check_path(rec: _Recorder, key: str, path: Path, *, create: bool) -> None:
    name = f"paths.{key}"
    created = False
    if not path.exists() and not path.is_symlink() and create:
        try:
            path.mkdir(parents=True, exist_ok=True)
            created = True
        except OSError as exc:
            rec.add(
                name,
                CheckStatus.FAIL,
                f"{path} could not be created ({exc.strerror or type(exc).__name__})",
                f"create {path} by hand, or set mxm_paths.{key} to a location this user can write",
                path=path,
                exists=False,
                created=False,
            )
            return
    if not path.exists():
        rec.add(
            name,
            CheckStatus.FAIL,
            f"{path} does not exist",
            f"create it (mkdir -p {path}), or run 'mxm-runtime check --create-paths'",
            path=path,
            exists=False,
        )
    elif not path.is_dir():
        rec.add(
            name,
            CheckStatus.FAIL,
            f"{path} exists but is not a directory",
            f"remove or move {path}, or point mxm_paths.{key} at a directory",
            path=path,
            exists=True,
            is_dir=False,
        )
    elif not os.access(path, os.W_OK | os.X_OK):
        rec.add(
            name,
            CheckStatus.FAIL,
            f"{path} is not writable by this user",
            f"grant write access (chmod u+w {path}) or point mxm_paths.{key} elsewhere",
            path=path,
            exists=True,
            is_dir=True,
            writable=False,
        )
    else:
        verb = "created" if created else "exists"
        rec.add(
            name,
            CheckStatus.OK,
            f"{path} {verb}, is a writable directory",
            path=path,
            exists=True,
            is_dir=True,
            writable=True,
            created=created,
        )


def _check_databases(rec: _Recorder, data: Mapping[str, Any], secrets: SecretsApi | None) -> None:
    if not data:
        rec.add(
            "databases",
            CheckStatus.WARN,
            "mxm_databases declares no database",
            "add an entry under mxm_databases if the application uses a database",
        )
        return
    for name, entry in data.items():
        check = f"databases.{name}"
        if not isinstance(entry, Mapping):
            rec.add(
                check,
                CheckStatus.FAIL,
                f"database {name!r} is a {type(entry).__name__}, not a mapping",
                f"make mxm_databases.{name} a mapping with driver, host, port, name, user "
                "and password_ref",
            )
            continue
        view: Mapping[str, Any] = entry  # pyright: ignore[reportUnknownVariableType]
        driver = view.get("driver")
        required = list(DATABASE_REQUIRED_KEYS)
        if str(driver).lower() not in _FILE_DATABASE_DRIVERS:
            required += NETWORK_DATABASE_KEYS
        missing = [key for key in required if view.get(key) is None]
        problems: list[str] = []
        fixes: list[str] = []
        if missing:
            problems.append("missing " + ", ".join(missing))
            fixes.append(f"add {', '.join(missing)} under mxm_databases.{name}")
        password_ref = view.get("password_ref")
        status = CheckStatus.OK
        if password_ref is None:
            if str(driver).lower() not in _FILE_DATABASE_DRIVERS:
                status = CheckStatus.WARN
                fixes.append(
                    f"add password_ref naming a secret in mxm_secrets.refs under "
                    f"mxm_databases.{name}, if the server needs a password"
                )
        elif not isinstance(password_ref, str):
            problems.append(f"password_ref is a {type(password_ref).__name__}, not a name")
            fixes.append(f"set mxm_databases.{name}.password_ref to a secret name")
        elif secrets is not None and not secrets.secret_ref_registry.contains(password_ref):
            known = ", ".join(secrets.secret_ref_registry.names()) or "none"
            problems.append(f"password_ref {password_ref!r} is not a configured secret")
            fixes.append(
                f"add {password_ref!r} under mxm_secrets.refs, or set "
                f"mxm_databases.{name}.password_ref to one of: {known}"
            )
        details = {
            "driver": driver if isinstance(driver, str) else None,
            "missing": missing,
            "password_ref": password_ref if isinstance(password_ref, str) else None,
        }
        if problems:
            rec.add(
                check,
                CheckStatus.FAIL,
                f"database {name!r}: " + "; ".join(problems),
                "; ".join(fixes),
                **details,
            )
        elif status is CheckStatus.WARN:
            rec.add(
                check,
                CheckStatus.WARN,
                f"database {name!r} has no password_ref",
                "; ".join(fixes),
                **details,
            )
        else:
            secret = f", password from secret {password_ref!r}" if password_ref else ""
            rec.add(check, CheckStatus.OK, f"database {name!r} ({driver}){secret}", **details)
