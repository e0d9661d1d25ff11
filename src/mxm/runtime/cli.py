"""The ``mxm-runtime`` command: what would this process get, why, and what is wrong.

::

    mxm-runtime [GLOBAL OPTIONS] identity [--json]   the identity, with discovery evidence
    mxm-runtime [GLOBAL OPTIONS] show [--json]       the redacted runtime context
    mxm-runtime [GLOBAL OPTIONS] check [--json] [--create-paths]
                                                     every check; exit 1 if one fails
    mxm-runtime [GLOBAL OPTIONS] env [--json]        export MXM_...=... lines for a child

Global options ``--app --environment --role --machine --substrate
--store-root`` default from :class:`~mxm.runtime.RuntimeSettings` (``MXM_*``
variables, ``.env``); ``--debug`` logs at debug level to stderr and shows
tracebacks.

Exit codes: ``0`` success (for ``check``: nothing failed), ``1`` a check
failed or the runtime cannot be built, ``2`` usage errors (bad option, missing
or invalid identity value). Errors are one paragraph on stderr (and, with
``--json``, a ``mxm-runtime.error`` object on stdout), never a traceback
unless ``--debug`` is given. No secret value is ever read or printed.

typer and rich are imported here only; ``import mxm.runtime`` never imports
this module.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shlex
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from mxm.types import RuntimeIdentity
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mxm.runtime import discovery as _discovery
from mxm.runtime import identity as _identity_module
from mxm.runtime.container import RuntimeContainer
from mxm.runtime.diagnostics import (
    CheckStatus,
    RuntimeReport,
    check_runtime,
    identity_dict,
    inspect_layers,
)
from mxm.runtime.errors import MXMRuntimeError, RuntimeIdentityError, RuntimeSettingsError
from mxm.runtime.redaction import describe_context, redact_text
from mxm.runtime.settings import RuntimeSettings, identity_from_settings

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "app", "main"]

EXIT_OK = 0
"""Success; for ``check``: no check failed."""

EXIT_FAILED = 1
"""A check failed, or the runtime cannot be built."""

EXIT_USAGE = 2
"""Bad arguments: unknown option, missing or invalid identity value."""

ERROR_KIND = "mxm-runtime.error"
IDENTITY_KIND = "mxm-runtime.identity"
ENV_KIND = "mxm-runtime.env"
SCHEMA_VERSION = 1

_log = logging.getLogger("mxm.runtime.cli")

app = typer.Typer(
    name="mxm-runtime",
    help="Show, check and export the MXM runtime this process would build.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@dataclass(frozen=True, slots=True)
class _Options:
    app: str | None
    environment: str | None
    role: str | None
    machine: str | None
    substrate: str | None
    store_root: Path | None
    debug: bool


class _FailureError(Exception):
    """A one-paragraph error and its exit code."""

    def __init__(self, message: str, code: int, *, fix: str | None = None, error: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.fix = fix
        self.error = error


def _stdout() -> Console:
    # Wide output when not on a terminal (pipes, logs), so lines are not cut.
    tty = sys.stdout.isatty()
    return Console(width=None if tty else 1000, highlight=False)


def _stderr() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


@app.callback()
def _global(
    ctx: typer.Context,
    app_name: Annotated[
        str | None, typer.Option("--app", help="Application (default: MXM_APP).")
    ] = None,
    environment: Annotated[
        str | None, typer.Option("--environment", help="Environment (default: MXM_ENVIRONMENT).")
    ] = None,
    role: Annotated[str | None, typer.Option("--role", help="Role (default: MXM_ROLE).")] = None,
    machine: Annotated[
        str | None,
        typer.Option("--machine", help="Machine selector (default: MXM_MACHINE, else discovered)."),
    ] = None,
    substrate: Annotated[
        str | None,
        typer.Option("--substrate", help="Substrate (default: MXM_SUBSTRATE, else discovered)."),
    ] = None,
    store_root: Annotated[
        Path | None,
        typer.Option(
            "--store-root",
            help="Config store root (default: MXM_CONFIG_STORE_ROOT, else ~/mxm-config-store).",
        ),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Log at debug level to stderr; show tracebacks.")
    ] = False,
) -> None:
    """Show, check and export the MXM runtime this process would build."""
    if debug:
        logging.basicConfig(
            level=logging.DEBUG, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
        )
    ctx.obj = _Options(app_name, environment, role, machine, substrate, store_root, debug)


# -- shared steps ------------------------------------------------------------------


def _settings(options: _Options) -> RuntimeSettings:
    given: dict[str, Any] = {
        key: value
        for key, value in (
            ("app", options.app),
            ("environment", options.environment),
            ("role", options.role),
            ("machine", options.machine),
            ("substrate", options.substrate),
            ("config_store_root", options.store_root),
        )
        if value is not None
    }
    try:
        return RuntimeSettings(**given)
    except RuntimeSettingsError as exc:
        raise _FailureError(
            _sentence(exc.problem),
            EXIT_USAGE,
            fix=(
                "pass --app, --environment and --role (before the command), or export "
                "MXM_APP, MXM_ENVIRONMENT and MXM_ROLE, or put them in .env"
            ),
            error=type(exc).__name__,
        ) from exc


def _identity(settings: RuntimeSettings) -> RuntimeIdentity:
    try:
        return identity_from_settings(settings)
    except RuntimeIdentityError as exc:
        raise _FailureError(
            _sentence(exc.problem), EXIT_USAGE, fix=exc.hint, error=type(exc).__name__
        ) from exc


def _store_root(settings: RuntimeSettings) -> Path:
    return settings.config_store_root.expanduser()


def _options(ctx: typer.Context) -> _Options:
    options = ctx.obj
    assert isinstance(options, _Options)
    return options


def _run(ctx: typer.Context, as_json: bool, body: Callable[[_Options], int]) -> NoReturn:
    options = _options(ctx)
    try:
        code = body(options)
    except _FailureError as failure:
        _report_failure(failure, as_json=as_json, debug=options.debug)
        raise typer.Exit(failure.code) from None
    except MXMRuntimeError as exc:
        built = _FailureError(
            f"The runtime cannot be built: {exc.problem.rstrip('.')}"
            + (f" (key: {exc.key})" if exc.key else "")
            + (f" (file: {exc.file})" if exc.file else "")
            + ". Run 'mxm-runtime check' for a full diagnosis.",
            EXIT_FAILED,
            fix=exc.hint,
            error=type(exc).__name__,
        )
        _report_failure(built, as_json=as_json, debug=options.debug)
        raise typer.Exit(EXIT_FAILED) from None
    except Exception as exc:
        unexpected = _FailureError(
            _sentence(f"Unexpected {type(exc).__name__}: {redact_text(_first_line(exc))}"),
            EXIT_FAILED,
            fix="run again with --debug for the traceback, and report it",
            error=type(exc).__name__,
        )
        _report_failure(unexpected, as_json=as_json, debug=options.debug)
        raise typer.Exit(EXIT_FAILED) from None
    raise typer.Exit(code)


def _sentence(text: str) -> str:
    return text.rstrip().rstrip(".") + "."


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _report_failure(failure: _FailureError, *, as_json: bool, debug: bool) -> None:
    if debug:
        traceback.print_exc(file=sys.stderr)
    paragraph = f"mxm-runtime: error: {failure.message}"
    if failure.fix:
        paragraph += f" Fix: {failure.fix}"
    _stderr().print(Text(paragraph))
    if as_json:
        _print_json(
            {
                "kind": ERROR_KIND,
                "version": SCHEMA_VERSION,
                "error": failure.error or "error",
                "message": failure.message,
                "fix": failure.fix,
                "exit_code": failure.code,
            }
        )


def _print_json(data: Mapping[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON (docs/report-schema.json).")]


# -- identity ---------------------------------------------------------------------


def _evidence(function_name: str, **kwargs: Any) -> dict[str, Any] | None:
    """Call a discovery evidence function if this version of discovery has it."""
    function = getattr(_discovery, function_name, None)
    if function is None:
        return None
    try:
        evidence = function(**kwargs)
    except Exception:
        _log.debug("discovery evidence %s failed", function_name, exc_info=True)
        return None
    if dataclasses.is_dataclass(evidence) and not isinstance(evidence, type):
        described: dict[str, Any] = _plain(dataclasses.asdict(evidence))
        return described
    return {"value": str(evidence)}


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        items: Mapping[Any, Any] = value  # pyright: ignore[reportUnknownVariableType]
        return {str(k): _plain(v) for k, v in items.items()}
    if isinstance(value, list | tuple):
        elements: list[Any] | tuple[Any, ...] = value  # pyright: ignore[reportUnknownVariableType]
        return [_plain(v) for v in elements]
    return str(value)


def _sources(options: _Options, identity: RuntimeIdentity) -> dict[str, str]:
    sources: dict[str, str] = {}
    for name in ("app", "environment", "machine", "substrate", "role"):
        variable = f"MXM_{name.upper()}"
        if getattr(options, name) is not None:
            sources[name] = f"--{name}"
        elif os.environ.get(variable):
            sources[name] = variable
        elif name in ("machine", "substrate") and not _in_dotenv(variable):
            sources[name] = "discovered"
        else:
            sources[name] = f"{variable} in .env"
    del identity
    return sources


def _in_dotenv(variable: str) -> bool:
    path = Path(".env")
    try:
        lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    except (OSError, UnicodeDecodeError):
        return False
    for line in lines:
        stripped = line.strip().removeprefix("export ").strip()
        key, sep, value = stripped.partition("=")
        if sep and key.strip() == variable and value.strip().strip("'\""):
            return True
    return False


@app.command("identity")
def identity_command(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Print the identity this process would use, with the discovery evidence."""

    def body(options: _Options) -> int:
        settings = _settings(options)
        identity = _identity(settings)
        sources = _sources(options, identity)
        # Evidence is shown for both selectors, also when they were given, so
        # a claim can be compared with what this host looks like.
        discovery: dict[str, Any] = {
            "machine": _evidence("discover_machine_evidence"),
            "substrate": _evidence("discover_substrate_evidence"),
        }
        _log.debug("identity %s from %s", identity_dict(identity), sources)
        data = {
            "kind": IDENTITY_KIND,
            "version": SCHEMA_VERSION,
            "identity": identity_dict(identity),
            "sources": sources,
            "discovery": discovery,
            "store_root": str(_store_root(settings)),
        }
        if as_json:
            _print_json(data)
            return EXIT_OK
        out = _stdout()
        table = Table(title="Runtime identity", title_justify="left")
        table.add_column("field")
        table.add_column("value")
        table.add_column("source")
        for name, value in identity_dict(identity).items():
            table.add_row(name, Text(value), Text(sources[name]))
        out.print(table)
        out.print(Text(f"store root: {_store_root(settings)}"))
        for name, evidence in discovery.items():
            if evidence is None:
                out.print(Text(f"{name}: no discovery evidence available in this version"))
                continue
            used = "used" if sources[name] == "discovered" else f"not used: {sources[name]} given"
            lines = [f"{name} discovery evidence ({used}):"]
            for key, value in evidence.items():
                if value in (None, [], ""):
                    continue
                if isinstance(value, list):
                    lines.append(f"  {key}:")
                    lines.extend(f"    - {item}" for item in value)  # pyright: ignore[reportUnknownVariableType]
                else:
                    lines.append(f"  {key}: {value}")
            out.print(Text("\n".join(lines)))
        return EXIT_OK

    _run(ctx, as_json, body)


# -- show -------------------------------------------------------------------------


@app.command("show")
def show_command(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Print the redacted runtime context (identity, layers, paths, databases, secrets)."""

    def body(options: _Options) -> int:
        settings = _settings(options)
        identity = _identity(settings)
        store_root = _store_root(settings)
        container = RuntimeContainer.from_identity(identity, store_root=store_root)
        context = container.context()
        description = describe_context(
            context, store_root=store_root, layers=inspect_layers(identity, store_root)
        )
        _log.debug("context built for %s", identity_dict(identity))
        if as_json:
            _print_json(description)
        else:
            _print_description(description)
        return EXIT_OK

    _run(ctx, as_json, body)


def _print_description(data: Mapping[str, Any]) -> None:
    out = _stdout()
    out.print(_pairs("Identity", data["identity"]))
    out.print(Text(f"store root: {data['store_root']}"))
    layers = Table(title="Layers", title_justify="left")
    for column in ("layer", "file", "found", "selector", "used"):
        layers.add_column(column)
    layer_rows: list[dict[str, Any]] = data["layers"] or []
    for layer in layer_rows:
        layers.add_row(
            layer["layer"],
            Text(layer["file"]),
            _yes(layer["found"]),
            Text(layer["selector"] or "-"),
            _yes(layer["used"]),
        )
    out.print(layers)
    out.print(_pairs("Paths", data["paths"] or {}))
    databases = Table(title="Databases", title_justify="left")
    databases.add_column("name")
    databases.add_column("settings")
    database_rows: dict[str, Any] = data["databases"] or {}
    for name, view in database_rows.items():
        databases.add_row(Text(name), Text(_inline(view)))
    out.print(databases)
    secrets: dict[str, dict[str, dict[str, Any]]] = data["secrets"] or {
        "stores": {},
        "refs": {},
        "policies": {},
    }
    table = Table(title="Secrets (names only)", title_justify="left")
    table.add_column("secret")
    table.add_column("store")
    table.add_column("backend")
    table.add_column("policy")
    table.add_column("allowed principals")
    for name, ref in secrets["refs"].items():
        store = secrets["stores"].get(ref["store"], {})
        policy = secrets["policies"].get(ref["policy"], {})
        table.add_row(
            Text(name),
            Text(ref["store"]),
            Text(str(store.get("backend", "?"))),
            Text(ref["policy"]),
            Text(", ".join(policy.get("allowed_principals", []))),
        )
    out.print(table)
    out.print(_pairs("Runtime", dict(_flatten(data["runtime"] or {}))))
    config = Table(title="Configuration (secret-looking values masked)", title_justify="left")
    config.add_column("key")
    config.add_column("value")
    for key, value in _flatten(data["config"]):
        config.add_row(Text(key), Text(value))
    out.print(config)


def _inline(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items())  # pyright: ignore[reportUnknownVariableType]
    return str(value)


def _pairs(title: str, values: Mapping[str, Any]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("key")
    table.add_column("value")
    for key, value in values.items():
        table.add_row(Text(str(key)), Text(str(value)))
    return table


def _yes(value: object) -> Text:
    return Text("yes" if value else "no")


def _flatten(data: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(data, Mapping) and data:
        for key, value in data.items():  # pyright: ignore[reportUnknownVariableType]
            yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key))  # pyright: ignore[reportUnknownArgumentType]
    elif isinstance(data, list | tuple) and all(isinstance(i, str) for i in data):  # pyright: ignore[reportUnknownVariableType]
        yield prefix, ", ".join(data) if data else "-"  # pyright: ignore[reportUnknownArgumentType]
    else:
        yield prefix, json.dumps(data) if not isinstance(data, str) else data


# -- check ------------------------------------------------------------------------

_STYLE = {CheckStatus.OK: "green", CheckStatus.WARN: "yellow", CheckStatus.FAIL: "bold red"}


@app.command("check")
def check_command(
    ctx: typer.Context,
    as_json: JsonFlag = False,
    create_paths: Annotated[
        bool,
        typer.Option("--create-paths", help="Create missing runtime directories (mkdir -p)."),
    ] = False,
) -> None:
    """Run every check; exit 0 when nothing fails, 1 when a check fails."""

    def body(options: _Options) -> int:
        settings = _settings(options)
        identity = _identity(settings)
        container = RuntimeContainer.from_identity(identity, store_root=_store_root(settings))
        report = check_runtime(container, create_paths=create_paths)
        for check in report.checks:
            _log.debug("check %s: %s: %s", check.name, check.status.value, check.message)
        if as_json:
            _print_json(report.to_dict())
        else:
            _print_report(report)
        return EXIT_OK if report.ok else EXIT_FAILED

    _run(ctx, as_json, body)


def _print_report(report: RuntimeReport) -> None:
    out = _stdout()
    if report.identity is not None:
        label = " ".join(f"{k}={v}" for k, v in identity_dict(report.identity).items())
        out.print(Text(f"identity: {label}"))
    if report.store_root is not None:
        out.print(Text(f"store root: {report.store_root}"))
    table = Table(title="Runtime checks", title_justify="left")
    table.add_column("status")
    table.add_column("check")
    table.add_column("message")
    for check in report.checks:
        table.add_row(
            Text(check.status.value.upper(), style=_STYLE[check.status]),
            Text(check.name),
            Text(check.message),
        )
    out.print(table)
    for check in (*report.failures, *report.warnings):
        if check.fix:
            out.print(Text(f"{check.status.value.upper()} {check.name}: fix: {check.fix}"))
    failed = len(report.failures)
    warned = len(report.warnings)
    verdict = "OK" if report.ok else "FAILED"
    out.print(
        Text(
            f"{verdict}: {len(report.checks)} checks, {failed} failed, {warned} warnings",
            style="bold green" if report.ok else "bold red",
        )
    )


# -- env --------------------------------------------------------------------------


def _identity_env(identity: RuntimeIdentity, store_root: Path) -> dict[str, str]:
    to_env = getattr(_identity_module, "identity_to_env", None)
    if to_env is not None:
        variables: dict[str, str] = to_env(identity, store_root=store_root)
        return variables
    # Fallback for a core without identity_to_env: the same documented mapping.
    env = {f"MXM_{name.upper()}": value for name, value in identity_dict(identity).items()}
    env["MXM_CONFIG_STORE_ROOT"] = str(store_root)
    return env


@app.command("env")
def env_command(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Print 'export MXM_...=...' lines that hand this identity to a child process."""

    def body(options: _Options) -> int:
        settings = _settings(options)
        identity = _identity(settings)
        variables = _identity_env(identity, _store_root(settings))
        if as_json:
            _print_json({"kind": ENV_KIND, "version": SCHEMA_VERSION, "variables": variables})
        else:
            for name, value in variables.items():
                sys.stdout.write(f"export {name}={shlex.quote(value)}\n")
        return EXIT_OK

    _run(ctx, as_json, body)


def main(argv: list[str] | None = None) -> int:
    """Run the ``mxm-runtime`` command.

    Parameters
    ----------
    argv:
        Arguments without the program name (``sys.argv[1:]`` when omitted).

    Returns
    -------
    int
        The exit code: 0 success, 1 a check failed or the runtime cannot be
        built, 2 usage error. Raises nothing (``SystemExit`` only when called
        as the console script, through ``sys.exit``).
    """
    try:
        app(args=argv, prog_name="mxm-runtime", standalone_mode=True)
    except SystemExit as exit_:
        code = exit_.code
        if code is None:
            return EXIT_OK
        return code if isinstance(code, int) else EXIT_FAILED
    return EXIT_OK


def _console_script() -> NoReturn:
    sys.exit(main())


if __name__ == "__main__":
    _console_script()
