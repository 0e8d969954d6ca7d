# Environment of the local run and the tests: fake credentials, the AWS
# stand-in's endpoint, table names as the bootstrap creates them, and keys
# generated once per checkout (kept in .local/, never committed). The tests
# read the keys from here; the functions read them as in AWS, from the
# stand-in's Secrets Manager (SECRET_IDS; the bootstrap stores them there).
# Usage: source infra/local/env.sh [moto-port]

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MOTO_PORT="${1:-${MOTO_PORT:-4566}}"
mkdir -p "$ROOT/.local"
if [ ! -s "$ROOT/.local/jwt-signing-key.pem" ]; then
  (umask 077 && python3 -c '
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
print(Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM,
      serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode(), end="")
' > "$ROOT/.local/jwt-signing-key.pem")
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
export EXPORT_QUEUE_URL="http://127.0.0.1:${MOTO_PORT}/123456789012/local-export"
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
if [ ! -s "$ROOT/.local/audit-hmac-key" ]; then
  python3 -c 'import base64, secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())' > "$ROOT/.local/audit-hmac-key"
  chmod 600 "$ROOT/.local/audit-hmac-key"
fi
export AUDIT_HMAC_KEYS="{\"local1\": \"$(cat "$ROOT/.local/audit-hmac-key")\"}"
export AUDIT_HMAC_KID=local1
# A local chain starts keyed: no unkeyed legacy entry verifies.
export AUDIT_LEGACY_MAX_SEQ="${AUDIT_LEGACY_MAX_SEQ:-0}"
export FLAGS_TTL_SECONDS=10
export JWT_SIGNING_KID=local-1
export JWT_SIGNING_KEY="$(cat "$ROOT/.local/jwt-signing-key.pem")"
JWT_PUBLIC_KEYS="$(python3 -c '
import base64, json, sys
from cryptography.hazmat.primitives import serialization
key = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None).public_key()
x = base64.urlsafe_b64encode(key.public_bytes(serialization.Encoding.Raw,
    serialization.PublicFormat.Raw)).rstrip(b"=").decode()
print(json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": sys.argv[2], "x": x,
                            "alg": "EdDSA", "use": "sig"}]}))
' "$ROOT/.local/jwt-signing-key.pem" "$JWT_SIGNING_KID")"
export JWT_PUBLIC_KEYS
export JWT_ISSUER=http://127.0.0.1:9000
export JWT_AUDIENCE=wallet-app
export ADMIN_CIDRS=127.0.0.0/8,::1/128
export ADMIN_TOTP_REQUIRED=true
export ADMIN_SESSION_MAX_HOURS=12
# The emulator's function URLs do not sign; in AWS the template sets AWS_IAM.
export ADMIN_URL_AUTH=NONE
export AUTH_IP_LIMIT_PER_MINUTE=20
# Every local caller is 127.0.0.1: room for the test runs' reset requests.
export RECOVERY_IP_LIMIT_PER_HOUR=1000
export MAIL_FROM=no-reply@wallet.local
export MAIL_CONFIGURATION_SET=local-mail
export REVIEWER_EMAILS=fraud-team@wallet.local
export LOG_LEVEL=info

# The secrets the bootstrap stores in the stand-in's Secrets Manager, each a
# JSON object of the variables it supplies; the functions read them from there.
export LOCAL_SECRETS="$STACK_NAME/jwt-signing-key=JWT_SIGNING_KID,JWT_SIGNING_KEY;$STACK_NAME/jwt-public-keys=JWT_PUBLIC_KEYS;$STACK_NAME/webhook-secrets=WEBHOOK_SECRETS_STRIPE;$STACK_NAME/pii-keys=PII_KEYS,PII_ACTIVE_KEY_ID;$STACK_NAME/audit-hmac-keys=AUDIT_HMAC_KEYS,AUDIT_HMAC_KID"
SECRET_VARS="JWT_SIGNING_KID JWT_SIGNING_KEY JWT_PUBLIC_KEYS WEBHOOK_SECRETS_STRIPE PII_KEYS PII_ACTIVE_KEY_ID AUDIT_HMAC_KEYS AUDIT_HMAC_KID"

# `env` flags that drop the secret variables, so the functions that
# `cargo lambda watch` serves take them from Secrets Manager only, as in AWS:
# env $(secret_unset_flags) cargo lambda watch ...
secret_unset_flags() {
  local var
  for var in $SECRET_VARS; do printf -- '-u %s ' "$var"; done
}

# The variables the functions read, for `cargo lambda watch --env-file`.
write_function_env() {
  local file="$ROOT/.local/functions.env"
  : > "$file"
  chmod 600 "$file"
  for var in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_ENDPOINT_URL \
    USERS_TABLE SESSIONS_TABLE COUNTERS_TABLE FLAGS_TABLE AUDIT_TABLE AUDIT_LEGACY_MAX_SEQ FLAGS_TTL_SECONDS WALLET_TABLE REVIEW_QUEUE_URL WEBHOOKS_TABLE WEBHOOK_QUEUE_URL EXPORT_QUEUE_URL WEBHOOK_PROVIDERS JWT_ISSUER JWT_AUDIENCE \
    KYC_TABLE KYC_BUCKET KYC_SSE \
    ADMIN_CIDRS ADMIN_TOTP_REQUIRED ADMIN_SESSION_MAX_HOURS ADMIN_URL_AUTH AUTH_IP_LIMIT_PER_MINUTE RECOVERY_IP_LIMIT_PER_HOUR MAIL_FROM MAIL_CONFIGURATION_SET REVIEWER_EMAILS LOG_LEVEL; do
    printf '%s="%s"\n' "$var" "${!var}" >> "$file"
  done
  local ids=""
  local entry
  IFS=';' read -ra entries <<< "$LOCAL_SECRETS"
  for entry in "${entries[@]}"; do ids="${ids:+$ids,}${entry%%=*}"; done
  printf 'SECRET_IDS="%s"\n' "$ids" >> "$file"
  echo "$file"
}
