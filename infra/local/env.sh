# Environment of the local run and the tests: fake credentials, the AWS
# stand-in's endpoint, table names as the bootstrap creates them, and a
# signing key generated once per checkout (kept in .local/, never committed).
# Usage: source infra/local/env.sh [moto-port]

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MOTO_PORT="${1:-${MOTO_PORT:-4566}}"
mkdir -p "$ROOT/.local"
if [ ! -s "$ROOT/.local/jwt-signing-key" ]; then
  python3 -c 'import secrets; print(secrets.token_urlsafe(48))' > "$ROOT/.local/jwt-signing-key"
  chmod 600 "$ROOT/.local/jwt-signing-key"
fi

export AWS_ACCESS_KEY_ID=local-fake-access-key
export AWS_SECRET_ACCESS_KEY=local-fake-secret-key
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL="http://127.0.0.1:${MOTO_PORT}"
export STACK_NAME=local
export USERS_TABLE=local-users
export SESSIONS_TABLE=local-sessions
export COUNTERS_TABLE=local-counters
export FLAGS_TABLE=local-flags
export AUDIT_TABLE=local-audit
export WALLET_TABLE=local-wallet
export REVIEW_QUEUE_URL="http://127.0.0.1:${MOTO_PORT}/123456789012/local-review"
export WEBHOOKS_TABLE=local-webhooks
export WEBHOOK_QUEUE_URL="http://127.0.0.1:${MOTO_PORT}/123456789012/local-webhook"
export WEBHOOK_PROVIDERS=stripe=stripe
if [ ! -s "$ROOT/.local/webhook-secret" ]; then
  python3 -c 'import secrets; print("whsec_" + secrets.token_hex(24))' > "$ROOT/.local/webhook-secret"
  chmod 600 "$ROOT/.local/webhook-secret"
fi
export WEBHOOK_SECRETS_STRIPE="$(cat "$ROOT/.local/webhook-secret")"
export REVIEW_DLQ_URL="http://127.0.0.1:${MOTO_PORT}/123456789012/local-review-dlq"
export KYC_TABLE=local-kyc
export KYC_BUCKET=local-kyc-documents
export KYC_SSE=AES256
if [ ! -s "$ROOT/.local/pii-key" ]; then
  python3 -c 'import base64, secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())' > "$ROOT/.local/pii-key"
  chmod 600 "$ROOT/.local/pii-key"
fi
export PII_KEYS="local1:$(cat "$ROOT/.local/pii-key")"
export PII_ACTIVE_KEY_ID=local1
export FLAGS_TTL_SECONDS=10
export JWT_SECRET="$(cat "$ROOT/.local/jwt-signing-key")"
export JWT_ISSUER=http://127.0.0.1:9000
export JWT_AUDIENCE=wallet-app
export ADMIN_CIDRS=127.0.0.0/8,::1/128
export ADMIN_TOTP_REQUIRED=true
export AUTH_IP_LIMIT_PER_MINUTE=20
export MAIL_FROM=no-reply@wallet.local
export REVIEWER_EMAILS=fraud-team@wallet.local
export LOG_LEVEL=info

# The variables the functions read, for `cargo lambda watch --env-file`.
write_function_env() {
  local file="$ROOT/.local/functions.env"
  : > "$file"
  chmod 600 "$file"
  for var in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_ENDPOINT_URL \
    USERS_TABLE SESSIONS_TABLE COUNTERS_TABLE FLAGS_TABLE AUDIT_TABLE FLAGS_TTL_SECONDS WALLET_TABLE REVIEW_QUEUE_URL WEBHOOKS_TABLE WEBHOOK_QUEUE_URL WEBHOOK_PROVIDERS WEBHOOK_SECRETS_STRIPE JWT_SECRET JWT_ISSUER JWT_AUDIENCE \
    KYC_TABLE KYC_BUCKET KYC_SSE PII_KEYS PII_ACTIVE_KEY_ID \
    ADMIN_CIDRS ADMIN_TOTP_REQUIRED AUTH_IP_LIMIT_PER_MINUTE MAIL_FROM REVIEWER_EMAILS LOG_LEVEL; do
    printf '%s="%s"\n' "$var" "${!var}" >> "$file"
  done
  echo "$file"
}
