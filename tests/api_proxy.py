#!/usr/bin/env python3
"""Serves the REST API's paths (as in infra/openapi.yaml) on one base URL by
forwarding each request to its function under `cargo lambda watch`
(`/lambda-url/<function>/<path>`), as API Gateway does in AWS. Used by the
API conformance run (schemathesis).

It also keeps the run honest:
- it counts, per function, the answers that came from the function (they
  carry the functions' `x-request-id`; its router's "No such route." does
  not count) apart from its own refusals and `cargo lambda watch`'s (which
  answers CORS preflights itself), and how many of them got past
  authentication (not 401); GET /_proxy/stats answers the counts, and
  `--check` fails when a function answered too few requests (MIN_ANSWERS);
- an `Idempotency-Key` of FRESH_KEY is replaced by a new key per request, so
  recharges are not all replays of the first;
- a logout carrying the conformance user's token (USER_FILE, written by
  tests/conformance_user.py) is sent with a session of its own, signed in
  for it, so the fuzzed logout does not revoke the token every other
  request uses; the requests that end every session of an account ("sign
  out everywhere else", a password change) are sent with the session of a
  throwaway account made for them.

Usage: api_proxy.py LISTEN_PORT WATCH_PORT [USER_FILE]
       api_proxy.py --check PROXY_URL [USER_FILE]
"""

import json
import re
import sys
import threading
import urllib.error
import urllib.request
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROUTES = [
    ("/v1/auth/", "login"),
    ("/v1/flags", "flags"),
    ("/v1/wallet", "recharge"),
    ("/v1/webhooks/", "webhook"),
    ("/v1/kyc/", "kyc-upload"),
]
BINARY_MEDIA_TYPES = ("multipart/form-data",)


def is_binary(content_type):
    return content_type.split(";")[0].strip().lower() in BINARY_MEDIA_TYPES


def is_utf8(body):
    try:
        body.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}

FRESH_KEY = "conformance-fresh-key"
LOGOUT = "/v1/auth/logout"
# Requests that end every session of the account they are sent for.
ENDS_EVERY_SESSION = {("DELETE", "/v1/auth/sessions"), ("POST", "/v1/auth/password/change")}

# Fewest requests each function must have answered itself in a conformance
# run, and fewest of those past authentication. Measured (schemathesis
# 4.32.5, deterministic generation, the default CONFORMANCE_EXAMPLES=15,
# two runs alike), as requests / answered by the function / past auth:
#   login 72/54/47, flags 3/2/2, recharge 64/45/45, webhook 15/15/15,
#   kyc-upload 18/16/16
# (the rest: CORS preflights cargo lambda watch answers itself, and non-UTF-8
# bodies the proxy refuses). The thresholds are about 80 % of that, so small
# spec changes pass, and a run whose requests stop before the functions (a
# wrong route, a revoked shared token, a proxy or emulator refusing) fails.
# A run with fewer CONFORMANCE_EXAMPLES may fall below them.
MIN_ANSWERS = {
    "login": (43, 37),
    "flags": (2, 2),
    "recharge": (36, 36),
    "webhook": (12, 12),
    "kyc-upload": (12, 12),
}


def error_body(code, message):
    return json.dumps({"error": {"code": code, "message": message,
                                 "request_id": "api-proxy"}}).encode()


def no_such_route(status, payload):
    """The functions' router refusing a path it does not serve."""
    if status != 404:
        return False
    try:
        return json.loads(payload)["error"]["message"] == "No such route."
    except (ValueError, KeyError, TypeError):
        return False


def check(base, user_file=None):
    """Prints the counts and fails when a function answered too few requests
    or, with USER_FILE, when the conformance user's token no longer works
    (something the run sent revoked it)."""
    with urllib.request.urlopen(f"{base}/_proxy/stats", timeout=60) as response:
        stats = json.loads(response.read())
    short = []
    if user_file is not None:
        with open(user_file) as f:
            token = json.load(f)["token"]
        me = urllib.request.Request(f"{base}/v1/auth/me", headers={
            "Authorization": f"Bearer {token}", "X-Device-Id": "conformance-device-01"})
        try:
            with urllib.request.urlopen(me, timeout=60) as response:
                status = response.status
        except urllib.error.HTTPError as err:
            status = err.code
        print(f"the run's shared token after the run: GET /v1/auth/me answers {status}")
        if status != 200:
            short.append("the shared token (revoked during the run)")
    for function, (min_answered, min_past_auth) in MIN_ANSWERS.items():
        answered = stats["answered"].get(function, 0)
        past_auth = stats["past_auth"].get(function, 0)
        print(f"{function}: {stats['requests'].get(function, 0)} requests, "
              f"{answered} answered by the function (at least {min_answered}), "
              f"{past_auth} past authentication (at least {min_past_auth})")
        if answered < min_answered or past_auth < min_past_auth:
            short.append(function)
    print(f"not forwarded or not answered by a function: {stats['not_answered']}")
    if short:
        print(f"too few requests reached: {', '.join(short)}")
        sys.exit(1)


def main():
    if sys.argv[1] == "--check":
        check(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
        return
    listen, watch = int(sys.argv[1]), int(sys.argv[2])
    user_file = sys.argv[3] if len(sys.argv) > 3 else None
    lock = threading.Lock()
    stats = {"requests": Counter(), "answered": Counter(), "past_auth": Counter(),
             "not_answered": Counter()}

    def count(kind, key):
        with lock:
            stats[kind][key] += 1

    def conformance_user():
        if user_file is None:
            return None
        try:
            with open(user_file) as f:
                return json.load(f)
        except FileNotFoundError:
            return None

    def own_session(headers):
        """A fresh access token of the conformance user, or None."""
        user = conformance_user()
        request = urllib.request.Request(
            f"http://127.0.0.1:{watch}/lambda-url/login/v1/auth/login",
            data=json.dumps({"email": user["email"], "password": user["password"]}).encode(),
            method="POST",
            headers={"Content-Type": "application/json",
                     "X-Device-Id": headers.get("X-Device-Id") or "conformance-device-01"},
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read())["access_token"]
        except (urllib.error.HTTPError, KeyError, ValueError):
            return None

    def throwaway_session(headers):
        """An access token of a new account made for one request, or None."""
        device = headers.get("X-Device-Id") or ""
        if not re.fullmatch(r"[A-Za-z0-9._:-]{8,128}", device):
            device = "conformance-device-01"
        credentials = {"email": f"throwaway-{uuid.uuid4().hex[:12]}@example.test",
                       "password": "violet tangerine 42"}
        try:
            for path in ("register", "login"):
                request = urllib.request.Request(
                    f"http://127.0.0.1:{watch}/lambda-url/login/v1/auth/{path}",
                    data=json.dumps(credentials).encode(),
                    method="POST",
                    headers={"Content-Type": "application/json", "X-Device-Id": device},
                )
                with urllib.request.urlopen(request, timeout=120) as response:
                    reply = response.read()
            return json.loads(reply)["access_token"]
        except (urllib.error.HTTPError, KeyError, ValueError):
            return None

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def refuse(self, status, payload, reason):
            count("not_answered", reason)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def forward(self):
            if self.path == "/_proxy/stats" and self.command == "GET":
                with lock:
                    payload = json.dumps(stats).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            function = next((f for prefix, f in ROUTES if self.path.startswith(prefix)), None)
            if function is None:
                count("not_answered", "no such path (proxy)")
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            count("requests", function)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if body and not is_binary(self.headers.get("Content-Type", "")) and not is_utf8(body):
                # cargo lambda watch cannot put such a body in a text event and
                # answers 500 itself; the functions' own answer (400) to
                # non-UTF-8 JSON is tested in tests/tests/attacks_input.rs.
                self.refuse(400, error_body("VALIDATION_FAILED", "The body is not UTF-8 text."),
                            "non-UTF-8 body (proxy)")
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            for name in headers:
                if name.lower() == "idempotency-key" and headers[name] == FRESH_KEY:
                    headers[name] = f"conformance-{uuid.uuid4()}"
            user = conformance_user()
            path = self.path.split("?")[0].rstrip("/")
            as_user = user is not None and any(
                k.lower() == "authorization" and v == f"Bearer {user['token']}"
                for k, v in headers.items())
            if as_user and (self.command, path) in ENDS_EVERY_SESSION:
                token = throwaway_session(headers)
                if token is None:
                    self.refuse(429, error_body("RATE_LIMITED", "No account for this request."),
                                "ends every session, no throwaway account (proxy)")
                    return
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
                headers["Authorization"] = f"Bearer {token}"
            elif as_user and self.command == "POST" and path == LOGOUT:
                token = own_session(headers)
                if token is None:
                    self.refuse(429, error_body("RATE_LIMITED", "No session for this logout."),
                                "logout without a session of its own (proxy)")
                    return
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
                headers["Authorization"] = f"Bearer {token}"
            request = urllib.request.Request(
                f"http://127.0.0.1:{watch}/lambda-url/{function}{self.path}",
                data=body,
                method=self.command,
                headers=headers,
            )
            try:
                response = urllib.request.urlopen(request, timeout=120)
            except urllib.error.HTTPError as err:
                response = err
            payload = response.read()
            if response.headers.get("x-request-id") and not no_such_route(response.status, payload):
                count("answered", function)
                if response.status != 401:
                    count("past_auth", function)
            elif response.headers.get("x-request-id"):
                count("not_answered", f"no such route ({function})")
            else:
                count("not_answered", f"{response.status} from cargo lambda watch")
            self.send_response(response.status)
            for name, value in response.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = forward

    ThreadingHTTPServer(("127.0.0.1", listen), Proxy).serve_forever()


if __name__ == "__main__":
    main()
