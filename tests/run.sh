#!/usr/bin/env bash
# Runs every test: format and lint, the SAM template lint, the README's curl
# walk-through over HTTP against `cargo lambda watch`, then unit, contract
# and end-to-end tests (cargo nextest) against a fresh local AWS stand-in.
# Installs what is missing first. Uses its own ports (moto 4567, functions
# 9100), so it can run beside infra/local/up.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

bash infra/local/install.sh --checks
source infra/local/env.sh "${TEST_MOTO_PORT:-4567}"
LAMBDA_PORT="${TEST_LAMBDA_PORT:-9100}"
WATCH_PID=""
PROXY_PID=""
cleanup() {
  [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null || true
  [ -n "$WATCH_PID" ] && kill -- -"$WATCH_PID" 2>/dev/null || true
  [ -n "$MOTO_PID" ] && kill "$MOTO_PID" 2>/dev/null || true
}
trap cleanup EXIT
source infra/local/moto.sh

echo "== format and lint"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== fuzz targets compile (checked, not run: fuzz/run.sh fuzzes them)"
# Its own workspace, so the workspace build never sees it. Offline: when
# shared's dependencies change, fuzz/Cargo.lock follows from the crates the
# main build fetched (commit it with that change). About 0.3 s when nothing
# changed, seconds after a change to shared, 2 min the first time.
cargo check --offline --quiet --manifest-path fuzz/Cargo.toml --bins --target-dir target

echo "== dependency licenses, bans and sources (cargo deny; advisories: see deny.toml)"
cargo deny check licenses bans sources 2>&1 | tail -n 1

echo "== SAM template: cfn-lint, sam validate, the SAM translator's output, checkov (deliberate skips carry their reason in the template)"
cfn-lint infra/template.yaml
SAM_CLI_TELEMETRY=0 .local/sam/bin/sam validate --template-file infra/template.yaml --region us-east-1
.local/sam/bin/python tests/check_template.py
.local/sam/bin/python tests/check_template.py --self-test
# The gate must refuse the template as it was before it existed (no
# integrations, a second stage); skipped in a clone without that commit.
old_template=$(mktemp -d)
if git show 432aa0a:infra/template.yaml > "$old_template/template.yaml" 2>/dev/null \
  && git show 432aa0a:infra/openapi.yaml > "$old_template/openapi.yaml" 2>/dev/null; then
  .local/sam/bin/python tests/check_template.py --expect-failure "$old_template/template.yaml"
fi
rm -rf "$old_template"
.local/checkov/bin/checkov -f infra/template.yaml --framework cloudformation --compact --quiet --skip-download

echo "== README walk-through over HTTP (cargo lambda watch)"
env_file=$(write_function_env)
# --ignore-changes: a file the run writes in the tree (schemathesis's cache)
# would otherwise restart every function mid-request.
setsid env $(secret_unset_flags) cargo lambda watch --ignore-changes -A 127.0.0.1 -P "$LAMBDA_PORT" --env-file "$env_file" \
  > .local/watch.log 2>&1 &
WATCH_PID=$!
WATCH_PID="$WATCH_PID" python3 tests/readme_walkthrough.py README.md \
  "http://127.0.0.1:${LAMBDA_PORT}/lambda-url/login/v1/auth" || {
  echo "--- cargo lambda watch log"; tail -n 40 .local/watch.log; exit 1; }

echo "== smoke test of the local stack: infra/smoke.sh --local (walk-through, flag lookup, wallet-admin with TOTP)"
WATCH_PID="$WATCH_PID" LAMBDA_PORT="$LAMBDA_PORT" bash infra/smoke.sh --local || {
  echo "--- cargo lambda watch log"; tail -n 40 .local/watch.log; exit 1; }

echo "== API conformance: schemathesis against infra/openapi.yaml (no 5xx)"
PROXY_PORT="${TEST_PROXY_PORT:-9200}"
conformance_dir=$(mktemp -d)
python3 tests/api_proxy.py "$PROXY_PORT" "$LAMBDA_PORT" "$conformance_dir/user.json" &
PROXY_PID=$!
CONFORMANCE_TOKEN=$(python3 tests/conformance_user.py "http://127.0.0.1:${PROXY_PORT}" "$conformance_dir/user.json")
.local/schemathesis/bin/schemathesis run infra/openapi.yaml \
  --url "http://127.0.0.1:${PROXY_PORT}" \
  --checks not_a_server_error,response_schema_conformance \
  --phases examples,fuzzing --max-examples "${CONFORMANCE_EXAMPLES:-15}" \
  --generation-deterministic --request-timeout 60 --workers 1 \
  -H "X-Device-Id: conformance-device-01" -H "Authorization: Bearer ${CONFORMANCE_TOKEN}" \
  -H "Idempotency-Key: conformance-fresh-key" --no-color 2>&1 | tee .local/schemathesis.log | tail -n 15
echo "== requests the functions answered themselves (tests/api_proxy.py --check)"
python3 tests/api_proxy.py --check "http://127.0.0.1:${PROXY_PORT}" "$conformance_dir/user.json"
rm -rf "$conformance_dir"
kill "$PROXY_PID" 2>/dev/null || true
kill -- -"$WATCH_PID" 2>/dev/null || true
WATCH_PID=""

echo "== unit, contract and end-to-end tests"
cargo nextest run --workspace --no-fail-fast
