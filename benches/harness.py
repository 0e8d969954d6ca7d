#!/usr/bin/env python3
"""Measures every function's release binary the way Lambda runs it.

A local implementation of the Lambda Runtime API (`/2018-06-01/runtime/...`)
hands events to the binary; the binary talks to the local AWS stand-in
(AWS_ENDPOINT_URL). Measured per function:
- cold start: process start → first `invocation/next` (init) and → first
  response (first invoke), over COLD_STARTS starts (median, max);
- warm handler time per route on the stand-in (event handed out → response
  posted), p50 and p99 over many invocations;
- round trips per route (requests the stand-in received, by service);
- peak RSS of the process after its warm runs (VmHWM).
Writes JSON to the path given (benches/run.sh renders BENCHMARKS.md).
Usage (after `source infra/local/env.sh`): harness.py OUT.json
"""

import base64
import hashlib
import hmac
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COLD_STARTS = int(os.environ.get("BENCH_COLD_STARTS", "20"))
WARM_RUNS = int(os.environ.get("BENCH_WARM_RUNS", "200"))
BIN = os.path.join("target", "release")
DEVICE = "bench-device-0001"


class Runtime:
    """One Lambda Runtime API endpoint for one function process."""

    def __init__(self):
        self.events = queue.Queue()
        self.responses = queue.Queue()
        self.first_next = None
        runtime = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Small writes must leave at once: with Nagle's algorithm and
            # delayed ACKs each exchange would wait ~40 ms.
            disable_nagle_algorithm = True
            wbufsize = -1

            def log_message(self, *args):
                pass

            def do_GET(self):
                if not self.path.endswith("/invocation/next"):
                    self.send_error(404)
                    return
                if runtime.first_next is None:
                    runtime.first_next = time.perf_counter()
                request_id, body = runtime.events.get()
                runtime.handed_out = time.perf_counter()
                payload = body.encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                done = time.perf_counter()
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                self.wfile.flush()
                runtime.responses.put((done, self.path, body))

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                """A killed function drops its pending `next` poll: expected."""

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def invoke(self, event):
        """Hands out one event; returns (handler seconds, response JSON)."""
        self.events.put((str(uuid.uuid4()), json.dumps(event)))
        done, path, body = self.responses.get(timeout=60)
        if path.endswith("/error"):
            raise RuntimeError(f"invocation error: {body[:300]!r}")
        return done - self.handed_out, json.loads(body or b"null")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def stand_in_calls():
    with urllib.request.urlopen(os.environ["AWS_ENDPOINT_URL"] + "/_stand_in/calls") as r:
        return json.loads(r.read())


def start(function, runtime):
    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime.port}",
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "LOG_LEVEL": "warn",
        # The bench signs in far more often than a person from one address.
        "AUTH_IP_LIMIT_PER_MINUTE": "1000000",
        # Scores for a brand-new bench account would block every recharge;
        # the bench measures the allowed path.
        "FRAUD_REVIEW_AT": "99",
        "FRAUD_BLOCK_AT": "100",
        # Fifty recharges of one bench account pass any age threshold; the
        # bench measures the allowed path, not the age-check refusal.
        "AGE_CHECK_ABOVE": "100000000",
    })
    started = time.perf_counter()
    process = subprocess.Popen([os.path.join(BIN, function)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, started


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


# ---------- events ----------

def load_event(name):
    with open(os.path.join("events", f"{name}.json")) as handle:
        return json.load(handle)


def rest(name, body=None, token=None, headers=None, path=None):
    event = load_event(name)
    event["headers"] = {k: v for k, v in event["headers"].items() if k.lower() != "authorization"}
    event["headers"]["X-Device-Id"] = DEVICE
    if token:
        event["headers"]["Authorization"] = f"Bearer {token}"
    if body is not None:
        event["body"] = json.dumps(body)
        event["isBase64Encoded"] = False
        event["headers"]["Content-Type"] = "application/json"
    if path:
        event["path"] = path
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    event["headers"].update(headers or {})
    return event


def stripe_event(recharge_id):
    secret = os.environ["WEBHOOK_SECRETS_STRIPE"].split(",")[0]
    body = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": "payment_intent.succeeded",
                       "data": {"object": {"amount": 2000, "currency": "eur",
                                           "metadata": {"recharge_id": recharge_id}}}})
    stamp = int(time.time())
    signature = hmac.new(secret.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    event = load_event("webhook-stripe")
    event["body"] = body
    event["isBase64Encoded"] = False
    event["headers"]["Stripe-Signature"] = f"t={stamp},v1={signature}"
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    return event


def kyc_event(token, birth="1990-04-12"):
    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
    boundary = f"----bench{uuid.uuid4().hex}"
    parts = []
    for name, value in [("document_type", "passport"), ("issuing_country", "FR"),
                        ("date_of_birth", birth), ("document_number", "12AB34567")]:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="front"; filename="f.png"\r\nContent-Type: image/png\r\n\r\n'.encode() + png + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    event = rest("kyc-upload-submit", token=token,
                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    event["body"] = base64.b64encode(b"".join(parts)).decode()
    event["isBase64Encoded"] = True
    return event


def sqs_batch(name, body):
    event = load_event(name)
    record = event["Records"][0]
    record["messageId"] = str(uuid.uuid4())
    record["body"] = json.dumps(body)
    event["Records"] = [record]
    return event


# ---------- scenarios ----------

class Session:
    """A user signed in through the login function (its real token)."""

    def __init__(self, login):
        self.email = f"bench-{uuid.uuid4().hex[:12]}@example.test"
        self.password = "violet tangerine 42"
        login.invoke(rest("login-register", {"email": self.email, "password": self.password}))
        _, reply = login.invoke(rest("login-login", {"email": self.email, "password": self.password}))
        pair = json.loads(reply["body"])
        self.token, self.refresh = pair["access_token"], pair["refresh_token"]


def routes(function, state):
    """(route name, event maker, runs) for the warm measurements of `function`."""
    runs = WARM_RUNS
    if function == "login":
        def register():
            return rest("login-register", {"email": f"b-{uuid.uuid4().hex}@example.test", "password": "violet tangerine 42"})

        def login():
            return rest("login-login", {"email": state["session"].email, "password": state["session"].password})

        def me():
            return rest("login-me", token=state["session"].token)

        def refresh():
            return rest("login-refresh", {"refresh_token": state["session"].refresh})
        return [("POST /v1/auth/register", register, 30), ("POST /v1/auth/login", login, 30),
                ("POST /v1/auth/refresh", refresh, runs), ("GET /v1/auth/me", me, runs)]
    if function == "flags":
        return [("GET /v1/flags", lambda: rest("flags-get"), runs)]
    if function == "recharge":
        def recharge():
            return rest("recharge-start", {"amount": 500, "currency": "EUR", "provider": "stripe"},
                        token=state["session"].token, headers={"Idempotency-Key": str(uuid.uuid4())})
        return [("GET /v1/wallet", lambda: rest("recharge-wallet", token=state["session"].token), runs),
                ("POST /v1/wallet/recharge", recharge, 50)]
    if function == "webhook":
        return [("POST /v1/webhooks/stripe", lambda: stripe_event(f"rc_bench_{uuid.uuid4().hex[:8]}"), runs)]
    if function == "webhook-worker":
        def credit():
            recharge_id = state["recharges"].pop()
            return sqs_batch("fraud-review-worker-batch", {
                "provider": "stripe", "event_id": f"evt_{uuid.uuid4().hex}", "kind": "payment_succeeded",
                "recharge_id": recharge_id, "amount": 500, "currency": "EUR",
                "received_at": int(time.time())})
        credits = min(50, len(state.get("recharges", [])) - COLD_STARTS)
        return [("SQS payment_succeeded (credit)", credit, max(credits, 1))]
    if function == "fraud-review-worker":
        def review():
            return sqs_batch("fraud-review-worker-batch", {"recharge_id": f"rc_missing_{uuid.uuid4().hex[:8]}", "user_id": "nobody"})
        return [("SQS review message (unknown recharge)", review, 50)]
    if function == "kyc-upload":
        def submit():
            return kyc_event(Session(state["login"]).token)
        return [("GET /v1/kyc/status", lambda: rest("kyc-upload-status", token=state["session"].token), runs),
                ("POST /v1/kyc/submissions", submit, 10)]
    if function == "admin":
        return [("GET /admin/flags (no token: 401)", lambda: load_event("admin-flags-list"), runs)]
    if function == "kyc-retention":
        return [("scheduled sweep", lambda: load_event("kyc-retention-tick"), 50)]
    return []


def first_event(function, state):
    made = routes(function, state)
    return made[0][1]() if made else {}


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def measure(function, state):
    result = {"function": function, "cold_starts": COLD_STARTS}
    inits, firsts = [], []
    for _ in range(COLD_STARTS):
        runtime = Runtime()
        event = first_event(function, state)
        runtime.events.put((str(uuid.uuid4()), json.dumps(event)))
        process, started = start(function, runtime)
        done, path, _ = runtime.responses.get(timeout=120)
        inits.append((runtime.first_next - started) * 1000)
        firsts.append((done - started) * 1000)
        process.kill()
        process.wait()
        runtime.close()
    result["init_ms"] = {"median": statistics.median(inits), "max": max(inits)}
    result["first_invoke_ms"] = {"median": statistics.median(firsts), "max": max(firsts)}

    runtime = Runtime()
    process, _ = start(function, runtime)
    if function == "login":
        state["login"] = runtime
        state["session"] = Session(runtime)
    result["routes"] = []
    for name, make, runs in routes(function, state):
        times, trips = [], []
        for _ in range(runs):
            event = make()
            before = stand_in_calls()
            seconds, reply = runtime.invoke(event)
            after = stand_in_calls()
            times.append(seconds * 1000)
            trips.append({k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)})
            if name == "POST /v1/auth/refresh" and reply.get("statusCode") == 200:
                pair = json.loads(reply["body"])
                state["session"].token, state["session"].refresh = pair["access_token"], pair["refresh_token"]
            if name == "POST /v1/wallet/recharge" and reply.get("statusCode") == 201:
                state.setdefault("recharges", []).append(json.loads(reply["body"])["recharge_id"])
        status = reply.get("statusCode") if isinstance(reply, dict) else None
        typical = max(trips, key=lambda t: trips.count(t)) if trips else {}
        result["routes"].append({"route": name, "runs": runs, "status": status,
                                 "p50_ms": percentile(times, 0.5), "p99_ms": percentile(times, 0.99),
                                 "mean_ms": statistics.mean(times), "calls": typical})
    result["peak_rss_mib"] = peak_rss_kib(process.pid) / 1024
    if function != "login":
        process.kill()
        process.wait()
        runtime.close()
    else:
        state["login_process"] = process
    return result


def main():
    out = sys.argv[1]
    order = ["login", "flags", "recharge", "webhook", "webhook-worker", "fraud-review-worker",
             "kyc-upload", "admin", "kyc-retention"]
    state = {}
    results = []
    for function in order:
        if function != "login" and "session" not in state:
            raise SystemExit("login must run first (it signs the bench user in)")
        print(f"measuring {function} ...", flush=True)
        results.append(measure(function, state))
    if "login_process" in state:
        state["login_process"].kill()
    with open(out, "w") as handle:
        json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
