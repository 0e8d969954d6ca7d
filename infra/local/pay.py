#!/usr/bin/env python3
"""Pays a recharge in the local sandbox: signs a Stripe `payment_intent.succeeded`
event for it with the local webhook secret and posts it to the webhook
function under `cargo lambda watch`, as Stripe would.
Usage (after `source infra/local/env.sh`): pay.py RECHARGE_ID AMOUNT CURRENCY [PORT]
"""

import hashlib
import hmac
import json
import os
import sys
import time
import urllib.request
import uuid


def main():
    recharge_id, amount, currency = sys.argv[1], int(sys.argv[2]), sys.argv[3].lower()
    port = sys.argv[4] if len(sys.argv) > 4 else "9000"
    secret = os.environ["WEBHOOK_SECRETS_STRIPE"].split(",")[0]
    body = json.dumps({
        "id": f"evt_{uuid.uuid4().hex}",
        "type": "payment_intent.succeeded",
        "data": {"object": {"amount": amount, "currency": currency, "metadata": {"recharge_id": recharge_id}}},
    })
    stamp = int(time.time())
    signature = hmac.new(secret.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/lambda-url/webhook/v1/webhooks/stripe",
        data=body.encode(),
        headers={"Content-Type": "application/json", "Stripe-Signature": f"t={stamp},v1={signature}"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        print(response.status, response.read().decode())


if __name__ == "__main__":
    main()
