#!/usr/bin/env bash
# Installs the independent Sparkplug B codecs the cross-decode tests compare against:
# - Eclipse Tahu JS (npm sparkplug-payload) into tests/interop/node/node_modules, from package-lock.json;
# - pysparkplug (PyPI) into its own venv, tests/interop/pysparkplug/.venv (its pins clash with ours);
# - the aiospb host application (PyPI, Python >= 3.12) into tests/interop/aiospb/.venv, made with the
#   first python3.12 or newer found (on PATH, or installed by pyenv but not selected).
# Never fails the test run: where node/npm or a registry is missing it says so, and the tests that
# need the codec skip with that reason.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${1:-python3}"

node_dir=tests/interop/node
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "note: node/npm not found; the Tahu JS cross-decode tests will be skipped"
elif [ ! -f "$node_dir/node_modules/.package-lock.json" ] \
    || [ "$node_dir/package-lock.json" -nt "$node_dir/node_modules/.package-lock.json" ]; then
  echo "installing sparkplug-payload (Tahu JS) with npm ci into $node_dir"
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error) \
    || echo "note: npm ci failed; the Tahu JS cross-decode tests will be skipped"
fi

py_dir=tests/interop/pysparkplug
stamp="$py_dir/.venv/.installed-stamp"
if [ ! -f "$stamp" ] || [ "$py_dir/requirements.txt" -nt "$stamp" ]; then
  echo "installing pysparkplug into $py_dir/.venv"
  if "$PYTHON" -m venv "$py_dir/.venv" \
      && "$py_dir/.venv/bin/python" -m pip install -q -r "$py_dir/requirements.txt"; then
    touch "$stamp"
  else
    echo "note: pysparkplug could not be installed; its cross-decode tests will be skipped"
  fi
fi

# The path of a runnable Python >= 3.12 interpreter, or nothing. Each candidate is tried by running it:
# a pyenv shim of a version that is not selected exits non-zero, and another user may not read ~root.
find_python312() {
  local cand root
  root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
  for cand in python3.12 python3.13 "$root"/versions/3.1[2-9]*/bin/python3; do
    "$cand" -c 'import sys; assert sys.version_info >= (3, 12); print(sys.executable)' 2>/dev/null && return 0
  done
  return 1
}

aio_dir=tests/interop/aiospb
aio_stamp="$aio_dir/.venv/.installed-stamp"
aio_note="$aio_dir/unavailable.txt"  # why there is no venv: the test's skip reason
if [ ! -f "$aio_stamp" ] || [ "$aio_dir/requirements.txt" -nt "$aio_stamp" ]; then
  rm -f "$aio_note"
  if ! py312="$(find_python312)"; then
    echo "no Python >= 3.12 interpreter found (python3.12, python3.13, pyenv versions) for user $(id -un)" >"$aio_note"
    echo "note: $(cat "$aio_note"); the aiospb host application test will be skipped"
  else
    echo "installing aiospb into $aio_dir/.venv with $py312"
    rm -rf "$aio_dir/.venv"
    if "$py312" -m venv "$aio_dir/.venv" \
        && "$aio_dir/.venv/bin/python" -m pip install -q -r "$aio_dir/requirements.txt"; then
      touch "$aio_stamp"
    else
      rm -rf "$aio_dir/.venv"
      echo "aiospb could not be installed with $py312 (pip install -r $aio_dir/requirements.txt failed)" >"$aio_note"
      echo "note: $(cat "$aio_note"); the aiospb host application test will be skipped"
    fi
  fi
fi
exit 0
