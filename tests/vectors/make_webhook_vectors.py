#!/usr/bin/env python3
"""Writes webhook_vectors.json: signatures made by the providers' official
libraries (PyPI `stripe` and `standardwebhooks`), which the Rust verifiers
must accept. Re-run after changing the cases:
  pip install stripe standardwebhooks && python3 tests/vectors/make_webhook_vectors.py
The secrets below are test-only values, not real provider secrets.
"""

import base64
import datetime
import json
import os

from standardwebhooks.webhooks import Webhook
from stripe import WebhookSignature

HERE = os.path.dirname(os.path.abspath(__file__))
TIMESTAMP = 1_900_000_000
STRIPE_SECRET = "whsec_test_only_stripe_0123456789abcdef"
STANDARD_SECRET = "whsec_" + base64.b64encode(b"test-only-standard-webhooks-key!").decode()
BODIES = [
    '{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","amount":2000}}}',
    '{"id": "evt_2", "type": "charge.refunded", "note": "spaces, unicode \u00e9\u2713 and \\"escapes\\""}',
    "{}",
]


def stripe_cases():
    for body in BODIES:
        header = WebhookSignature.generate_signature_header(body, STRIPE_SECRET, TIMESTAMP)
        WebhookSignature.verify_header(body, header, STRIPE_SECRET, tolerance=None)
        yield {"body": body, "header": header, "timestamp": TIMESTAMP}


def standard_cases():
    wh = Webhook(STANDARD_SECRET)
    at = datetime.datetime.fromtimestamp(TIMESTAMP, tz=datetime.timezone.utc)
    for i, body in enumerate(BODIES):
        msg_id = f"msg_{i}"
        signature = wh.sign(msg_id, at, body)
        yield {"body": body, "id": msg_id, "timestamp": TIMESTAMP, "signature": signature}


def main():
    vectors = {
        "stripe": {"secret": STRIPE_SECRET, "cases": list(stripe_cases())},
        "standard": {"secret": STANDARD_SECRET, "cases": list(standard_cases())},
    }
    with open(os.path.join(HERE, "webhook_vectors.json"), "w") as out:
        json.dump(vectors, out, indent=2, ensure_ascii=False)
        out.write("\n")


if __name__ == "__main__":
    main()
