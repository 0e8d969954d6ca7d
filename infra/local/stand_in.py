#!/usr/bin/env python3
"""The local AWS stand-in: moto's server, with requests applied one at a time.

moto checks a write's conditions and applies it without a lock, so two
concurrent conditional writes can both pass where DynamoDB lets only one.
Serialising requests gives the stand-in DynamoDB's per-request atomicity,
which the race tests rely on; connections are still accepted concurrently.
It also counts requests per service: GET /_stand_in/calls answers
{"dynamodb:GetItem": n, "sqs": n, "ses": n, "s3": n, ...} (the benchmark harness
reads it around each invocation to count round trips).
Usage: stand_in.py HOST PORT
"""

import json
import os
import sys
import threading
from collections import Counter

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


class Serialized:
    """WSGI middleware running one request at a time, response included,
    and counting requests per service."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.calls = Counter()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/_stand_in/calls":
            body = json.dumps(self.calls).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        with self.lock:
            self.calls[service_of(environ)] += 1
            return list(self.app(environ, start_response))


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, Serialized(app), threaded=True)


if __name__ == "__main__":
    main()
