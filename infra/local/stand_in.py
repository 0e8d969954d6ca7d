#!/usr/bin/env python3
"""The local AWS stand-in: moto's server, with requests applied one at a time.

moto checks a write's conditions and applies it without a lock, so two
concurrent conditional writes can both pass where DynamoDB lets only one.
Serialising requests gives the stand-in DynamoDB's per-request atomicity,
which the race tests rely on; connections are still accepted concurrently.
It also counts requests per service: GET /_stand_in/calls answers
{"dynamodb:GetItem": n, "sqs": n, "ses": n, "s3": n, ...} (the benchmark harness
reads it around each invocation to count round trips).

Faults for the fault-injection tests: POST /_stand_in/faults with
{"service": "dynamodb:TransactWriteItems", "match": "<text in the request
body>", "mode": ..., "times": n, "seconds": s} makes the next n matching
requests misbehave. Matching on body text scopes a fault to one test's own
keys, so tests running at the same time are not touched. Modes:
  throttle     the service's throttling error (DynamoDB
               ProvisionedThroughputExceededException, SQS/SES throttling,
               S3 SlowDown), which the SDK retries with backoff
  fail         HTTP 500, a transient server error
  stall_drop   hold the request s seconds, then fail it unapplied (a caller
               that timed out in between never learns)
  stall_apply  hold the request s seconds, then apply it (the write lands
               after its caller gave up: a lost response)
  cancel       (TransactWriteItems) TransactionCanceledException, not
               applied, with "code" (default TransactionConflict; or
               ThrottlingError, ...) at item "position" (default 0) and None
               at the other items, as DynamoDB cancels for a conflict
  conflict     (PutItem/UpdateItem/DeleteItem) TransactionConflictException,
               not applied: the item was inside a pending transaction
  apply_fail   apply the request, then answer HTTP 500 (a write that landed
               but whose answer was lost; the SDK sends it again)
TransactWriteItems honours ClientRequestToken as DynamoDB does (moto ignores
it): within 10 minutes of an applied transaction, the same token with the
same request answers the first answer without applying again, and with
another request IdempotentParameterMismatchException.
  unprocessed  (BatchGetItem) only the request's first key read, every other
               key answered in UnprocessedKeys (a one-key request: its key),
               as DynamoDB does under throughput or size limits
  reject       (ses) MessageRejected, not sent: what the SES sandbox answers
               for a recipient that is not a verified identity
  deny         (ses) AccessDeniedException naming the recipient's identity,
               not sent: what the sandbox answers a role not allowed to send
               to that recipient
SES: moto ignores a SendEmail's ConfigurationSetName; the stand-in answers
NotFoundException for a set that does not exist (as SES does) and records
the set each message was sent under: GET /_stand_in/mail?to=<address>
answers {"configuration_sets": [name or null, ...]}, oldest first.
Items past their TTL: moto never deletes them (it only records the TTL
setting), so an item written with a past `ttl` stays readable, as DynamoDB
keeps expired items for up to two days; no mode is needed.
GET /_stand_in/faults?match=<text> answers {"used": n}, the requests they hit;
DELETE /_stand_in/faults clears them (?match=<text>: only those with that match).
Usage: stand_in.py HOST PORT
"""

import io
import json
import os
import sys
import threading
import time
from collections import Counter
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def service_of(environ):
    """The AWS service a request is for, from its target header or signature scope."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target.startswith("DynamoDB"):
        return "dynamodb:" + target.split(".", 1)[-1]
    if target.startswith("AmazonSQS"):
        return "sqs"
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        if len(scope) >= 4:
            return "ses" if scope[3] in ("ses", "email") else scope[3]
    if "X-Amz-Credential=" in environ.get("QUERY_STRING", ""):
        return "s3-presigned"
    return "other"


def throttling_error(service):
    """Status, headers and body of the service's throttling answer."""
    if service.startswith("dynamodb:"):
        kind = "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
        body = json.dumps({"__type": kind, "message": "Rate of requests exceeds the allowed throughput."})
        return "400 Bad Request", [("Content-Type", "application/x-amz-json-1.0")], body
    if service == "sqs":
        body = json.dumps({"__type": "com.amazonaws.sqs#ThrottlingException", "message": "Rate exceeded"})
        return "400 Bad Request", [("Content-Type", "application/x-amz-json-1.0")], body
    if service == "ses":
        body = json.dumps({"message": "Maximum sending rate exceeded."})
        return "429 Too Many Requests", [("Content-Type", "application/json"), ("x-amzn-ErrorType", "TooManyRequestsException")], body
    body = "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
    return "503 Slow Down", [("Content-Type", "application/xml")], body


def cancelled_transaction(body, code, position):
    """A TransactionCanceledException with `code` at item `position` only."""
    try:
        count = len(json.loads(body or b"{}").get("TransactItems", []))
    except ValueError:
        count = 0
    reasons = [{"Code": code, "Message": "Transaction is ongoing for the item"} if i == position else {"Code": "None"}
               for i in range(max(count, position + 1))]
    codes = ", ".join(r["Code"] for r in reasons)
    body = json.dumps({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "Message": f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
        "CancellationReasons": reasons,
    })
    return "400 Bad Request", [("Content-Type", "application/x-amz-json-1.0")], body


def transaction_conflict():
    """A single write refused because its item is inside a pending transaction."""
    body = json.dumps({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionConflictException",
        "message": "Transaction is ongoing for the item",
    })
    return "400 Bad Request", [("Content-Type", "application/x-amz-json-1.0")], body


def split_batch_get(body):
    """A BatchGetItem request with every key but its first moved out: the
    request to apply (None when nothing is left) and the UnprocessedKeys."""
    request = json.loads(body or b"{}")
    tables = request.get("RequestItems", {})
    total = sum(len(spec.get("Keys", [])) for spec in tables.values())
    kept, moved = {}, {}
    for table, spec in tables.items():
        keys = spec.get("Keys", [])
        keep = 1 if total > 1 and keys and not kept else 0
        if keep:
            kept[table] = dict(spec, Keys=keys[:1])
        if keys[keep:]:
            moved[table] = dict(spec, Keys=keys[keep:])
    request["RequestItems"] = kept
    return (request if kept else None), moved


class RequestTokens:
    """ClientRequestTokens of applied transactions, kept 10 minutes."""

    WINDOW_SECONDS = 600

    def __init__(self):
        self.seen = {}

    @staticmethod
    def parse(body):
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return None, None
        token = request.pop("ClientRequestToken", None)
        return token, json.dumps(request, sort_keys=True)

    def replay(self, body):
        """The answer to a repeat of an applied transaction, else None."""
        token, request = self.parse(body)
        now = time.time()
        self.seen = {k: v for k, v in self.seen.items() if v[0] > now}
        if token is None or token not in self.seen:
            return None
        _, first_request, first_reply = self.seen[token]
        headers = [("Content-Type", "application/x-amz-json-1.0")]
        if first_request == request:
            return "200 OK", headers, first_reply
        body = json.dumps({
            "__type": "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
            "message": "The request uses the same client token as a previous, but non-identical request.",
        })
        return "400 Bad Request", headers, body

    def record(self, body, status, reply):
        token, request = self.parse(body)
        if token is not None and status.startswith("200"):
            self.seen[token] = (time.time() + self.WINDOW_SECONDS, request, reply.decode())


def message_rejected():
    """SES's refusal of a recipient the sandbox has not verified."""
    body = json.dumps({"message": "Email address is not verified. The following identities failed the check: (injected)"})
    return "400 Bad Request", [("Content-Type", "application/json"), ("x-amzn-ErrorType", "MessageRejected")], body


def access_denied(body):
    """IAM's refusal, which names the recipient identity as SES words it."""
    try:
        to = json.loads(body or b"{}").get("Destination", {}).get("ToAddresses", ["?"])[0]
    except (ValueError, IndexError, AttributeError):
        to = "?"
    message = f"User is not authorized to perform `ses:SendEmail' on resource `arn:aws:ses:us-east-1:123456789012:identity/{to}'"
    return "403 Forbidden", [("Content-Type", "application/json"), ("x-amzn-ErrorType", "AccessDeniedException")], json.dumps({"message": message})


def configuration_set_missing(name):
    body = json.dumps({"message": f"Configuration set <{name}> does not exist."})
    return "404 Not Found", [("Content-Type", "application/json"), ("x-amzn-ErrorType", "NotFoundException")], body


def configuration_set_exists(environ, name):
    """Whether moto's SES backend for the request's region holds the set."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    auth = environ.get("HTTP_AUTHORIZATION", "")
    scope = auth.split("Credential=", 1)[-1].split(",", 1)[0].split("/")
    region = scope[2] if len(scope) >= 4 else "us-east-1"
    return name in ses_backends[DEFAULT_ACCOUNT_ID][region].config_sets


def server_error(service):
    if service.startswith("dynamodb:") or service == "sqs":
        body = json.dumps({"__type": "InternalServerError", "message": "Internal server error (injected)."})
        return "500 Internal Server Error", [("Content-Type", "application/x-amz-json-1.0")], body
    return "500 Internal Server Error", [("Content-Type", "application/json"), ("x-amzn-ErrorType", "InternalFailure")], "{}"


class Faults:
    """Pending injected faults, matched by service and body text."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pending = []

    def add(self, fault):
        fault.setdefault("times", 1)
        fault.setdefault("seconds", 0)
        fault.setdefault("match", "")
        fault["used"] = 0
        if fault.get("mode") not in ("throttle", "fail", "stall_drop", "stall_apply", "cancel", "conflict", "apply_fail", "unprocessed", "reject", "deny"):
            raise ValueError("mode must be throttle, fail, stall_drop, stall_apply, cancel, conflict, apply_fail, unprocessed, reject or deny")
        with self.lock:
            self.pending.append(fault)

    def used(self, match):
        """How many requests the faults with `match` have hit so far."""
        with self.lock:
            return sum(f["used"] for f in self.pending if f["match"] == match)

    def clear(self, match=None):
        with self.lock:
            self.pending = [f for f in self.pending if match is not None and f["match"] != match]

    def take(self, service, body):
        """The fault for this request, if one is pending (and counts it)."""
        text = body.decode("utf-8", "replace")
        with self.lock:
            for fault in self.pending:
                if fault["service"] == service and fault["match"] in text and fault["times"] > 0:
                    fault["times"] -= 1
                    fault["used"] += 1
                    return dict(fault)
        return None


def answer(start_response, status, headers, body):
    start_response(status, headers)
    return [body.encode()]


class Serialized:
    """WSGI middleware running one request at a time, response included,
    counting requests per service and injecting the faults asked for."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.calls = Counter()
        self.faults = Faults()
        self.tokens = RequestTokens()
        self.mail = []

    def control(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        if environ.get("PATH_INFO") == "/_stand_in/calls":
            return answer(start_response, "200 OK", [("Content-Type", "application/json")], json.dumps(self.calls))
        if environ.get("PATH_INFO") == "/_stand_in/mail":
            to = parse_qs(environ.get("QUERY_STRING", "")).get("to", [""])[0]
            with self.lock:
                sets = [m["configuration_set"] for m in self.mail if to in m["to"]]
            return answer(start_response, "200 OK", [("Content-Type", "application/json")], json.dumps({"configuration_sets": sets}))
        if method == "GET":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            used = self.faults.used(query.get("match", [""])[0])
            return answer(start_response, "200 OK", [("Content-Type", "application/json")], json.dumps({"used": used}))
        if method == "DELETE":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            self.faults.clear(query["match"][0] if "match" in query else None)
            return answer(start_response, "204 No Content", [], "")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            self.faults.add(json.loads(environ["wsgi.input"].read(length)))
        except (ValueError, KeyError, TypeError) as err:
            return answer(start_response, "400 Bad Request", [("Content-Type", "text/plain")], str(err))
        return answer(start_response, "204 No Content", [], "")

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/_stand_in/"):
            return self.control(environ, start_response)
        service = service_of(environ)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        fault = self.faults.take(service, body)
        if fault is not None:
            mode = fault["mode"]
            if mode == "throttle":
                return answer(start_response, *throttling_error(service))
            if mode == "fail":
                return answer(start_response, *server_error(service))
            if mode == "cancel":
                reason = cancelled_transaction(body, fault.get("code", "TransactionConflict"), fault.get("position", 0))
                return answer(start_response, *reason)
            if mode == "conflict":
                return answer(start_response, *transaction_conflict())
            if mode == "apply_fail":
                self.apply(environ, lambda *args: (lambda data: None), service, body)
                return answer(start_response, *server_error(service))
            if mode == "unprocessed":
                return self.partly_processed(environ, start_response, service, body)
            if mode == "reject":
                return answer(start_response, *message_rejected())
            if mode == "deny":
                return answer(start_response, *access_denied(body))
            time.sleep(fault["seconds"])
            if mode == "stall_drop":
                return answer(start_response, *server_error(service))
        if service == "ses" and environ.get("PATH_INFO") == "/v2/email/outbound-emails":
            return self.send_email(environ, start_response, service, body)
        return self.apply(environ, start_response, service, body)

    def send_email(self, environ, start_response, service, body):
        """An SESv2 SendEmail: its configuration set must exist; recorded."""
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = {}
        name = request.get("ConfigurationSetName")
        if name is not None and not configuration_set_exists(environ, name):
            return answer(start_response, *configuration_set_missing(name))
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"] = status
            return start_response(status, headers, exc_info)

        reply = self.apply(environ, capture, service, body)
        if captured.get("status", "").startswith("200"):
            to = request.get("Destination", {}).get("ToAddresses", [])
            with self.lock:
                self.mail.append({"to": to, "configuration_set": name})
        return reply

    def apply(self, environ, start_response, service, body):
        """Applies a request under the lock; a TransactWriteItems whose
        ClientRequestToken was applied already is answered, not applied."""
        with self.lock:
            self.calls[service] += 1
            if service != "dynamodb:TransactWriteItems":
                return list(self.app(environ, start_response))
            replay = self.tokens.replay(body)
            if replay is not None:
                return answer(start_response, *replay)
            captured = {}

            def capture(status, headers, exc_info=None):
                captured["status"] = status
                return start_response(status, headers, exc_info)

            reply = list(self.app(environ, capture))
            self.tokens.record(body, captured.get("status", ""), b"".join(reply))
            return reply

    def partly_processed(self, environ, start_response, service, body):
        """Applies a BatchGetItem to its first key only; the rest unprocessed."""
        request, moved = split_batch_get(body)
        answered = {"Responses": {}}
        if request is not None:
            text = json.dumps(request).encode()
            environ["wsgi.input"] = io.BytesIO(text)
            environ["CONTENT_LENGTH"] = str(len(text))
            captured = {}

            def capture(status, headers, exc_info=None):
                captured["status"] = status
                return lambda data: None

            with self.lock:
                self.calls[service] += 1
                reply = b"".join(self.app(environ, capture))
            if not captured["status"].startswith("200"):
                return answer(start_response, captured["status"], [("Content-Type", "application/x-amz-json-1.0")], reply.decode())
            answered = json.loads(reply)
        answered["UnprocessedKeys"] = moved
        return answer(start_response, "200 OK", [("Content-Type", "application/x-amz-json-1.0")], json.dumps(answered))


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, Serialized(app), threaded=True)


if __name__ == "__main__":
    main()
