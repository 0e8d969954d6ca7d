#!/usr/bin/env bash
# Runs the whole backend locally: installs what is missing, starts moto's
# server (DynamoDB, SES, ...) on 127.0.0.1:4566, creates the tables from
# infra/template.yaml, and serves every function with `cargo lambda watch`
# on http://127.0.0.1:9000/lambda-url/<function>/... Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash infra/local/install.sh
source infra/local/env.sh "${MOTO_PORT:-4566}"
source infra/local/moto.sh
trap '[ -n "$MOTO_PID" ] && kill "$MOTO_PID" 2>/dev/null || true' EXIT

env_file=$(write_function_env)
echo "backend: http://127.0.0.1:${LAMBDA_PORT:-9000}/lambda-url/login/v1/auth/..."
echo "make an account an admin: USERS_TABLE=$USERS_TABLE AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL cargo run -q -p login --bin promote-admin -- <email>"
cargo lambda watch -A 127.0.0.1 -P "${LAMBDA_PORT:-9000}" --env-file "$env_file"
