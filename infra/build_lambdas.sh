#!/usr/bin/env bash
# Builds every function for Lambda (arm64, release) as the deploy does, and
# prints each zip's size. Installs cargo-lambda and zig (from PyPI) if missing.
# Output: target/lambda/<function>/bootstrap.zip
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-lambda >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check cargo-lambda
command -v zig >/dev/null 2>&1 || python3 -c 'import ziglang' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check ziglang

cargo lambda build --release --arm64 --output-format zip \
  $(for crate in functions/*/; do printf -- '-p %s ' "$(basename "$crate")"; done)

python3 - <<'PY'
import os, zipfile
print("| function | zip | binary |")
print("|---|---|---|")
for name in sorted(os.listdir("functions")):
    path = f"target/lambda/{name}/bootstrap.zip"
    unpacked = sum(info.file_size for info in zipfile.ZipFile(path).infolist())
    print(f"| {name} | {os.path.getsize(path) / 1048576:.1f} MiB | {unpacked / 1048576:.1f} MiB |")
PY
