#!/usr/bin/env python3
"""Registers, verifies (with the token the stand-in recorded) and signs in a
fresh user through the API and prints its access token (device
`conformance-device-01`), for the conformance run. With
USER_FILE, also writes the user's address, password and that token there
(mode 0600), for tests/api_proxy.py to give a fuzzed logout a session of
its own.
Usage: conformance_user.py BASE_URL [USER_FILE]
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid


def post(url, body):
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-Device-Id": "conformance-device-01"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read() or b"{}")


def wait_for(base, seconds=30):
    """The proxy starts beside this script: wait until it accepts connections."""
    deadline = time.time() + seconds
    while True:
        try:
            urllib.request.urlopen(f"{base}/v1/flags", timeout=60)
            return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, ConnectionError):
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def verify(base, email):
    """Verifies the address with the token the stand-in recorded, so the
    money and identity routes are exercised past the verification gate."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "infra", "local"))
    from sent_mail import newest_token

    endpoint = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566").rstrip("/")
    token = newest_token(endpoint, email, "ev_")
    if token is None:
        sys.exit(f"no verification email reached {email}")
    post(f"{base}/v1/auth/email/verify", {"token": token})


def main():
    base = sys.argv[1]
    wait_for(base)
    credentials = {"email": f"conformance-{uuid.uuid4().hex[:10]}@example.test",
                   "password": "violet tangerine 42"}
    post(f"{base}/v1/auth/register", credentials)
    verify(base, credentials["email"])
    token = post(f"{base}/v1/auth/login", credentials)["access_token"]
    if len(sys.argv) > 2:
        fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({**credentials, "token": token}, f)
    print(token)


if __name__ == "__main__":
    main()
