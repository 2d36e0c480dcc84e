#!/usr/bin/env bash
# Installs the independent Sparkplug B codecs the cross-decode tests compare against:
# - Eclipse Tahu JS (npm sparkplug-payload) into tests/interop/node/node_modules, from package-lock.json;
# - pysparkplug (PyPI) into its own venv, tests/interop/pysparkplug/.venv (its pins clash with ours).
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
exit 0
