#!/usr/bin/env bash
# Runs the whole backend locally: installs what is missing, starts moto's
# server (DynamoDB, SES, ...) on 127.0.0.1:4566, creates the tables from
# infra/template.yaml, and serves every function with `cargo lambda watch`
# on http://127.0.0.1:9000/lambda-url/<function>/..., and moves messages of
# the fraud-review, webhook and export queues to their workers. Ctrl-C stops
# it all.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash infra/local/install.sh
source infra/local/env.sh "${MOTO_PORT:-4566}"
source infra/local/moto.sh
LAMBDA_PORT="${LAMBDA_PORT:-9000}"
python3 infra/local/sqs_pump.py "$REVIEW_QUEUE_URL" fraud-review-worker "$LAMBDA_PORT" &
PUMP_PID=$!
python3 infra/local/sqs_pump.py "$WEBHOOK_QUEUE_URL" webhook-worker "$LAMBDA_PORT" &
WEBHOOK_PUMP_PID=$!
python3 infra/local/sqs_pump.py "$EXPORT_QUEUE_URL" account-export "$LAMBDA_PORT" &
EXPORT_PUMP_PID=$!
trap 'kill "$PUMP_PID" "$WEBHOOK_PUMP_PID" "$EXPORT_PUMP_PID" 2>/dev/null; [ -n "$MOTO_PID" ] && kill "$MOTO_PID" 2>/dev/null || true' EXIT

env_file=$(write_function_env)
echo "backend: http://127.0.0.1:$LAMBDA_PORT/lambda-url/<login|flags|recharge|kyc-upload|webhook|admin>/..."
echo "review, webhook and export queues are pumped to their worker functions"
echo "make an account an admin: USERS_TABLE=$USERS_TABLE AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL cargo run -q -p login --bin promote-admin -- <email>"
env $(secret_unset_flags) cargo lambda watch -A 127.0.0.1 -P "$LAMBDA_PORT" --env-file "$env_file"
