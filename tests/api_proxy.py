#!/usr/bin/env python3
"""Serves the REST API's paths (as in infra/openapi.yaml) on one base URL by
forwarding each request to its function under `cargo lambda watch`
(`/lambda-url/<function>/<path>`), as API Gateway does in AWS. Used by the
API conformance run (schemathesis).
Usage: api_proxy.py LISTEN_PORT WATCH_PORT
"""

import json
import sys
import urllib.error
import urllib.request
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


def main():
    listen, watch = int(sys.argv[1]), int(sys.argv[2])

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def forward(self):
            function = next((f for prefix, f in ROUTES if self.path.startswith(prefix)), None)
            if function is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if body and not is_binary(self.headers.get("Content-Type", "")) and not is_utf8(body):
                # cargo lambda watch cannot put such a body in a text event and
                # answers 500 itself; the functions' own answer (400) to
                # non-UTF-8 JSON is tested in tests/tests/attacks_input.rs.
                payload = json.dumps({"error": {"code": "VALIDATION_FAILED",
                                                "message": "The body is not UTF-8 text.",
                                                "request_id": "api-proxy"}}).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            request = urllib.request.Request(
                f"http://127.0.0.1:{watch}/lambda-url/{function}{self.path}",
                data=body,
                method=self.command,
                headers={k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP},
            )
            try:
                response = urllib.request.urlopen(request, timeout=120)
            except urllib.error.HTTPError as err:
                response = err
            payload = response.read()
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
