"""``import mxm.runtime`` stays light: no optional integration is imported.

Each check runs in a fresh interpreter, so modules imported by other tests
cannot hide (or fake) an import.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE_STORE = Path(__file__).resolve().parent.parent / "examples" / "config-store"
OPTIONAL = ("fastapi", "starlette", "typer", "rich", "sqlalchemy", "uvicorn")


def _imported_after(code: str) -> dict[str, bool]:
    probe = (
        "import json, sys\n"
        f"{code}\n"
        f"print(json.dumps({{name: name in sys.modules for name in {OPTIONAL!r}}}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    loaded: dict[str, bool] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def test_optional_integrations_are_installed_here() -> None:
    # Otherwise the checks below would pass vacuously.
    loaded = _imported_after("import fastapi, starlette, typer, rich, sqlalchemy, uvicorn")
    assert all(loaded.values()), loaded


@pytest.mark.parametrize(
    "code",
    [
        "import mxm.runtime",
        "import mxm.runtime.container",
        "from mxm.runtime import RuntimeContainer, build_runtime_context",
    ],
)
def test_import_does_not_load_optional_integrations(code: str) -> None:
    loaded = _imported_after(code)
    assert [name for name, present in loaded.items() if present] == []


def test_building_a_context_does_not_load_optional_integrations() -> None:
    code = (
        "from pathlib import Path\n"
        "from mxm.runtime import RuntimeIdentity, build_runtime_context\n"
        "identity = RuntimeIdentity(app='mxm-moneymachine', environment='dev',"
        " machine='bridge', substrate='local-process', role='research')\n"
        f"build_runtime_context(identity=identity, store_root=Path({str(EXAMPLE_STORE)!r}))"
    )
    loaded = _imported_after(code)
    assert [name for name, present in loaded.items() if present] == []


def test_wiring_still_recognises_fastapi_markers_after_a_light_import() -> None:
    # The light import replaces dependency-injector's FastAPI marker extractor
    # with one that looks FastAPI up lazily; Depends(Provide[...]) must still
    # be unwrapped to the Provide marker once FastAPI is imported.
    code = (
        "import mxm.runtime\n"
        "import fastapi\n"
        "from dependency_injector import wiring\n"
        "marker = wiring.Provide['context']\n"
        "found = [f(fastapi.Depends(marker)) for f in wiring.MARKER_EXTRACTORS]\n"
        "assert any(item is marker for item in found), found\n"
        "from starlette.requests import Request\n"
        "class Sub(Request): pass\n"
        "assert any(f(Sub) for f in wiring.INSPECT_EXCLUSION_FILTERS)\n"
        "assert not any(f(int) for f in wiring.INSPECT_EXCLUSION_FILTERS[1:])"
    )
    _imported_after(code)
