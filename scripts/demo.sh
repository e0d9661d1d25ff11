#!/usr/bin/env bash
# The README's main job: build a RuntimeContext from the config store shipped
# in examples/ and print it. Machine and substrate are given explicitly so the
# result is the same on any host.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python examples/show_context.py "$@"
