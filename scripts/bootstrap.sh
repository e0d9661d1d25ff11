#!/usr/bin/env bash
# Create .venv with Python >= 3.13 and install mxm-runtime with every extra and
# the development tools. With --system-deps, also install the system parts the
# integration tests use (gopass, gnupg) when they are missing and we are root.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
    local candidate
    for candidate in python python3.13 python3 "$(pyenv root 2>/dev/null)/versions/3.13"*/bin/python; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 13) else 1)' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    for candidate in /root/.pyenv/versions/3.13*/bin/python "$HOME"/.pyenv/versions/3.13*/bin/python; do
        if [ -x "$candidate" ]; then
            echo "$candidate"
            return 0
        fi
    done
    echo "bootstrap: no Python >= 3.13 found (install one, e.g. 'pyenv install 3.13')" >&2
    return 1
}

if [ "${1:-}" = "--system-deps" ]; then
    if ! command -v gopass >/dev/null 2>&1 || ! command -v gpg >/dev/null 2>&1; then
        if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
            echo "bootstrap: installing gopass and gnupg with apt-get" >&2
            apt-get update -qq >/dev/null
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gopass gnupg git >/dev/null
        else
            echo "bootstrap: gopass/gpg missing and cannot apt-get; secrets integration tests will skip" >&2
        fi
    fi
fi

stamp=.venv/.mxm-installed
if [ ! -x .venv/bin/python ] || [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    py=$(find_python)
    echo "bootstrap: creating .venv with $py" >&2
    [ -x .venv/bin/python ] || "$py" -m venv .venv
    .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install -q --disable-pip-version-check \
        --config-settings editable_mode=compat -e '.[fastapi,sqlalchemy,dev]'
    touch "$stamp"
fi
