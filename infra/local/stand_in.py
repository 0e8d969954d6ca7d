#!/usr/bin/env python3
"""The local AWS stand-in: moto's server, with requests applied one at a time.

moto checks a write's conditions and applies it without a lock, so two
concurrent conditional writes can both pass where DynamoDB lets only one.
Serialising requests gives the stand-in DynamoDB's per-request atomicity,
which the race tests rely on; connections are still accepted concurrently.
Usage: stand_in.py HOST PORT
"""

import os
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


class Serialized:
    """WSGI middleware running one request at a time, response included."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            return list(self.app(environ, start_response))


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, Serialized(app), threaded=True)


if __name__ == "__main__":
    main()
