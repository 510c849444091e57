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
# pytest's exit code 5 (no test ran) fails like any other.
cd tests/python
PATH="$venv/bin:$PATH" exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "${select[@]}"
