#!/usr/bin/env bash
# The README's main job: show the runtime that the config store shipped in
# examples/ gives mxm-moneymachine (dev, research), then check it.
#
# Machine and substrate are given explicitly, so the output is the same on any
# host. `mxm-runtime check` exits 1 when a check fails; on a fresh machine it
# does (the example's data directories under ~/mxm-data do not exist, and
# gopass may be missing), and that is part of the demonstration: the demo
# prints the report with its fixes and succeeds. Any other exit code (2: usage
# error, or a crash) fails the demo. Nothing is created on disk.
set -euo pipefail
cd "$(dirname "$0")/.."

mxm_runtime=.venv/bin/mxm-runtime
[ -x "$mxm_runtime" ] || mxm_runtime=mxm-runtime
args=(
    --app mxm-moneymachine --environment dev --role research
    --machine bridge --substrate local-process
    --store-root examples/config-store
)

echo "\$ mxm-runtime ${args[*]} show"
"$mxm_runtime" "${args[@]}" show "$@"

echo
echo "\$ mxm-runtime ${args[*]} check"
status=0
"$mxm_runtime" "${args[@]}" check || status=$?
case "$status" in
    0) echo "demo: every check passed." ;;
    1) echo "demo: 'check' exited 1: the failed checks above are expected on a machine that" \
            "has not run this application yet; each shows its fix" \
            "('check --create-paths' creates the directories)." ;;
    *) echo "demo: mxm-runtime check failed with exit code $status" >&2
       exit "$status" ;;
esac
