#!/usr/bin/env bash
# Smoke test of a stack: the README walk-through (with a throwaway account
# and a random password made for this run, never printed),
# a flag lookup, and read-only admin calls through wallet-admin (flags list,
# audit verify), with PASS/FAIL per step; exits non-zero when a step fails.
#
#   infra/smoke.sh <stack-name>   a deployed stage: URLs and region from the
#                                 stack outputs ApiUrl, AdminUrl, Region
#                                 (python3 + boto3, the usual AWS credentials)
#   infra/smoke.sh --local        the local stack: cargo lambda watch on
#                                 127.0.0.1:$LAMBDA_PORT (9000) and the stand-in
#                                 (infra/local/up.sh, or tests/run.sh)
#
# The admin step of a deployed stage uses the session of wallet-admin profile
# $WALLET_ADMIN_PROFILE (default: the stack name) signed in beforehand:
#   wallet-admin --profile <stack> login --api-url <ApiUrl> --admin-url <AdminUrl>
# or signs in when WALLET_ADMIN_EMAIL, WALLET_ADMIN_PASSWORD and a TOTP code
# (WALLET_ADMIN_TOTP_CODE, or WALLET_ADMIN_TOTP_SECRET to compute it) are set:
# then in a temporary config directory (removed on exit), signing out at the
# end, so no session is left behind. Secrets travel in the environment or on
# stdin, never in process arguments.
# AWS credentials for SigV4 and for reading the stack come from the standard
# chain (AWS_PROFILE, SSO, ...); AWS_REGION names the stack's region.
#
# The walk-through verifies its address with the token of the welcome
# email: locally read from the stand-in (infra/local/sent_mail.py); against
# a deployed stage set MAILBOX to a command that prints the newest
# verification token sent to an address (for example one reading the
# team's test inbox), with SMOKE_EMAIL_DOMAIN that inbox's domain.
#
# Locally it makes its own admin: registers a throwaway account, promotes it
# (promote-admin), enrols TOTP with codes computed here (RFC 6238, Python
# stdlib), and signs in through wallet-admin with the next code (a used time
# step is refused), in a temporary config directory.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

usage() { echo "usage: infra/smoke.sh <stack-name> | --local" >&2; exit 2; }
[ $# -eq 1 ] || usage
MODE="$1"
case "$MODE" in -h|--help) usage ;; esac

RUN_ID="$(date +%s)-$RANDOM"
EMAIL_DOMAIN="${SMOKE_EMAIL_DOMAIN:-example.com}"
WALK_EMAIL="smoke-walk-${RUN_ID}@${EMAIL_DOMAIN}"
# Not the README's published password: the account stays on the stage.
WALK_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
RESULTS=()
FAILED=0

# A temporary wallet-admin config directory (sessions), removed on exit.
SMOKE_CONFIG=""
cleanup() { if [ -n "$SMOKE_CONFIG" ]; then rm -rf "$SMOKE_CONFIG"; fi; }
trap cleanup EXIT
use_temporary_config() {
  SMOKE_CONFIG=$(mktemp -d) || return 1
  export XDG_CONFIG_HOME="$SMOKE_CONFIG"
}

step() {
  local name="$1"; shift
  echo "== $name"
  if "$@"; then
    RESULTS+=("PASS  $name")
  else
    RESULTS+=("FAIL  $name")
    FAILED=1
  fi
}

report() {
  echo
  echo "== smoke test report ($MODE)"
  printf '%s\n' "${RESULTS[@]}"
  if [ "$FAILED" -ne 0 ]; then
    echo "smoke test FAILED"
    exit 1
  fi
  echo "smoke test passed"
}

# TOTP (RFC 6238: SHA-1, 6 digits, 30 s) for a base32 secret, at the time
# step `offset` steps from now. Independent of the backend's implementation.
# The secret reaches Python in its environment, not in its arguments.
totp() {
  SMOKE_TOTP_SECRET="$1" python3 - "${2:-0}" <<'PY'
import base64, hashlib, hmac, os, struct, sys, time
secret, offset = os.environ["SMOKE_TOTP_SECRET"], int(sys.argv[1])
key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
counter = int(time.time()) // 30 + offset
digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
start = digest[-1] & 0x0F
code = (struct.unpack(">I", digest[start:start + 4])[0] & 0x7FFFFFFF) % 1_000_000
print(f"{code:06d}")
PY
}

# Seconds until the next 30 s TOTP step begins.
seconds_to_next_step() {
  python3 -c 'import time; print(30 - int(time.time()) % 30 + 1)'
}

# The wallet-admin binary, built once.
WALLET_ADMIN=""
build_tool() {
  cargo build -q -p wallet-admin || return 1
  local target="${CARGO_TARGET_DIR:-$ROOT/target}"
  WALLET_ADMIN="$target/debug/wallet-admin"
  [ -x "$WALLET_ADMIN" ]
}

walkthrough() {
  WALKTHROUGH_PASSWORD="$WALK_PASSWORD" \
    python3 tests/readme_walkthrough.py README.md "$LOGIN_BASE" --email "$WALK_EMAIL"
}

flag_lookup() {
  python3 - "$FLAGS_URL" <<'PY'
import json, sys, urllib.request
request = urllib.request.Request(sys.argv[1], headers={"X-Device-Id": "smoke-test-0001"})
with urllib.request.urlopen(request, timeout=900) as reply:
    body = json.load(reply)
    assert reply.status == 200, reply.status
assert isinstance(body.get("version"), int) and isinstance(body.get("flags"), dict), body
print(f"GET /v1/flags: 200, snapshot version {body['version']}, {len(body['flags'])} public flags")
PY
}

admin_read_only() {
  "$WALLET_ADMIN" --profile "$ADMIN_PROFILE" --admin-url "$ADMIN_URL" flags list || return 1
  local verify
  verify=$("$WALLET_ADMIN" --profile "$ADMIN_PROFILE" --admin-url "$ADMIN_URL" --json audit verify) || return 1
  echo "$verify"
  python3 -c 'import json, sys; r = json.loads(sys.argv[1]); sys.exit(0 if r.get("intact") is True else "the audit chain is broken")' "$verify"
}

# Locally only: a flag's whole life through the tool (create, read, kill,
# restore, delete with the version read), then the audit chain again.
admin_writes() {
  local tool=("$WALLET_ADMIN" --profile "$ADMIN_PROFILE" --admin-url "$ADMIN_URL")
  local key="smoke.flag-${RUN_ID}" body version verify
  body=$(mktemp)
  python3 -c 'import json, sys; b = json.loads(json.load(open("events/admin-flags-create.json"))["body"]); b["key"] = sys.argv[1]; print(json.dumps(b))' "$key" > "$body"
  "${tool[@]}" flags create --file "$body" || return 1
  rm -f "$body"
  "${tool[@]}" flags kill "$key" || return 1
  "${tool[@]}" flags restore "$key" || return 1
  version=$("${tool[@]}" --json flags get "$key" | python3 -c 'import json, sys; f = json.load(sys.stdin); assert f["killed"] is False; print(f["version"])') || return 1
  "${tool[@]}" flags delete "$key" --version "$version" || return 1
  if "${tool[@]}" flags get "$key" >/dev/null 2>&1; then
    echo "flag $key still there after delete"; return 1
  fi
  verify=$("${tool[@]}" --json audit verify) || return 1
  python3 -c 'import json, sys; r = json.loads(sys.argv[1]); sys.exit(0 if r["intact"] and r["entries"] >= 4 else f"audit: {r}")' "$verify" || return 1
  "${tool[@]}" audit list --limit 4
}

# --- a deployed stage -------------------------------------------------------
deployed() {
  local outputs
  outputs=$(python3 - "$MODE" <<'PY'
import os, sys
import boto3
region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
try:
    cloudformation = boto3.client("cloudformation", region_name=region)
    stack = cloudformation.describe_stacks(StackName=sys.argv[1])["Stacks"][0]
except Exception as err:  # no credentials, no region, no such stack: one line
    sys.exit(f"describe_stacks {sys.argv[1]}: {err}")
outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
api = outputs.get("ApiUrl")
admin = outputs.get("AdminUrl") or outputs.get("AdminFunctionUrl")
region = outputs.get("Region") or stack["StackId"].split(":")[3]
if not api or not admin:
    sys.exit(f"stack {sys.argv[1]} lacks the outputs ApiUrl and AdminUrl: {sorted(outputs)}")
print(api.rstrip("/"), admin.rstrip("/"), region)
PY
  ) || { echo "cannot read the outputs of stack $MODE"; return 1; }
  read -r API_URL ADMIN_URL REGION <<< "$outputs"
  LOGIN_BASE="$API_URL/v1/auth"
  FLAGS_URL="$API_URL/v1/flags"
  # One API base serves every function (the walk-through's default is the
  # local layout, a URL prefix per function).
  export KYC="$API_URL/v1/kyc"
  ADMIN_PROFILE="${WALLET_ADMIN_PROFILE:-$MODE}"
  export AWS_REGION="${AWS_REGION:-$REGION}"
  echo "stack $MODE: API $API_URL, admin $ADMIN_URL, region $REGION"
}

deployed_admin() {
  build_tool || return 1
  if [ -z "${WALLET_ADMIN_EMAIL:-}" ] || [ -z "${WALLET_ADMIN_PASSWORD:-}" ]; then
    # The operator's own session, signed in beforehand: left as it is.
    admin_read_only
    return
  fi
  local code="${WALLET_ADMIN_TOTP_CODE:-}"
  if [ -z "$code" ] && [ -n "${WALLET_ADMIN_TOTP_SECRET:-}" ]; then
    code=$(totp "$WALLET_ADMIN_TOTP_SECRET")
  fi
  [ -n "$code" ] || { echo "set WALLET_ADMIN_TOTP_CODE or WALLET_ADMIN_TOTP_SECRET"; return 1; }
  # A session of its own, in a directory removed on exit, and signed out
  # (revoked) at the end: no refresh token is left in ~/.config/wallet-admin.
  use_temporary_config || return 1
  # The password from WALLET_ADMIN_PASSWORD, the TOTP code on stdin.
  printf '%s\n' "$code" | "$WALLET_ADMIN" --profile "$ADMIN_PROFILE" --api-url "$API_URL" \
    --admin-url "$ADMIN_URL" --region "$REGION" login --email "$WALLET_ADMIN_EMAIL" || return 1
  local status=0
  admin_read_only || status=1
  "$WALLET_ADMIN" --profile "$ADMIN_PROFILE" logout || status=1
  return "$status"
}

# --- the local stack --------------------------------------------------------
local_stack() {
  if [ -z "${USERS_TABLE:-}" ]; then
    # shellcheck source=/dev/null
    source infra/local/env.sh "${MOTO_PORT:-4566}" >/dev/null
  fi
  local port="${LAMBDA_PORT:-9000}"
  API_URL="http://127.0.0.1:$port/lambda-url/login"
  LOGIN_BASE="$API_URL/v1/auth"
  FLAGS_URL="http://127.0.0.1:$port/lambda-url/flags/v1/flags"
  ADMIN_URL="http://127.0.0.1:$port/lambda-url/admin"
  ADMIN_PROFILE="smoke-local"
  # The first request to each function compiles it under cargo lambda watch.
  export WALLET_ADMIN_TIMEOUT_SECONDS="${WALLET_ADMIN_TIMEOUT_SECONDS:-900}"
}

# Register, promote, enrol TOTP; prints "email password secret".
make_local_admin() {
  local email="smoke-admin-${RUN_ID}@${EMAIL_DOMAIN}"
  local password
  password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
  SMOKE_PASSWORD="$password" python3 - "$LOGIN_BASE" "$email" <<'PY' >&2 || return 1
import json, os, sys, urllib.error, urllib.request
base, email = sys.argv[1:]
password = os.environ["SMOKE_PASSWORD"]
request = urllib.request.Request(
    base + "/register", method="POST",
    data=json.dumps({"email": email, "password": password}).encode(),
    headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(request, timeout=900) as reply:
        assert reply.status == 202, reply.status
except urllib.error.HTTPError as err:
    sys.exit(f"/register: {err.code} {err.read().decode()}")
print(f"registered {email}")
PY
  cargo run -q -p login --bin promote-admin -- "$email" >&2 || return 1
  local secret
  secret=$(SMOKE_PASSWORD="$password" python3 - "$LOGIN_BASE" "$email" <<'PY'
import json, os, sys, urllib.error, urllib.request
base, email = sys.argv[1:]
password = os.environ["SMOKE_PASSWORD"]
device = "smoke-enrol-0001"
def call(path, body, token=None):
    headers = {"Content-Type": "application/json", "X-Device-Id": device}
    if token:
        headers["Authorization"] = "Bearer " + token
    request = urllib.request.Request(base + path, method="POST",
                                     data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=900) as reply:
            return json.load(reply)
    except urllib.error.HTTPError as err:
        sys.exit(f"{path}: {err.code} {err.read().decode()}")
token = call("/login", {"email": email, "password": password})["access_token"]
enrolment = call("/totp/enroll", {}, token)
print(enrolment["secret"])
print(token)
PY
  ) || return 1
  local totp_secret token code
  totp_secret=$(echo "$secret" | sed -n 1p)
  token=$(echo "$secret" | sed -n 2p)
  code=$(totp "$totp_secret")
  SMOKE_TOKEN="$token" SMOKE_PASSWORD="$password" python3 - "$LOGIN_BASE" "$code" <<'PY' >&2 || return 1
import json, os, sys, urllib.error, urllib.request
base, code = sys.argv[1:]
token = os.environ["SMOKE_TOKEN"]
body = {"password": os.environ["SMOKE_PASSWORD"], "code": code}
request = urllib.request.Request(
    base + "/totp/confirm", method="POST", data=json.dumps(body).encode(),
    headers={"Content-Type": "application/json", "X-Device-Id": "smoke-enrol-0001",
             "Authorization": "Bearer " + token})
try:
    with urllib.request.urlopen(request, timeout=900) as reply:
        confirmed = json.load(reply)
        # The backup codes are secrets: counted, never printed.
        print("TOTP enrolled:", confirmed.get("totp_enabled"),
              f"({len(confirmed.get('backup_codes', []))} backup codes, not shown)")
except urllib.error.HTTPError as err:
    sys.exit(f"/totp/confirm: {err.code} {err.read().decode()}")
PY
  echo "$email" "$password" "$totp_secret"
}

local_admin() {
  build_tool || return 1
  local made email password totp_secret wait code
  made=$(make_local_admin) || return 1
  read -r email password totp_secret <<< "$(echo "$made" | tail -n 1)"
  # The code that confirmed the enrolment has used its time step: sign in
  # with the next one.
  wait=$(seconds_to_next_step)
  echo "waiting ${wait}s for the next TOTP time step"
  sleep "$wait"
  code=$(totp "$totp_secret")
  use_temporary_config || return 1
  printf '%s\n' "$code" | WALLET_ADMIN_PASSWORD="$password" "$WALLET_ADMIN" \
    --profile "$ADMIN_PROFILE" --api-url "$API_URL" --admin-url "$ADMIN_URL" \
    login --email "$email" || return 1
  local status=0
  admin_read_only || status=1
  admin_writes || status=1
  "$WALLET_ADMIN" --profile "$ADMIN_PROFILE" logout || status=1
  return "$status"
}

if [ "$MODE" = "--local" ]; then
  local_stack
  step "README walk-through ($WALK_EMAIL)" walkthrough
  step "flag lookup (GET /v1/flags)" flag_lookup
  step "admin through wallet-admin (sign-in with TOTP, flags list, audit verify, a flag created, killed, restored and deleted)" local_admin
else
  if ! deployed; then
    RESULTS+=("FAIL  stack outputs")
    FAILED=1
    report
  fi
  step "README walk-through ($WALK_EMAIL)" walkthrough
  step "flag lookup (GET /v1/flags)" flag_lookup
  step "admin through wallet-admin (flags list, audit verify; profile $ADMIN_PROFILE)" deployed_admin
fi
report
