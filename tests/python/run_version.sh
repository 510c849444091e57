#!/usr/bin/env bash
# Installs polyprof into a venv of one CPython and runs the pytest suite on it.
#   tests/python/run_version.sh PYTHON VENV [full|versioned]
# full: every test; versioned: only the tests that depend on the CPython
# version (not those marked version_independent). Exits non-zero when the
# install fails or pytest fails or runs no test.
set -euo pipefail
py=${1:?usage: run_version.sh PYTHON VENV [full|versioned]}
venv=${2:?usage: run_version.sh PYTHON VENV [full|versioned]}
scope=${3:-full}
cd "$(dirname "$0")/../.."
root=$(pwd)

"$py" -c 'import sys; print("CPython", sys.version.split()[0], "at", sys.executable)'
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
# POLYPROF_WERROR=1: compiler warnings fail the build.
# toolz: a third-party suite (its tests ship in the package) that
# test_real_programs.py runs under `polyprof record`; pinned, pure Python.
POLYPROF_WERROR=1 "$venv/bin/python" -m pip install -q "$root" pytest toolz==1.0.0

select=()
[ "$scope" = full ] || select=(-m "not version_independent")
# From tests/python, so the installed package, not the source tree, is imported.
# pytest's exit code 5 (no test ran) fails like any other. pytest's cache (for
# --last-failed) lives in the venv, not in the tree.
cd tests/python
cache="$venv/pytest-cache"
rm -rf "$cache"
pytest_run() { PATH="$venv/bin:$PATH" "$venv/bin/python" -m pytest -q -o cache_dir="$cache" "${select[@]}" "$@"; }
rc=0
pytest_run || rc=$?
[ "$rc" = 1 ] || exit "$rc"
# Profiles are statistical and this machine is shared: a test that failed runs
# once more, alone with the other failures; it fails the suite only if it fails
# again. Each second chance is written to $POLYPROF_RERUN_LOG for the summary.
failed=$("$venv/bin/python" -c 'import json,sys; print(" ".join(sorted(json.load(open(sys.argv[1])))))' \
    "$cache/v/cache/lastfailed")
echo "== second run of the tests that failed: $failed"
rc=0
pytest_run --last-failed --last-failed-no-failures none || rc=$?
if [ "$rc" = 0 ] && [ -n "${POLYPROF_RERUN_LOG:-}" ]; then
    for t in $failed; do echo "Python $("$venv/bin/python" -c 'import sys; print(sys.version.split()[0])'): $t" >>"$POLYPROF_RERUN_LOG"; done
fi
exit "$rc"
