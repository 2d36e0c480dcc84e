#!/usr/bin/env bash
# Regenerates wire/sparkplug/_generated/ from wire/sparkplug/sparkplug_b.proto with the protoc that
# grpcio-tools bundles, plus typed stubs from mypy-protobuf. The generator runs in a throwaway venv
# so that its own protobuf pin never constrains the project's. The generated files are committed;
# SOURCE.sha256 records which .proto they came from (a test checks it).
#
#   scripts/gen-sparkplug-proto.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${1:-python3}"
# The bundled protoc decides the gencode version, and so the floor of the protobuf runtime
# (pyproject.toml): grpcio-tools 1.74.0 bundles protoc 31.1, whose gencode needs protobuf >= 6.31.1.
GRPCIO_TOOLS="grpcio-tools==1.74.0"
MYPY_PROTOBUF="mypy-protobuf==5.1.0"
SRC=wire/sparkplug
OUT=wire/sparkplug/_generated

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q "$GRPCIO_TOOLS" "$MYPY_PROTOBUF"
mkdir -p "$tmp/out"
PATH="$tmp/venv/bin:$PATH" "$tmp/venv/bin/python" -m grpc_tools.protoc \
  --proto_path="$SRC" --python_out="$tmp/out" --mypy_out="$tmp/out" "$SRC/sparkplug_b.proto"

for f in sparkplug_b_pb2.py sparkplug_b_pb2.pyi; do
  # Generated code follows protoc's style, not ours: the linter skips it, the formatter normalises it.
  # (mypy-protobuf's flake8-pyi markers name rules ruff does not know, so they go.)
  { echo "# ruff: noqa"; sed 's/  # noqa: Y015$//' "$tmp/out/$f"; } > "$OUT/$f"
done
# The layering test holds the codec pure, the generated module included (below protoc's coding line).
sed -i '2a # layering: pure' "$OUT/sparkplug_b_pb2.py"
sha256sum "$SRC/sparkplug_b.proto" | cut -d' ' -f1 > "$OUT/SOURCE.sha256"
if [ -x .venv/bin/ruff ]; then .venv/bin/ruff format -q "$OUT"; fi
echo "regenerated $OUT from $SRC/sparkplug_b.proto ($("$tmp/venv/bin/python" -m grpc_tools.protoc --version))"
