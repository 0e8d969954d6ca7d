#!/usr/bin/env bash
# Builds every function for Lambda exactly as the deploy does: `sam build`
# with the template's cargo-lambda builder (BuildMethod rust-cargolambda, a
# beta feature), which runs `cargo lambda build --release --arm64 --bin <Binary>`
# for each function (arm64 because the template's Architectures says so) and
# puts the result in .aws-sam/build/<LogicalId>/bootstrap, the directory
# `sam deploy` zips and uploads. Then prints each artefact's zip and binary
# size and checks that every binary is an aarch64 executable.
# Installs cargo-lambda and zig (PyPI), aws-sam-cli (.local/sam) and Rust's
# aarch64 target if missing.
# Usage: infra/build_lambdas.sh [dev|prod]   (the samconfig.toml environment; default dev)
set -euo pipefail
cd "$(dirname "$0")/.."
STAGE="${1:-dev}"

command -v cargo-lambda >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check cargo-lambda
command -v zig >/dev/null 2>&1 || python3 -c 'import ziglang' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check ziglang
# cargo-lambda cross-compiles to arm64 with zig against Rust's aarch64 std.
if command -v rustup >/dev/null 2>&1 \
  && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu
fi
if [ ! -x .local/sam/bin/sam ]; then
  echo "installing aws-sam-cli (into .local/sam)"
  mkdir -p .local
  python3 -m venv .local/sam
  .local/sam/bin/pip install --quiet --disable-pip-version-check aws-sam-cli
fi

started=$(date +%s)
SAM_CLI_TELEMETRY=0 .local/sam/bin/sam build --config-env "$STAGE" --beta-features
echo "sam build took $(( $(date +%s) - started )) s"

.local/sam/bin/python - <<'PY'
import io
import os
import sys
import zipfile

sys.path.insert(0, "tests")
from check_template import load_yaml  # the CloudFormation YAML reader

template = load_yaml("infra/template.yaml")
architectures = template.get("Globals", {}).get("Function", {}).get("Architectures", ["x86_64"])
expected_machine = {"arm64": 0xB7, "x86_64": 0x3E}[architectures[0]]
rows, problems = [], []
for logical_id, resource in sorted(template["Resources"].items()):
    if resource["Type"] != "AWS::Serverless::Function":
        continue
    binary = resource["Metadata"]["BuildProperties"]["Binary"]
    path = f".aws-sam/build/{logical_id}/bootstrap"
    if not os.path.isfile(path):
        problems.append(f"{logical_id}: {path} is missing")
        continue
    with open(path, "rb") as handle:
        header = handle.read(20)
    machine = int.from_bytes(header[18:20], "little")
    if header[:4] != b"\x7fELF" or machine != expected_machine:
        problems.append(f"{logical_id}: {path} is not a {architectures[0]} ELF executable")
    # What `sam deploy` uploads: the build directory, zipped.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, _, files in os.walk(os.path.dirname(path)):
            for name in files:
                full = os.path.join(root, name)
                archive.write(full, os.path.relpath(full, os.path.dirname(path)))
    rows.append((binary, len(buffer.getvalue()), os.path.getsize(path)))
print(f"| function ({architectures[0]}) | zip | binary |")
print("|---|---|---|")
for binary, zipped, size in sorted(rows):
    print(f"| {binary} | {zipped / 1048576:.1f} MiB | {size / 1048576:.1f} MiB |")
if problems:
    sys.exit("\n".join(problems))
PY
